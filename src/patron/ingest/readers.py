"""Readers: any supported file to a stream of text-only Arrow tables, in bounded memory.

CSV (any delimiter; UTF-8, UTF-8 with BOM, GB18030, UTF-16 with BOM; optionally gzip-compressed),
whitespace-separated text, Parquet, JSON Lines and XLSX. Every value is read as text; parsing
and validation come later, so that a bad value becomes a row error instead of a failed read.
"""

from __future__ import annotations

import codecs
import csv
import gzip
import io
import json
import re
from collections.abc import Callable, Generator, Iterator
from dataclasses import dataclass
from datetime import date, datetime
from pathlib import Path
from typing import IO, Any

import pyarrow as pa
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
from openpyxl import load_workbook

from patron.errors import ErrorCode, InputError, NotFoundError

_DELIMITERS = (",", "\t", ";", "|")
_BLOCK = 1 << 22  # bytes read per CSV block
_SAMPLE = 1 << 16


@dataclass(frozen=True, slots=True)
class ReadOptions:
    delimiter: str | None = None
    encoding: str | None = None
    header: bool = True
    column_names: tuple[str, ...] = ()
    whitespace_separated: bool = False


@dataclass(slots=True)
class Source:
    """An open file: its header and a stream of text tables, with progress in bytes."""

    path: Path
    columns: list[str]
    chunks: Iterator[pa.Table]
    size: int
    _raw: IO[bytes] | None = None
    _release: Callable[[], None] | None = None

    def position(self) -> int:
        return self._raw.tell() if self._raw is not None and not self._raw.closed else self.size

    def close(self) -> None:
        """Release the file, whether every chunk was read, some, or none."""
        if isinstance(self.chunks, Generator):
            self.chunks.close()
        if self._raw is not None:
            self._raw.close()
        if self._release is not None:
            self._release()


def open_source(path: Path, options: ReadOptions, chunk_rows: int) -> Source:
    if not path.exists():
        raise NotFoundError(f"{path}: no such file", code=ErrorCode.FILE_NOT_FOUND, file=str(path))
    if not path.is_file():
        raise InputError(f"{path}: not a file", file=str(path))
    suffixes = [s.lower() for s in path.suffixes]
    if path.stat().st_size == 0:
        raise InputError(f"{path}: the file is empty", code=ErrorCode.FILE_EMPTY, file=str(path))
    if suffixes[-1:] == [".parquet"]:
        return _parquet(path, chunk_rows)
    if suffixes[-1:] in ([".jsonl"], [".ndjson"]) or suffixes[-2:] == [".jsonl", ".gz"]:
        return _jsonl(path, chunk_rows)
    if suffixes[-1:] == [".xlsx"]:
        return _xlsx(path, options, chunk_rows)
    if suffixes[-1:] in ([".xls"], [".json"]):
        raise InputError(
            f"{path}: {suffixes[-1]} is not supported; use CSV, Parquet, JSON Lines or XLSX",
            code=ErrorCode.FORMAT_UNSUPPORTED,
            file=str(path),
        )
    return _delimited(path, options, chunk_rows)


def _open_bytes(path: Path) -> tuple[IO[bytes], IO[bytes]]:
    """The decompressed byte stream and the raw file under it (for progress)."""
    raw = path.open("rb")
    if raw.read(2) == b"\x1f\x8b":
        raw.seek(0)
        return gzip.GzipFile(fileobj=raw), raw  # type: ignore[return-value]
    raw.seek(0)
    return raw, raw


def detect_encoding(path: Path) -> str:
    """UTF-16 by its BOM, else UTF-8 (BOM or not) if the whole file decodes, else GB18030."""
    stream, raw = _open_bytes(path)
    with raw:
        head = stream.read(4)
        if head[:2] in (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE):
            return "utf-16"
        stream.seek(0)
        failures: dict[str, tuple[int, int]] = {}  # encoding → (byte offset, row)
        for encoding in ("utf-8-sig", "gb18030"):
            stream.seek(0)
            decoder = codecs.getincrementaldecoder(encoding)()
            offset = 0
            lines = 0
            block = b""
            try:
                while block := stream.read(_BLOCK):
                    decoder.decode(block)
                    offset += len(block)
                    lines += block.count(b"\n")
                block = b""
                decoder.decode(b"", final=True)
                return encoding
            except UnicodeDecodeError as exc:
                # exc.start counts from the block (plus at most a few bytes the decoder held back).
                start = max(0, min(exc.start, len(block)))
                row = lines + block[:start].count(b"\n") + 1
                failures[encoding] = (offset + start, row)
    (utf8_at, utf8_row), (gb_at, gb_row) = failures["utf-8-sig"], failures["gb18030"]
    raise InputError(
        f"{path}: row {min(utf8_row, gb_row)}: the file is neither UTF-8 nor GB18030 "
        f"(invalid UTF-8 at byte {utf8_at}, row {utf8_row}; invalid GB18030 at byte {gb_at}, "
        f"row {gb_row}); save it as UTF-8 or name its encoding in a mapping file",
        code=ErrorCode.ENCODING_INVALID,
        file=str(path),
        row=min(utf8_row, gb_row),
    )


def _text_stream(path: Path, encoding: str) -> tuple[IO[bytes], IO[bytes]]:
    """A UTF-8 byte stream of the file, transcoding when it is not UTF-8 already."""
    stream, raw = _open_bytes(path)
    if encoding in ("utf-8", "utf-8-sig", "utf8"):
        return stream, raw
    return io.BufferedReader(_Transcoder(stream, encoding), _BLOCK), raw


class _Transcoder(io.RawIOBase):
    """Reads bytes of one encoding as UTF-8 bytes, block by block."""

    def __init__(self, stream: IO[bytes], encoding: str) -> None:
        self._stream = stream
        self._decoder = codecs.getincrementaldecoder(encoding)()
        self._pending = b""

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        while not self._pending:
            block = self._stream.read(_BLOCK)
            text = self._decoder.decode(block, final=not block)
            self._pending = text.encode("utf-8")
            if not block:
                break
        n = min(len(buffer), len(self._pending))
        buffer[:n] = self._pending[:n]
        self._pending = self._pending[n:]
        return n


def _first_line(path: Path, encoding: str) -> str:
    stream, raw = _text_stream(path, encoding)
    with raw:
        sample = stream.read(_SAMPLE).decode("utf-8", errors="replace")
    return sample.lstrip("\ufeff").splitlines()[0] if sample.strip() else ""


def sniff_delimiter(header_line: str) -> str:
    counts = {d: header_line.count(d) for d in _DELIMITERS}
    best = max(counts, key=lambda d: counts[d])
    return best if counts[best] else ","


def _delimited(path: Path, options: ReadOptions, chunk_rows: int) -> Source:
    encoding = options.encoding or detect_encoding(path)
    first = _first_line(path, encoding)
    if not first.strip():
        raise InputError(
            f"{path}: the file has no header row", code=ErrorCode.FILE_EMPTY, file=str(path)
        )
    if options.whitespace_separated:
        return _whitespace(path, encoding, options, chunk_rows)
    delimiter = options.delimiter or sniff_delimiter(first)
    stream, raw = _text_stream(path, encoding)
    names = list(options.column_names) if not options.header else None
    try:
        reader = pacsv.open_csv(
            stream,
            read_options=pacsv.ReadOptions(
                block_size=_BLOCK,
                column_names=names,
                autogenerate_column_names=False,
            ),
            parse_options=pacsv.ParseOptions(delimiter=delimiter, newlines_in_values=True),
            convert_options=pacsv.ConvertOptions(
                column_types=_all_text(first, delimiter, names),
                strings_can_be_null=False,
            ),
        )
    except pa.ArrowInvalid as exc:
        raw.close()
        if options.header and "Empty CSV file" in str(exc):  # a header line without a line end
            raise InputError(
                f"{path}: the file has a header but no data rows",
                code=ErrorCode.FILE_EMPTY,
                file=str(path),
            ) from exc
        raise _csv_error(path, exc, encoding, delimiter) from exc
    columns = [c.strip() for c in reader.schema.names]
    try:
        _check_unique(path, columns)
    except InputError:
        raw.close()
        raise
    batches = _csv_batches(path, reader, raw, encoding, delimiter)
    return Source(path, columns, _rechunk(batches, columns, chunk_rows), path.stat().st_size, raw)


def _all_text(first: str, delimiter: str, names: list[str] | None) -> dict[str, pa.DataType]:
    """Every column read as text, named as the header line names them."""
    header = names if names is not None else next(csv.reader([first], delimiter=delimiter), [])
    return {name: pa.string() for name in header}


def _csv_batches(
    path: Path, reader: Any, raw: IO[bytes], encoding: str, delimiter: str
) -> Iterator[pa.RecordBatch]:
    try:
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                return
            except pa.ArrowInvalid as exc:
                raise _csv_error(path, exc, encoding, delimiter) from exc
            yield batch
    finally:
        raw.close()


_RAGGED = re.compile(r"Expected (\d+) columns, got (\d+)")


def _csv_error(path: Path, exc: Exception, encoding: str, delimiter: str) -> InputError:
    text = str(exc)
    if "UTF8" in text or "utf-8" in text.lower():
        return InputError(
            f"{path}: invalid text encoding: {text}",
            code=ErrorCode.ENCODING_INVALID,
            file=str(path),
        )
    ragged = _RAGGED.search(text)
    row = _ragged_row(path, encoding, delimiter, int(ragged[1])) if ragged else None
    if ragged and row is not None:
        return InputError(
            f"{path}: row {row}: expected {ragged[1]} values (one per column of the header), "
            f"found {ragged[2]}",
            file=str(path),
            row=row,
        )
    return InputError(f"{path}: cannot read as CSV: {text}", file=str(path))


def _ragged_row(path: Path, encoding: str, delimiter: str, expected: int) -> int | None:
    """The number of the first row (the header is row 1; empty lines do not count, as for the
    CSV reader) with another number of values than the header: read again only on this error."""
    stream, raw = _text_stream(path, encoding)
    with raw:
        lines = io.TextIOWrapper(stream, encoding="utf-8-sig", newline="")
        number = 0
        try:
            for values in csv.reader(lines, delimiter=delimiter):
                if not values:
                    continue
                number += 1
                if len(values) != expected:
                    return number
        except csv.Error:
            return None
    return None


def _check_unique(path: Path, columns: list[str]) -> None:
    seen: set[str] = set()
    duplicates = sorted({c for c in columns if c in seen or seen.add(c)})  # type: ignore[func-returns-value]
    if duplicates:
        raise InputError(
            f"{path}: the header names these columns more than once: {', '.join(duplicates)}",
            file=str(path),
            columns=duplicates,
        )


def _rechunk(
    batches: Iterator[pa.RecordBatch], columns: list[str], rows: int
) -> Iterator[pa.Table]:
    """Regroup batches into tables of about ``rows`` rows with the (trimmed) header names."""
    pending: list[pa.RecordBatch] = []
    count = 0
    for batch in batches:
        pending.append(batch)
        count += batch.num_rows
        if count >= rows:
            yield _table(pending, columns)
            pending, count = [], 0
    if pending:
        yield _table(pending, columns)


def _table(batches: list[pa.RecordBatch], columns: list[str]) -> pa.Table:
    return pa.Table.from_batches(batches).rename_columns(columns)


def _whitespace(path: Path, encoding: str, options: ReadOptions, chunk_rows: int) -> Source:
    stream, raw = _text_stream(path, encoding)
    lines = io.TextIOWrapper(stream, encoding="utf-8-sig", newline=None)
    try:
        columns = list(options.column_names) or lines.readline().split()
        _check_unique(path, columns)
    except InputError:
        raw.close()
        raise

    def chunks() -> Iterator[pa.Table]:
        with raw:
            rows: list[list[str]] = []
            for line in lines:
                if line.strip():
                    rows.append(line.split())
                if len(rows) >= chunk_rows:
                    yield _rows_table(rows, columns)
                    rows = []
            if rows:
                yield _rows_table(rows, columns)

    return Source(path, columns, chunks(), path.stat().st_size, raw)


def _rows_table(rows: list[list[str | None]] | list[list[str]], columns: list[str]) -> pa.Table:
    width = len(columns)
    data = [[(r[i] if i < len(r) else None) for r in rows] for i in range(width)]
    return pa.table({c: pa.array(data[i], pa.string()) for i, c in enumerate(columns)})


def _parquet(path: Path, chunk_rows: int) -> Source:
    try:
        parquet = pq.ParquetFile(path)
    except (pa.ArrowInvalid, OSError) as exc:
        raise InputError(f"{path}: not a readable Parquet file: {exc}", file=str(path)) from exc
    columns = list(parquet.schema_arrow.names)

    def chunks() -> Iterator[pa.Table]:
        for batch in parquet.iter_batches(batch_size=chunk_rows):
            yield pa.table({c: _as_text(batch.column(c)) for c in columns})

    return Source(path, columns, chunks(), path.stat().st_size, _release=parquet.close)


def _as_text(values: pa.Array) -> pa.Array:
    if pa.types.is_timestamp(values.type) and values.type.tz is not None:
        return pa.array(
            [None if v is None else v.isoformat() for v in values.to_pylist()], pa.string()
        )
    return values.cast(pa.string())


def _jsonl(path: Path, chunk_rows: int) -> Source:
    stream, raw = _open_bytes(path)
    lines = io.TextIOWrapper(stream, encoding="utf-8-sig")
    first_rows: list[dict[str, Any]] = []
    columns: list[str] = []
    line_no = 0

    def parse(line: str) -> dict[str, Any]:
        try:
            obj = json.loads(line)
        except ValueError as exc:
            raise InputError(
                f"{path}: row {line_no}: not valid JSON ({exc})", file=str(path), row=line_no
            ) from exc
        if not isinstance(obj, dict):
            raise InputError(
                f"{path}: row {line_no}: expected a JSON object", file=str(path), row=line_no
            )
        return obj

    # Columns are the keys of the first object (later objects may omit some).
    try:
        for line in lines:
            line_no += 1
            if line.strip():
                first_rows.append(parse(line))
                columns = list(first_rows[0])
                break
        if not columns:
            raise InputError(
                f"{path}: the file holds no JSON object", code=ErrorCode.FILE_EMPTY, file=str(path)
            )
    except (InputError, UnicodeDecodeError):
        raw.close()
        raise

    def chunks() -> Iterator[pa.Table]:
        nonlocal line_no
        with raw:
            rows = [_json_row(first_rows[0], columns)]
            for line in lines:
                line_no += 1
                if not line.strip():
                    continue
                rows.append(_json_row(parse(line), columns))
                if len(rows) >= chunk_rows:
                    yield _rows_table(rows, columns)
                    rows = []
            if rows:
                yield _rows_table(rows, columns)

    return Source(path, columns, chunks(), path.stat().st_size, raw)


def _json_row(obj: dict[str, Any], columns: list[str]) -> list[str | None]:
    return [_json_text(obj.get(c)) for c in columns]


def _json_text(value: Any) -> str | None:
    if value is None:
        return None
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, (int, float)):
        return repr(value) if isinstance(value, float) else str(value)
    return json.dumps(value, ensure_ascii=False, sort_keys=True)


def _xlsx(path: Path, options: ReadOptions, chunk_rows: int) -> Source:

    try:
        book = load_workbook(path, read_only=True, data_only=True)
    except Exception as exc:  # openpyxl raises many types for a broken file
        raise InputError(f"{path}: not a readable XLSX workbook: {exc}", file=str(path)) from exc
    try:
        sheet = book.worksheets[0]
        rows_iter = sheet.iter_rows(values_only=True)
        if options.header:
            header = next(rows_iter, None)
            if header is None:
                raise InputError(
                    f"{path}: the workbook's first sheet is empty",
                    code=ErrorCode.FILE_EMPTY,
                    file=str(path),
                )
            columns = [str(h).strip() if h is not None else "" for h in header]
        else:
            columns = list(options.column_names)
        _check_unique(path, columns)
    except Exception:
        book.close()
        raise

    def chunks() -> Iterator[pa.Table]:
        rows: list[list[str | None]] = []
        try:
            for values in rows_iter:
                rows.append([_cell_text(v) for v in values[: len(columns)]])
                if len(rows) >= chunk_rows:
                    yield _rows_table(rows, columns)
                    rows = []
            if rows:
                yield _rows_table(rows, columns)
        finally:
            book.close()

    return Source(path, columns, chunks(), path.stat().st_size, _release=book.close)


def _cell_text(value: Any) -> str | None:

    if value is None:
        return None
    if isinstance(value, datetime):
        return value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, float) and value.is_integer():
        return str(int(value))
    return str(value)
