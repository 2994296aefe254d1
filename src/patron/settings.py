"""Settings: one object, built once (from the environment with prefix PATRON_ and an optional
patron.toml in the working folder), and passed down."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import Field
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


class Settings(BaseSettings):
    """Patron settings. Every field is documented in docs/settings.md."""

    model_config = SettingsConfigDict(env_prefix="PATRON_", toml_file="patron.toml", extra="forbid")

    database_url: str = Field(
        default="sqlite:///patron.db",
        description="SQLAlchemy URL of the operational database (SQLite file or PostgreSQL).",
    )
    database_pool_size: int = Field(
        default=20,
        gt=0,
        description="PostgreSQL connections each process keeps open; the API serves at most this "
        "many requests of a process at once.",
    )
    default_shop: str = Field(default="default", description="Shop used when none is named.")
    default_timezone: str = Field(
        default="Asia/Shanghai", description="Time zone of a shop created without one."
    )
    default_currency: str = Field(
        default="CNY", description="ISO 4217 currency of a shop created without one."
    )
    ingest_chunk_rows: int = Field(
        default=100_000, gt=0, description="Rows read and staged per chunk while ingesting."
    )
    quarantine_dir: Path = Field(
        default=Path("quarantine"), description="Folder for the quarantine files of ingest runs."
    )
    analytics_dir: Path = Field(
        default=Path("analytics"),
        description="Folder for the Parquet copies of each shop's facts that analyses read, and "
        "for DuckDB's spill files.",
    )
    analytics_memory_limit: str = Field(
        default="2GB", description="Memory DuckDB may use for an analysis (e.g. 2GB, 512MB)."
    )
    predict_model: Literal["bgnbd", "pareto_nbd", "mbgnbd"] = Field(
        default="bgnbd",
        description="Purchase model `patron predict` fits when none is named.",
    )
    predict_time_unit: Literal["weeks", "days"] = Field(
        default="weeks", description="Time unit of the purchase model's recency, age and horizon."
    )
    predict_discount_rate: float = Field(
        default=0.10, gt=-1, description="Annual discount rate of the predicted CLV."
    )
    predict_margin: float = Field(
        default=1.0,
        gt=0,
        le=1,
        description="Share of an order's value the predicted CLV counts (1: revenue; the gross "
        "margin gives profit).",
    )
    predict_churn_model: Literal["pattern", "boosted"] = Field(
        default="pattern",
        description="Churn model of the churn risk: pattern (1 − P(a purchase), BG/NBD) or "
        "boosted (gradient-boosted trees trained on the shop's history).",
    )
    predict_churn_horizon_days: int = Field(
        default=90,
        gt=0,
        description="Churn risk: the probability of no purchase in this many days.",
    )
    api_rate_per_second: float = Field(
        default=50.0,
        ge=0,
        description="Requests per second each API key may make on average (0: no limit).",
    )
    api_rate_burst: int = Field(
        default=100, gt=0, description="Requests an API key may make at once before limiting."
    )
    api_max_body_bytes: int = Field(
        default=1_048_576, gt=0, description="Largest request body the API accepts."
    )
    api_key_cache_seconds: float = Field(
        default=2.0,
        ge=0,
        description="How long a server process trusts a verified API key before checking it "
        "again (a key revoked elsewhere is refused after at most this long).",
    )
    api_idempotency_hours: float = Field(
        default=24.0, gt=0, description="How long an Idempotency-Key and its response are kept."
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return (init_settings, env_settings, TomlConfigSettingsSource(settings_cls))
