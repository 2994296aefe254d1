"""Customer analytics: summary, RFM, lifecycle stages, cohorts and KPIs (Ibis over DuckDB)."""
