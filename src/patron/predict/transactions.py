"""Transaction files for the holdout evaluation: a CSV with a header naming customer_id, date
and amount (other columns ignored), or the whitespace-separated CDNOW files of the CLV
literature (the master file with its header line, or the 1/10 sample without one)."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from patron.errors import ErrorCode, InputError, NotFoundError
from patron.predict.calibration import TRANSACTION_COLUMNS

# Fields of a CDNOW line: the master file, and the sample with its own customer numbering.
CDNOW_LAYOUTS = {
    4: ("customer_id", "date", "cds", "amount"),
    5: ("master_id", "customer_id", "date", "cds", "amount"),
}


def read_transactions(path: Path, *, cdnow: bool = False) -> pd.DataFrame:
    """customer_id, date and amount of every row of the file."""
    if not path.is_file():
        raise NotFoundError(f"{path}: no such file", code=ErrorCode.FILE_NOT_FOUND, file=str(path))
    if path.stat().st_size == 0:
        raise InputError(f"{path}: the file is empty", code=ErrorCode.FILE_EMPTY, file=str(path))
    if cdnow:
        return _read_cdnow(path)
    frame = pd.read_csv(path, dtype={"customer_id": str, "date": str})
    missing = [c for c in TRANSACTION_COLUMNS if c not in frame.columns]
    if missing:
        raise InputError(
            f"{path}: the header lacks {', '.join(missing)}; "
            f"expected {', '.join(TRANSACTION_COLUMNS)}",
            code=ErrorCode.COLUMNS_MISSING,
            file=str(path),
            columns=missing,
        )
    return frame[list(TRANSACTION_COLUMNS)]


def _read_cdnow(path: Path) -> pd.DataFrame:
    raw = pd.read_csv(path, sep=r"\s+", header=None, dtype=str)
    if not str(raw.iloc[0, 0]).isdigit():  # the master file's header line
        raw = raw.iloc[1:]
    layout = CDNOW_LAYOUTS.get(raw.shape[1])
    if layout is None:
        raise InputError(
            f"{path}: a CDNOW file has 4 (master) or 5 (sample) fields a line, not {raw.shape[1]}",
            file=str(path),
        )
    raw.columns = pd.Index(layout)
    days = pd.to_datetime(raw["date"], format="%Y%m%d", errors="coerce")
    bad = days.isna().to_numpy()
    if bad.any():
        row = int(bad.argmax())
        raise InputError(
            f"{path}: line {row + 1}: date {raw['date'].iloc[row]!r} is not YYYYMMDD",
            file=str(path),
            field="date",
        )
    return pd.DataFrame(
        {"customer_id": raw["customer_id"], "date": days, "amount": pd.to_numeric(raw["amount"])}
    )
