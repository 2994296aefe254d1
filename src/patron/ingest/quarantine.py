"""Quarantine files: every refused value of a run, as CSV (row, column, value, reason)."""

from __future__ import annotations

import csv
from collections.abc import Iterable
from pathlib import Path
from typing import IO

from patron.ingest.model import RowError

HEADER = ("row", "column", "value", "reason")


class Quarantine:
    """Written as errors are found, so memory does not grow with the number of bad rows."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.count = 0
        self.rows: set[int] = set()
        self.first: list[RowError] = []
        self._file: IO[str] | None = None

    def add(self, errors: Iterable[RowError]) -> None:
        for error in errors:
            if self._file is None:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._file = self.path.open("w", encoding="utf-8", newline="")
                self._writer = csv.writer(self._file)
                self._writer.writerow(HEADER)
            self._writer.writerow(
                (error.row, error.column, "" if error.value is None else error.value, error.reason)
            )
            self.count += 1
            self.rows.add(error.row)
            if len(self.first) < 20:
                self.first.append(error)

    def close(self) -> str | None:
        if self._file is None:
            return None
        self._file.close()
        return str(self.path)
