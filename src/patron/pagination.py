"""Cursor pagination shared by every list: pages ordered by row id, an opaque cursor to go on."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from patron.errors import InputError

MAX_LIMIT = 500
DEFAULT_LIMIT = 100

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Page(Generic[T]):
    items: Sequence[T]
    # None on the last page.
    next_cursor: str | None


def encode_cursor(last_id: int) -> str:
    return base64.urlsafe_b64encode(f"after:{last_id}".encode()).decode().rstrip("=")


def decode_cursor(cursor: str | None) -> int:
    """The row id a cursor continues after (0 for the first page)."""
    if cursor is None or cursor == "":
        return 0
    try:
        text = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4)).decode()
        tag, _, number = text.partition(":")
        if tag != "after" or not number.isdigit():
            raise ValueError(text)
        return int(number)
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise InputError(
            "invalid cursor: pass the next_cursor of the previous page unchanged",
            field="cursor",
        ) from None


def check_limit(limit: int) -> int:
    if not 1 <= limit <= MAX_LIMIT:
        raise InputError(
            f"limit must be between 1 and {MAX_LIMIT}, not {limit}", field="limit", value=limit
        )
    return limit


def page_of(rows: Sequence[T], limit: int, id_of: Callable[[T], int]) -> Page[T]:
    """A page from the ``limit + 1`` rows fetched after the cursor, in id order."""
    kept = rows[:limit]
    more = len(rows) > limit
    return Page(kept, encode_cursor(id_of(kept[-1])) if more else None)
