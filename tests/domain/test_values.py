from decimal import Decimal

import pytest

from app.domain.errors import InvalidValueError
from app.domain.values import (
    check_rate,
    check_register_number,
    check_tax_number,
    normalise_bic,
    normalise_iban,
    to_decimal,
)


@pytest.mark.parametrize("value, expected", [
    ("987.65", Decimal("987.65")), (987.65, Decimal("987.65")), (80, Decimal(80)),
    ("-250.00", Decimal("-250.00")), (None, None), ("", None),
])
def test_money_is_parsed_exactly(value, expected):
    assert to_decimal(value, "amount", 2) == expected


@pytest.mark.parametrize("value", ["1234.567", "abc", "NaN", "Infinity", "1e-5"])
def test_over_precise_or_non_numbers_are_refused_not_rounded(value):
    with pytest.raises(InvalidValueError) as exc:
        to_decimal(value, "amount", 2)
    assert exc.value.field == "amount"


@pytest.mark.parametrize("value, ok", [("80", True), ("0", True), ("100", True),
                                       ("80.1234", True), ("80.12345", False),
                                       ("-1", False), ("100.01", False)])
def test_rates_are_percent_with_four_places(value, ok):
    if ok:
        assert check_rate(value, "ap_rate") == Decimal(value)
    else:
        with pytest.raises(InvalidValueError):
            check_rate(value, "ap_rate")


def test_iban_and_bic_are_validated_and_normalised():
    assert normalise_iban("de89 3704 0044 0532 0130 00") == "DE89370400440532013000"
    assert normalise_bic("cobadeffxxx") == "COBADEFFXXX"
    for bad in ("DE89370400440532013001", "DE00", "hello"):
        with pytest.raises(InvalidValueError) as exc:
            normalise_iban(bad)
        assert exc.value.field == "iban"
    with pytest.raises(InvalidValueError):
        normalise_bic("XXXX")


@pytest.mark.parametrize("value, ok", [("D-1A2B-C3D4E-56", True), ("d-1a2b-c3d4e-56", True),
                                       ("D-1234-12345-1", False), ("1234-12345-12", False)])
def test_register_numbers(value, ok):
    if ok:
        assert check_register_number(value) == value.upper()
    else:
        with pytest.raises(InvalidValueError):
            check_register_number(value)


@pytest.mark.parametrize("value, ok", [("DE123456789", True), ("DE 123456789", True),
                                       ("21/815/08150", True), ("2181508150", True),
                                       ("DE12345678", False), ("12/34", False), ("abc", False)])
def test_tax_number_or_vat_id(value, ok):
    if ok:
        check_tax_number(value)
    else:
        with pytest.raises(InvalidValueError):
            check_tax_number(value)
