"""Loyalty programme: rules, points ledger and lots, tiers and benefits, points mall."""
