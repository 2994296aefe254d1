from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from patron.money import Money, exponent


def test_exponents_of_iso_currencies() -> None:
    assert exponent("CNY") == 2
    assert exponent("JPY") == 0
    assert exponent("KWD") == 3
    with pytest.raises(ValueError, match="not an ISO 4217"):
        exponent("yuan")


@pytest.mark.parametrize(
    ("text", "currency", "minor"),
    [
        ("12.34", "CNY", 1234),
        ("12.345", "CNY", 1234),
        ("12.355", "CNY", 1236),
        ("0.5", "JPY", 0),
        ("1.5", "JPY", 2),
        ("-2.005", "USD", -200),
        ("1.2345", "KWD", 1234),
    ],
)
def test_parse_rounds_half_to_even(text: str, currency: str, minor: int) -> None:
    assert Money.parse(text, currency) == Money(minor, currency)


def test_money_does_not_mix_currencies() -> None:
    with pytest.raises(ValueError, match="cannot mix"):
        _ = Money(1, "CNY") + Money(1, "USD")
    assert str(Money(123456, "CNY") - Money(6, "CNY")) == "1234.50 CNY"


@given(st.integers(min_value=-(10**15), max_value=10**15))
def test_decimal_round_trip(minor: int) -> None:
    money = Money(minor, "CNY")
    assert Money.parse(money.to_decimal(), "CNY") == money
    assert money.to_decimal() == Decimal(minor) / 100
