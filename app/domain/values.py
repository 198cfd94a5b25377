"""Checks of single values: money, rates, IBAN/BIC, register and tax numbers."""
from __future__ import annotations

import re
from decimal import Decimal, InvalidOperation

from schwifty import BIC, IBAN
from schwifty.exceptions import SchwiftyException

from app.domain.errors import N_, InvalidValueError

REGISTER_NUMBER = re.compile(r"^D-[A-Z0-9]{4}-[A-Z0-9]{5}-[A-Z0-9]{2}$")
VAT_ID = re.compile(r"^DE[0-9]{9}$")
TAX_NUMBER = re.compile(r"^[0-9][0-9 /]{8,15}[0-9]$")


def to_decimal(value, field: str, places: int, minimum=None, maximum=None) -> Decimal | None:
    """A Decimal with at most `places` decimal places within the bounds.

    Refuses over-precise input instead of rounding it silently (the database
    column would round 1234.567 to 1234.57).
    """
    if value is None or value == "":
        return None
    if isinstance(value, float):
        value = repr(value)
    try:
        number = Decimal(str(value).strip())
    except (InvalidOperation, ValueError):
        raise InvalidValueError(field, N_("Not a valid number.")) from None
    if not number.is_finite():
        raise InvalidValueError(field, N_("Not a valid number."))
    if number.as_tuple().exponent < -places:
        raise InvalidValueError(field, N_("At most %(places)d decimal places."), places=places)
    if minimum is not None and number < Decimal(minimum):
        raise InvalidValueError(field, N_("Must be at least %(min)s."), min=str(minimum))
    if maximum is not None and number > Decimal(maximum):
        raise InvalidValueError(field, N_("Must be at most %(max)s."), max=str(maximum))
    return number


def check_rate(value, field: str) -> Decimal | None:
    """A commission rate in percent: 0 to 100, four decimal places."""
    return to_decimal(value, field, 4, 0, 100)


def normalise_iban(value: str | None, field: str = "iban") -> str | None:
    if not value:
        return None
    try:
        return IBAN(value).compact
    except SchwiftyException:
        raise InvalidValueError(field, N_("Not a valid IBAN.")) from None


def normalise_bic(value: str | None, field: str = "bic") -> str | None:
    if not value:
        return None
    try:
        return str(BIC(value.replace(" ", "").upper()))
    except SchwiftyException:
        raise InvalidValueError(field, N_("Not a valid BIC.")) from None


def check_register_number(value: str | None, field: str = "register_number") -> str | None:
    """§34d/§34h GewO register number, D-XXXX-XXXXX-XX."""
    if not value:
        return None
    value = value.strip().upper()
    if not REGISTER_NUMBER.match(value):
        raise InvalidValueError(field, N_("A register number has the form D-XXXX-XXXXX-XX."))
    return value


def check_tax_number(value: str | None, field: str = "tax_number") -> str | None:
    """A German VAT id (DE + 9 digits) or a tax number (10 to 13 digits)."""
    if not value:
        return None
    value = value.strip().upper()
    if VAT_ID.match(value.replace(" ", "")):
        return value.replace(" ", "")
    digits = re.sub(r"[ /]", "", value)
    if TAX_NUMBER.match(value) and digits.isdigit() and 10 <= len(digits) <= 13:
        return value
    raise InvalidValueError(
        field, N_("Give a tax number (10 to 13 digits) or a VAT id (DE and 9 digits)."))
