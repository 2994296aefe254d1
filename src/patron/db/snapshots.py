"""Dated snapshots (analyses, prediction runs) only move forwards in time."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import Connection, Table, func, select

from patron.errors import ConflictError


def refuse_earlier(
    connection: Connection,
    runs: Table,
    shop_id: int,
    as_of: datetime,
    done: str,
    what: str,
    harm: str,
) -> None:
    """Raise :class:`ConflictError` when ``runs`` (a table with shop_id and as_of) holds a run
    of the shop later than ``as_of``: the message reads "this shop was <done> as of <latest>
    already: <what> as of an earlier moment (<as_of>) would <harm>"."""
    latest = connection.execute(
        select(func.max(runs.c.as_of)).where(runs.c.shop_id == shop_id)
    ).scalar_one()
    if latest is not None and as_of < latest:
        raise ConflictError(
            f"this shop was {done} as of {latest.isoformat()} already: {what} as of"
            f" an earlier moment ({as_of.isoformat()}) would {harm}",
            latest=latest.isoformat(),
        )
