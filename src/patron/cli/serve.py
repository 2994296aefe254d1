"""`patron serve`: the HTTP API under uvicorn."""

from __future__ import annotations

import os
from typing import Annotated

import typer
import uvicorn

from patron.cli import render
from patron.cli.options import DbOption, build


def serve(
    host: Annotated[str, typer.Option("--host", help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option("--port", help="Port to listen on.")] = 8000,
    workers: Annotated[
        int, typer.Option("--workers", min=1, help="Server processes (use the number of cores).")
    ] = 1,
    db: DbOption = None,
) -> None:
    """Serve the HTTP API (docs at /docs, schema at /openapi.json)."""
    with build(db) as patron:
        patron.require_schema()
        settings = patron.settings
    # Workers build their settings from the environment: pass the database on, and split the
    # per-key rate between the workers, each of which keeps its own buckets.
    os.environ["PATRON_DATABASE_URL"] = settings.database_url
    os.environ["PATRON_API_RATE_PER_SECOND"] = str(settings.api_rate_per_second / workers)
    os.environ["PATRON_API_RATE_BURST"] = str(max(1, settings.api_rate_burst // workers))
    render.errors.print(f"Patron API on http://{host}:{port} (docs: /docs)", highlight=False)
    uvicorn.run(
        "patron.api.app:app_from_environment",
        factory=True,
        host=host,
        port=port,
        workers=workers,
        log_level="warning",
    )
