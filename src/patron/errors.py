"""The Patron error tree.

Every error carries a stable machine-readable ``code`` and structured ``details``;
interfaces translate them once, at the edge (HTTP status in the API, exit code in the CLI)::

    PatronError
    ├── ConfigError            bad settings, unknown profile, bad mapping file
    ├── NotFoundError          a shop, customer, order or file that does not exist
    ├── InputError             unreadable or malformed input (file, encoding, columns, request)
    │   └── IngestRejected     an ingest run with more bad rows than allowed; nothing was stored
    ├── ConflictError          a write that contradicts what is stored
    ├── AuthError              no API key, or an unknown or revoked one
    ├── PermissionDenied       the key lacks the scope a route needs
    └── RateLimited            the key has spent its request budget for now
"""

from __future__ import annotations

from enum import StrEnum
from typing import Any


class ErrorCode(StrEnum):
    CONFIG_INVALID = "config_invalid"
    PROFILE_UNKNOWN = "profile_unknown"
    MAPPING_INVALID = "mapping_invalid"
    NOT_FOUND = "not_found"
    SHOP_NOT_FOUND = "shop_not_found"
    FILE_NOT_FOUND = "file_not_found"
    INPUT_INVALID = "input_invalid"
    ENCODING_INVALID = "encoding_invalid"
    FORMAT_UNSUPPORTED = "format_unsupported"
    FILE_EMPTY = "file_empty"
    COLUMNS_MISSING = "columns_missing"
    INGEST_REJECTED = "ingest_rejected"
    CONFLICT = "conflict"
    DATABASE_OUTDATED = "database_outdated"
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
    POINTS_INSUFFICIENT = "points_insufficient"
    UNAUTHENTICATED = "unauthenticated"
    FORBIDDEN = "forbidden"
    RATE_LIMITED = "rate_limited"
    PAYLOAD_TOO_LARGE = "payload_too_large"
    ROUTE_NOT_FOUND = "route_not_found"
    METHOD_NOT_ALLOWED = "method_not_allowed"
    INTERNAL = "internal_error"


class PatronError(Exception):
    """Base of every error Patron raises on purpose."""

    code: ErrorCode = ErrorCode.INPUT_INVALID

    def __init__(self, message: str, *, code: ErrorCode | None = None, **details: Any) -> None:
        super().__init__(message)
        self.message = message
        if code is not None:
            self.code = code
        self.details: dict[str, Any] = details

    def to_dict(self) -> dict[str, Any]:
        return {"code": str(self.code), "message": self.message, "details": self.details}


class ConfigError(PatronError):
    code = ErrorCode.CONFIG_INVALID


class NotFoundError(PatronError):
    code = ErrorCode.NOT_FOUND


class InputError(PatronError):
    code = ErrorCode.INPUT_INVALID


class IngestRejected(InputError):
    code = ErrorCode.INGEST_REJECTED


class ConflictError(PatronError):
    code = ErrorCode.CONFLICT


class AuthError(PatronError):
    code = ErrorCode.UNAUTHENTICATED


class PermissionDenied(PatronError):
    code = ErrorCode.FORBIDDEN


class RateLimited(PatronError):
    code = ErrorCode.RATE_LIMITED

    def __init__(self, message: str, *, retry_after: float, **details: Any) -> None:
        super().__init__(message, retry_after=retry_after, **details)
        self.retry_after = retry_after
