"""Staging tables: validated rows of one run, loaded in bulk before they are merged.

A staging table is a temporary table of the run's connection: it vanishes with the connection,
so a killed run leaves nothing behind. Loading uses executemany on SQLite and COPY on PostgreSQL.
"""

from __future__ import annotations

import io
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    Connection,
    Date,
    Index,
    MetaData,
    String,
    Table,
    Text,
)
from sqlalchemy.types import TypeEngine

from patron.db.types import JSONDocument, UTCDateTime
from patron.ingest.model import Entity
from patron.ingest.schema import NATURAL_KEY, RETURN_FLAG, Kind, fields

ROW = "_row"
TARGET_ID = "target_id"
ACTION = "action"

_TYPES: dict[Kind, TypeEngine[Any] | type[TypeEngine[Any]]] = {
    Kind.TEXT: Text,
    Kind.INTEGER: BigInteger,
    Kind.MONEY: BigInteger,
    Kind.TIMESTAMP: UTCDateTime,
    Kind.DATE: Date,
    Kind.BOOLEAN: Boolean,
    Kind.CURRENCY: String(3),
    Kind.CHOICE: Text,
    Kind.JSON: JSONDocument,
}


def stage_table(metadata: MetaData, entity: Entity) -> Table:
    columns = [Column(f.name, _TYPES[f.kind]) for f in fields(entity)]
    if entity is Entity.ORDERS:
        columns.append(Column(RETURN_FLAG, Boolean, nullable=False))
    return temp_table(
        metadata, f"stage_{entity}", [Column(ROW, BigInteger, nullable=False), *columns]
    )


def index_by_key(connection: Connection, stage: Table, entity: Entity) -> None:
    """Index the staged rows by natural key and file order, once all are loaded: the merge
    groups and numbers rows that way, and reads them in index order instead of sorting each time."""
    Index(f"ix_{stage.name}_key", stage.c[NATURAL_KEY[entity]], stage.c[ROW]).create(connection)
    analyze(connection, stage)


def analyze(connection: Connection, table: Table) -> None:
    """PostgreSQL never analyses temporary tables by itself; without statistics it plans the
    merge's joins as if they were empty."""
    if connection.dialect.name == "postgresql":
        connection.exec_driver_sql(f'ANALYZE "{table.name}"')


def temp_table(metadata: MetaData, name: str, columns: list[Column[object]]) -> Table:
    return Table(name, metadata, *columns, prefixes=["TEMPORARY"])


def create(connection: Connection, table: Table) -> None:
    table.drop(connection, checkfirst=True)
    table.create(connection)


def append(
    connection: Connection,
    table: Table,
    columns: dict[str, pa.Array],
    good: np.ndarray,
    rows: np.ndarray,
) -> int:
    """Add the good rows of a chunk; ``rows`` are their source row numbers."""
    mask = pa.array(good)
    data = {ROW: pa.array(rows[good], pa.int64())}
    for column in table.columns[1:]:
        values = columns[column.name]
        if values.null_count < len(values):  # a column the file leaves empty stays NULL unbound
            data[column.name] = pc.filter(values, mask)
    batch = pa.table(data)
    if batch.num_rows == 0:
        return 0
    if connection.dialect.name == "postgresql":
        _copy(connection, table, batch)
    else:
        _executemany(connection, table, batch)
    return int(batch.num_rows)


_EXECUTEMANY_ROWS = 20_000
"""Rows turned into Python tuples at a time: bounds the memory of the SQLite load."""


def _executemany(connection: Connection, table: Table, batch: pa.Table) -> None:
    placeholders = ", ".join("?" * batch.num_columns)
    names = ", ".join(f'"{n}"' for n in batch.column_names)
    sql = f'INSERT INTO "{table.name}" ({names}) VALUES ({placeholders})'
    for start in range(0, batch.num_rows, _EXECUTEMANY_ROWS):
        lists = []
        for column in batch.slice(start, _EXECUTEMANY_ROWS).columns:
            values = column.combine_chunks()
            if pa.types.is_timestamp(values.type):
                values = _utc_text(values)
            elif pa.types.is_date(values.type):
                values = values.cast(pa.string())
            lists.append(values.to_pylist())
        connection.exec_driver_sql(sql, list(zip(*lists, strict=True)))


def _utc_text(values: pa.Array) -> pa.Array:
    """UTC timestamps as text without a zone (`2024-05-01 08:30:00.000000`). Arrow writes a
    column that carries a time zone twenty times slower than the same values without one."""
    return pc.cast(values.cast(pa.timestamp(values.type.unit)), pa.string())


def _copy(connection: Connection, table: Table, batch: pa.Table) -> None:
    for i, column in enumerate(batch.columns):
        if pa.types.is_timestamp(column.type):
            # "Z": PostgreSQL reads a time without a zone in the session's time zone.
            utc = pc.binary_join_element_wise(_utc_text(column.combine_chunks()), "Z", "")
            batch = batch.set_column(i, batch.field(i).with_type(pa.string()), utc)
    buffer = io.BytesIO()
    pacsv.write_csv(batch, buffer, write_options=pacsv.WriteOptions(include_header=False))
    names = ", ".join(f'"{n}"' for n in batch.column_names)
    driver = connection.connection.driver_connection
    assert driver is not None
    with (
        driver.cursor() as cursor,
        cursor.copy(f'COPY "{table.name}" ({names}) FROM STDIN (FORMAT csv)') as copy,
    ):
        copy.write(buffer.getbuffer())
