"""The ledger's hash chain (tamper evidence, GoBD "Unveränderbarkeit").

Each booking carries the SHA-256 of the previous booking's hash and its own
content, in the order of the ledger (booking id). Changing, deleting or
inserting a booking by any path around the application (raw SQL, a restored
file) breaks the chain from that booking on; `pool verify-ledger`
recomputes it. Pure functions over plain values: the writer (Decimals and
dates, or on SQLite the floats and ISO texts it binds) and the verifier
(what the database gives back) must produce the same bytes, so every value
is brought to one canonical text here.
"""
from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from datetime import date
from decimal import ROUND_HALF_UP, Decimal

#: The hash of "no booking before": the chain's start.
GENESIS = "0" * 64

#: The content a booking's hash covers, in this order. Everything that a
#: booking says and that never changes; not its id (the order is the chain's)
#: and not statement_id (set once when it is settled).
CHAIN_COLUMNS = ("intermediary_id", "kind", "amount", "booking_date", "contract_id",
                 "receipt_id", "basis", "rate", "receipt_kind", "level_rank",
                 "liability_model_id", "rule", "reverses_id", "origin_id", "fixum_month",
                 "reason", "created_on", "created_by_fk")

_CENTS, _FOUR = Decimal("0.01"), Decimal("0.0001")
#: how each column is written: i integer, t text, d date, and the decimals
_KINDS = {"intermediary_id": "i", "kind": "t", "amount": _CENTS, "booking_date": "d",
          "contract_id": "i", "receipt_id": "i", "basis": _FOUR, "rate": _FOUR,
          "receipt_kind": "t", "level_rank": "i", "liability_model_id": "i", "rule": "t",
          "reverses_id": "i", "origin_id": "i", "fixum_month": "t", "reason": "t",
          "created_on": "d", "created_by_fk": "i"}
_PLAN = tuple(_KINDS[c] for c in CHAIN_COLUMNS)


def _decimal(value, exponent: Decimal) -> str:
    if isinstance(value, float):
        # the shortest text that gives this float back: the decimal that was
        # bound (SQLite stores Numeric as REAL)
        value = Decimal(repr(value))
    elif not isinstance(value, Decimal):
        value = Decimal(value)
    value = value.quantize(exponent, rounding=ROUND_HALF_UP)
    return str(abs(value) if not value else value)   # -0.00 is stored as 0.00


def _field(kind, value) -> str:
    if value is None:
        return "-"
    if kind == "i":
        return str(int(value))
    if kind == "d":
        if isinstance(value, date):
            return value.isoformat()
        return str(value)[:10]         # an ISO date, or a datetime's text
    if kind == "t":
        text = str(getattr(value, "value", value))   # enums by their value
        return f"{len(text)}:{text}"   # length first: no text can pose as two fields
    return _decimal(value, kind)


def canonical(values: Sequence) -> bytes:
    """A booking's content (values in CHAIN_COLUMNS order) as the bytes its
    hash covers: one field per column, absent values as "-"."""
    return "|".join(_field(kind, value) for kind, value in zip(_PLAN, values, strict=True)
                    ).encode()


def link(previous: str, values: Sequence) -> str:
    """The hash of a booking following the booking whose hash is `previous`."""
    return hashlib.sha256(previous.encode() + b"\n" + canonical(values)).hexdigest()


def chain(previous: str, rows: Iterable[Sequence]) -> list[str]:
    """The hashes of consecutive bookings, following `previous`."""
    out = []
    for values in rows:
        previous = link(previous, values)
        out.append(previous)
    return out


def breaks(previous: str, rows: Iterable[tuple]):
    """Verifying: rows are (id, stored hash, *values in CHAIN_COLUMNS order)
    in ledger order. Yields (id, stored, expected) for each booking whose
    stored hash is not what its content and its predecessor's stored hash
    give: an altered booking shows as itself, a removed or inserted one as
    the booking after the gap."""
    for pk, stored, *values in rows:
        expected = link(previous, values)
        if stored != expected:
            yield pk, stored, expected
        # an unsealed booking (no hash): the chain goes on as if it were sealed
        previous = expected if stored is None else stored


def _fast_decimal(value, exponent: Decimal, places: int) -> str:
    if value is None:
        return "-"
    if isinstance(value, Decimal) and value and value.as_tuple().exponent == -places:
        return str(value)
    return _decimal(value, exponent)


def batch_links(previous: str, rows: Iterable[tuple], receipt_base: int = 0) -> list[str]:
    """`chain` for the rows the batch writer inserts (app/services/ledger.py
    BOOKING_COLUMNS order: no reversal, origin, Fixum month, reason or
    author), with each receipt id as `receipt_base` plus the row's value;
    the same hashes, about twice as fast (five million rows a month)."""
    sha = hashlib.sha256
    out = []
    add = out.append
    for (who, kind, amount, day, contract, receipt, basis, rate, receipt_kind, rank,
         liability, rule, created) in rows:
        kind = getattr(kind, "value", kind)
        text = (f"{who}|{len(kind)}:{kind}|{_fast_decimal(amount, _CENTS, 2)}|"
                f"{day if isinstance(day, str) else day.isoformat()}|"
                f"{'-' if contract is None else contract}|"
                f"{'-' if receipt is None else receipt + receipt_base}|"
                f"{_fast_decimal(basis, _FOUR, 4)}|{_fast_decimal(rate, _FOUR, 4)}|"
                f"{'-' if receipt_kind is None else f'{len(receipt_kind)}:{receipt_kind}'}|"
                f"{'-' if rank is None else rank}|{'-' if liability is None else liability}|"
                f"{'-' if rule is None else f'{len(rule)}:{rule}'}|-|-|-|-|"
                f"{created if isinstance(created, str) else created.isoformat()}|-")
        previous = sha(f"{previous}\n{text}".encode()).hexdigest()
        add(previous)
    return out
