"""Patron: customer lifecycle and loyalty platform for e-commerce.

The public API is what ``__all__`` lists (a test keeps it exact); everything else may change.
"""

from patron.clock import Clock, FixedClock, SystemClock
from patron.core import Patron
from patron.errors import (
    ConfigError,
    ConflictError,
    ErrorCode,
    IngestRejected,
    InputError,
    NotFoundError,
    PatronError,
)
from patron.ingest.model import Entity, IngestReport, RowError, TableCounts
from patron.money import Money
from patron.settings import Settings

__all__ = [
    "Clock",
    "ConfigError",
    "ConflictError",
    "Entity",
    "ErrorCode",
    "FixedClock",
    "IngestRejected",
    "IngestReport",
    "InputError",
    "Money",
    "NotFoundError",
    "Patron",
    "PatronError",
    "RowError",
    "Settings",
    "SystemClock",
    "TableCounts",
]
