import patron


def test_public_api_is_exactly_the_curated_list() -> None:
    assert sorted(patron.__all__) == [
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
    for name in patron.__all__:
        assert getattr(patron, name) is not None


def test_every_error_code_is_stable_text() -> None:
    assert {c.value for c in patron.ErrorCode} >= {
        "ingest_rejected",
        "columns_missing",
        "not_found",
    }
    error = patron.IngestRejected("bad", rows=3)
    assert error.to_dict() == {"code": "ingest_rejected", "message": "bad", "details": {"rows": 3}}
