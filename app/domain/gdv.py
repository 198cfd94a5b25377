"""Reader for the GDV "Datensatz VU-Vermittler" (fixed width, 256 characters a
line; layouts as in the spec's gdv.md, release VUVM2023). Pure: bytes in,
frozen records out.

Streaming throughout: `iter_lines` reads one line at a time (a line longer than
the format allows is counted, never held), `iter_contracts` yields one
`ContractData` at a time and keeps only the contract being read, so a file of
100,000 contracts costs the memory of one contract (plus the counts, the
warnings and the set of contract identities already seen). `parse_file`
collects everything, for small files and tests.

What the sample file (testdata/gdv/musterdatei_041222.txt) shows about the 9999
trailer, checked by the tests:

- record count (5-14): 162 in a file of 165 lines, two of them 0001 (the header
  has sub-records 1 and 2) and one 9999. So every physical line counts, each
  sub-record on its own, except all 0001 lines and the 9999 line itself.
- total commission (55-68, sign 69): ``00000000000000+`` - the sample has no
  0400 record, so the sum of the 0400 total commissions (151-161, sign 162) is
  0.00: it matches, but the sample cannot tell more than that. gdv.xport
  documents the field as the sum of all commissions of record type 0400.
- total premium (25-39, no sign): 4806.00 = the sum of the 0200 net premiums
  (116-127) of the 14 contracts. A mismatch here is reported as a warning (the
  spec asks to check only the count and the commission).

Errors are `GdvError`s naming the line number and the field; messages are
English msgids marked with N_ that name both (``Line %(line)s, field
%(field)s: ...``), translated by the web layer like every DomainError.
"""
from __future__ import annotations

import datetime as _dt
from collections.abc import Iterator
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import BinaryIO, NamedTuple

from app.domain.errors import N_, DomainError

LINE_LENGTH = 256
#: bytes asked for per readline: a line longer than this is an error anyway,
#: its rest is only counted
_READ_LIMIT = 1024
_DIGITS = frozenset("0123456789")

# ---------------------------------------------------------------- code tables
#: Zahlungsweise (0200, 68)
PAYMENT_FREQUENCY = {"1": "YEARLY", "2": "HALF_YEARLY", "4": "QUARTERLY", "8": "MONTHLY",
                     "6": "SINGLE"}
#: Vertragsstatus (0200, 69)
CONTRACT_STATUS = {"1": "ACTIVE", "2": "CANCELLED", "3": "SUSPENDED"}
#: Inkassoart (0200, 43)
COLLECTION_TYPE = {"1": "BROKER", "2": "INSURER"}
#: Adresskennzeichen (0100, 237-238) of the policyholder (Versicherungsnehmer)
POLICYHOLDER_MARKER = "01"

#: record types read; every other record type is skipped and counted
READ_RECORD_TYPES = frozenset({"0001", "0100", "0200", "0400", "0410", "9999"})


def is_known_skipped(record_type: str) -> bool:
    """Record types the import skips on purpose (gdv.md): 0102, 0202,
    0210-0392, 0420-0450, 0500-0600. Other unread types are skipped too, with
    a warning."""
    if record_type in ("0102", "0202"):
        return True
    number = int(record_type)
    return 210 <= number <= 392 or 420 <= number <= 450 or 500 <= number <= 600


# ---------------------------------------------------------------- errors
class GdvError(DomainError):
    """A GDV file that cannot be read: `line` (1-based) and `field` name where.

    The message is a msgid naming both: ``Line %(line)s, field %(field)s: ...``;
    `params` hold line, field and the message's other values.
    """

    message = N_("Line %(line)s, field %(field)s: this value cannot be read.")

    def __init__(self, line: int, field: str, message: str | None = None, **params):
        super().__init__(field, message)
        self.line = line
        self.params = {**params, "line": line, "field": field}
        self.args = (self.message % self.params,)


@dataclass(frozen=True)
class GdvWarning:
    """Something reported, not guessed (an unknown code, a mismatch that does
    not invalidate the file). `message` is a msgid formatted with `params`."""

    line: int
    field: str
    message: str
    params: dict = field(default_factory=dict, hash=False)

    @property
    def text(self) -> str:
        return self.message % {**self.params, "line": self.line, "field": self.field}


# ---------------------------------------------------------------- lines
def _cp1252_table() -> dict[int, str]:
    table = {}
    for byte in range(0x80, 0xA0):
        try:
            table[byte] = bytes([byte]).decode("cp1252")
        except UnicodeDecodeError:  # 0x81 0x8D 0x8F 0x90 0x9D: kept as ISO-8859-1
            pass
    return table


_CP1252 = _cp1252_table()


def decode(raw: bytes) -> str:
    """ISO-8859-1, with the bytes 0x80-0x9F read as CP1252 (€ is 0x80) where
    CP1252 defines them. One character per byte, so positions stay put."""
    return raw.decode("latin-1").translate(_CP1252)


def _raw_lines(stream: BinaryIO) -> Iterator[tuple[bytes | None, int]]:
    """(line without CR LF, its length) per line; None for a line too long to
    be held (its length is counted)."""
    while True:
        raw = stream.readline(_READ_LIMIT)
        if not raw:
            return
        if raw.endswith(b"\n") or len(raw) < _READ_LIMIT:
            body = raw[:-1] if raw.endswith(b"\n") else raw
            if body.endswith(b"\r"):
                body = body[:-1]
            yield body, len(body)
            continue
        length = len(raw)
        while True:
            chunk = stream.readline(_READ_LIMIT)
            if not chunk:
                break
            length += len(chunk)
            if chunk.endswith(b"\n"):
                length -= 2 if chunk.endswith(b"\r\n") else 1
                break
        yield None, length


def _line_length_error(number: int, length: int) -> GdvError:
    return GdvError(number, "line", N_(
        "Line %(line)s, field %(field)s: a GDV line has 256 characters; this one has "
        "%(length)s."), length=length)


def iter_lines(stream: BinaryIO) -> Iterator[tuple[int, str]]:
    """(line number, text of 256 characters) for each line of a binary file.

    Line ends (CR LF or LF) are stripped. Blank lines at the end (a final
    newline, a ^Z end-of-file byte, blanks) are ignored; a blank line followed
    by data is an error like any line that is not 256 characters long.
    """
    number = 0
    pending = None  # (number, length) of a blank line: fine only if nothing follows
    previous = None
    lines = _raw_lines(stream)
    while True:
        current = next(lines, None)
        if previous is not None:
            body, length = previous
            last = current is None
            number += 1
            if body is not None and last:
                body = body.rstrip(b"\x1a")  # DOS end-of-file mark
                length = len(body)
            if body is not None and not body.strip(b" \x1a"):
                if pending is None:
                    pending = (number, length)
            else:
                if pending is not None:
                    raise _line_length_error(*pending)
                if body is None or length != LINE_LENGTH:
                    raise _line_length_error(number, length)
                yield number, decode(body)
        if current is None:
            return
        previous = current


# ---------------------------------------------------------------- fields
class GdvLine(NamedTuple):
    """One line: its number in the file (1-based) and its 256 characters."""

    number: int
    text: str


def _split(line: GdvLine | str) -> tuple[int, str]:
    if isinstance(line, GdvLine):
        return line.number, line.text
    return 0, line


def _position(start: int, end: int) -> str:
    return str(start) if start == end else f"{start}-{end}"


def text(line: GdvLine | str, start: int, end: int) -> str:
    """Positions start-end (1-based, inclusive), stripped."""
    return _split(line)[1][start - 1:end].strip()


def code(line: GdvLine | str, start: int, end: int) -> str | None:
    """A code field: stripped, None when blank."""
    return text(line, start, end) or None


def date(line: GdvLine | str, start: int, end: int, field: str | None = None) -> _dt.date | None:
    """A TTMMJJJJ date; blanks or 00000000 mean none."""
    number, content = _split(line)
    raw = content[start - 1:end]
    if not raw.strip() or set(raw) == {"0"}:
        return None
    field = field or _position(start, end)
    try:
        if len(raw) != 8 or not set(raw) <= _DIGITS:
            raise ValueError
        return _dt.date(int(raw[4:8]), int(raw[2:4]), int(raw[0:2]))
    except ValueError:
        raise GdvError(number, field, N_(
            "Line %(line)s, field %(field)s (positions %(position)s): %(value)s is not a "
            "date (TTMMJJJJ)."), position=_position(start, end), value=repr(raw)) from None


def amount(line: GdvLine | str, start: int, end: int, sign_pos: int | None,
           decimals: int = 2, field: str | None = None,
           required: bool = True) -> Decimal | None:
    """Digits start-end with `decimals` implied decimal places, exactly (never
    a float); the sign at `sign_pos` is '+', '-' or blank (= '+'); None for an
    unsigned field. A blank field is None when not `required`."""
    number, content = _split(line)
    raw = content[start - 1:end]
    field = field or _position(start, end)
    if not required and not raw.strip():
        return None
    if not raw or not set(raw) <= _DIGITS:
        raise GdvError(number, field, N_(
            "Line %(line)s, field %(field)s (positions %(position)s): %(value)s is not an "
            "amount (digits only)."), position=_position(start, end), value=repr(raw))
    negative = False
    if sign_pos is not None:
        sign = content[sign_pos - 1:sign_pos]
        if sign not in ("+", "-", " "):
            raise GdvError(number, field, N_(
                "Line %(line)s, field %(field)s (position %(position)s): %(value)s is not a "
                "sign (+, - or blank)."), position=str(sign_pos), value=repr(sign))
        negative = sign == "-"
    digits = tuple(int(c) for c in raw)
    if not any(digits):
        negative = False  # no -0.00
    return Decimal((1 if negative else 0, digits, -decimals))


def integer(line: GdvLine | str, start: int, end: int, field: str | None = None) -> int:
    """A count: digits only."""
    number, content = _split(line)
    raw = content[start - 1:end]
    if not raw or not set(raw) <= _DIGITS:
        raise GdvError(number, field or _position(start, end), N_(
            "Line %(line)s, field %(field)s (positions %(position)s): %(value)s is not a "
            "number (digits only)."), position=_position(start, end), value=repr(raw))
    return int(raw)


def normalise_policy_number(value: str | None) -> str:
    """Leading and trailing blanks, and leading zeros of an all-digit number,
    are not significant: '  0012345' -> '12345', 'AB 0012' stays."""
    value = (value or "").strip()
    if value and set(value) <= _DIGITS:
        return value.lstrip("0") or "0"
    return value


# ---------------------------------------------------------------- records
@dataclass(frozen=True)
class ContractKey:
    """The key shared by the contract records 0100 to 0450 (and the skipped
    ones after them)."""

    vu_number: str          # 5-9
    bundling: str           # 10 Bündelungskennzeichen
    line_of_business: str   # 11-13 Sparte
    policy_number: str      # 14-30, stripped (not normalised)
    sequence: str           # 31-32 Folgenummer
    broker_number: str      # 33-42 Geschäftsstelle/Vermittler

    @property
    def normalised_policy_number(self) -> str:
        return normalise_policy_number(self.policy_number)


def contract_key(line: GdvLine | str) -> ContractKey:
    return ContractKey(text(line, 5, 9), text(line, 10, 10), text(line, 11, 13),
                       text(line, 14, 30), text(line, 31, 32), text(line, 33, 42))


@dataclass(frozen=True)
class Header:
    """0001 Vorsatz (sub-record 1; the other sub-records are only counted)."""

    vu_number: str                  # 5-9
    sender: str                     # 10-39
    addressee: str                  # 40-69
    period_from: _dt.date | None    # 70-77 (created / period from)
    period_to: _dt.date | None      # 78-85
    broker_number: str              # 86-95
    line_numbers: tuple[int, ...]


@dataclass(frozen=True)
class Partner:
    """0100 Partnerdaten, sub-records 1 and 2 (later ones only counted)."""

    key: ContractKey
    salutation_key: str | None          # 1: 43
    name1: str                          # 1: 44-73 (surname or company)
    name2: str                          # 1: 74-103
    name3: str                          # 1: 104-133 (often the first name)
    title: str                          # 1: 134-153
    country: str                        # 1: 154-156
    postcode: str                       # 1: 157-162
    city: str                           # 1: 163-187
    street: str                         # 1: 188-217
    birth_date: _dt.date | None         # 1: 226-233
    address_marker: str | None          # 1: 237-238 (01 = policyholder)
    gender: str | None                  # 1: 255
    customer_number_insurer: str | None = None  # 2: 43-59
    customer_number_broker: str | None = None   # 2: 60-76
    line_numbers: tuple[int, ...] = ()

    @property
    def is_policyholder(self) -> bool:
        return self.address_marker == POLICYHOLDER_MARKER


@dataclass(frozen=True)
class ContractRecord:
    """0200 Allgemeiner Vertragsteil, sub-records 1 and 2. The *_code fields
    hold the code as delivered; the mapped value is None for a blank or an
    unknown code (an unknown one is also reported as a warning)."""

    key: ContractKey
    collection_type_code: str | None    # 1: 43 Inkassoart
    collection_type: str | None
    start_date: _dt.date | None         # 1: 44-51
    end_date: _dt.date | None           # 1: 52-59
    main_due_date: _dt.date | None      # 1: 60-67 Hauptfälligkeit
    payment_frequency_code: str | None  # 1: 68
    payment_frequency: str | None
    status_code: str | None             # 1: 69
    status: str | None
    exit_reason: str | None             # 1: 70-71
    exit_date: _dt.date | None          # 1: 72-79
    currency: str                       # 1: 113-115
    net_premium: Decimal                # 1: 116-127
    customer_number_insurer: str | None  # 1: 159-175
    gross_premium: Decimal | None = None        # 2: 72-83
    product_name: str | None = None             # 2: 114-133
    policed_date: _dt.date | None = None        # 2: 147-154
    broker_register_number: str | None = None   # 2: 155-169
    line_numbers: tuple[int, ...] = ()


@dataclass(frozen=True)
class Commission:
    """One of the three commission blocks of a 0410 line."""

    block: int                  # 1, 2 or 3
    basis: Decimal | None       # 87-97 (+98) commissionable amount
    rate: Decimal | None        # 99-103, percent, 2 decimals
    amount: Decimal | None      # 104-114 (+115)
    kind: str | None            # 116 Provisionsart


@dataclass(frozen=True)
class CollectionLine:
    """0410 Inkasso Teilsparte. Blocks that are blank, or all zero without a
    commission kind, are left out of `commissions`."""

    key: ContractKey
    net_premium: Decimal | None         # 59-69 (+70)
    commissions: tuple[Commission, ...]
    line_number: int


@dataclass(frozen=True)
class Collection:
    """0400 Inkasso Gesamt, sub-records 1 and 2, with its 0410 lines."""

    key: ContractKey
    kind: str | None                    # 1: 44-45 Sollstellungsart
    booking_date: _dt.date | None       # 1: 46-53
    period_from: _dt.date | None        # 1: 54-61
    period_to: _dt.date | None          # 1: 62-69
    net_premium: Decimal                # 1: 110-120 (+121)
    total_commission: Decimal           # 1: 151-161 (+162)
    insurer_reference: str | None = None        # 2: 43-59
    policyholder_name: str | None = None        # 2: 77-106
    settlement_amount: Decimal | None = None    # 2: 107-117 (+118)
    lines: tuple[CollectionLine, ...] = ()
    line_numbers: tuple[int, ...] = ()


@dataclass(frozen=True)
class Trailer:
    """9999 Nachsatz."""

    record_count: int                   # 5-14: lines without 0001 and 9999
    broker_number: str                  # 15-24
    total_premium: Decimal | None       # 25-39: sum of the 0200 net premiums
    total_gross_collection: Decimal | None  # 40-53 (+54), from 0400 (not checked)
    total_commission: Decimal           # 55-68 (+69): sum of the 0400 commissions
    line_number: int


@dataclass
class ContractData:
    """The records of one contract (insurer number, policy number and
    sequence number), in file order, with its raw lines for audit.

    `key` is the 0200's key when there is one (its Sparte is the contract's
    line of business), else the first record's. `lines_of_business` lists
    every Sparte met (a bundle 000 or a motor contract 050 carries its parts
    040/130 or 051/053/... in the 0210/0220 records). `partner` is the
    policyholder: the 0100 with address marker 01, else the first 0100.
    A part without 0200 (e.g. collections only) has `contract` None.
    """

    key: ContractKey
    partner: Partner | None = None
    contract: ContractRecord | None = None
    partners: list[Partner] = field(default_factory=list)
    collections: list[Collection] = field(default_factory=list)
    raw_lines: list[tuple[int, str]] = field(default_factory=list)
    lines_of_business: list[str] = field(default_factory=list)

    @property
    def policy_number(self) -> str:
        return self.key.normalised_policy_number

    @property
    def first_line(self) -> int:
        return self.raw_lines[0][0]

    @property
    def last_line(self) -> int:
        return self.raw_lines[-1][0]


@dataclass
class GdvSummary:
    """What `iter_contracts` learns besides the contracts: the header as soon
    as the first contract is yielded, the rest once the generator is done."""

    header: Header | None = None
    trailer: Trailer | None = None
    counts: dict[str, int] = field(default_factory=dict)
    warnings: list[GdvWarning] = field(default_factory=list)
    line_count: int = 0
    contract_count: int = 0
    total_premium: Decimal = Decimal("0.00")
    total_commission: Decimal = Decimal("0.00")


@dataclass
class GdvFile:
    header: Header
    contracts: list[ContractData]
    counts: dict[str, int]
    warnings: list[GdvWarning]
    trailer: Trailer
    line_count: int


# ---------------------------------------------------------------- record parsers
def parse_header(line: GdvLine) -> Header:
    return Header(
        vu_number=text(line, 5, 9), sender=text(line, 10, 39), addressee=text(line, 40, 69),
        period_from=date(line, 70, 77, "period_from"), period_to=date(line, 78, 85, "period_to"),
        broker_number=text(line, 86, 95), line_numbers=(line.number,))


def parse_partner(line: GdvLine) -> Partner:
    """0100 sub-record 1."""
    return Partner(
        key=contract_key(line), salutation_key=code(line, 43, 43),
        name1=text(line, 44, 73), name2=text(line, 74, 103), name3=text(line, 104, 133),
        title=text(line, 134, 153), country=text(line, 154, 156),
        postcode=text(line, 157, 162), city=text(line, 163, 187),
        street=text(line, 188, 217), birth_date=date(line, 226, 233, "birth_date"),
        address_marker=code(line, 237, 238), gender=code(line, 255, 255),
        line_numbers=(line.number,))


def add_partner_part2(partner: Partner, line: GdvLine) -> Partner:
    """0100 sub-record 2: the customer numbers."""
    return replace(partner, customer_number_insurer=code(line, 43, 59),
                   customer_number_broker=code(line, 60, 76),
                   line_numbers=partner.line_numbers + (line.number,))


def _coded(line: GdvLine, start: int, end: int, name: str, table: dict,
           warnings: list[GdvWarning]) -> tuple[str | None, str | None]:
    value = code(line, start, end)
    if value is None:
        return None, None
    if value not in table:
        warnings.append(GdvWarning(line.number, name, N_(
            "Line %(line)s, field %(field)s: unknown code %(code)s; the value is left "
            "empty."), {"code": value}))
        return value, None
    return value, table[value]


def parse_contract(line: GdvLine, warnings: list[GdvWarning]) -> ContractRecord:
    """0200 sub-record 1; unknown codes are appended to `warnings`."""
    collection_code, collection_type = _coded(line, 43, 43, "collection_type",
                                              COLLECTION_TYPE, warnings)
    frequency_code, frequency = _coded(line, 68, 68, "payment_frequency",
                                       PAYMENT_FREQUENCY, warnings)
    status_code, status = _coded(line, 69, 69, "status", CONTRACT_STATUS, warnings)
    return ContractRecord(
        key=contract_key(line),
        collection_type_code=collection_code, collection_type=collection_type,
        start_date=date(line, 44, 51, "start_date"), end_date=date(line, 52, 59, "end_date"),
        main_due_date=date(line, 60, 67, "main_due_date"),
        payment_frequency_code=frequency_code, payment_frequency=frequency,
        status_code=status_code, status=status, exit_reason=code(line, 70, 71),
        exit_date=date(line, 72, 79, "exit_date"), currency=text(line, 113, 115),
        net_premium=amount(line, 116, 127, None, field="net_premium"),
        customer_number_insurer=code(line, 159, 175), line_numbers=(line.number,))


def add_contract_part2(contract: ContractRecord, line: GdvLine) -> ContractRecord:
    """0200 sub-record 2: gross premium, product, policed date, register number."""
    return replace(
        contract, gross_premium=amount(line, 72, 83, None, field="gross_premium", required=False),
        product_name=code(line, 114, 133), policed_date=date(line, 147, 154, "policed_date"),
        broker_register_number=code(line, 155, 169),
        line_numbers=contract.line_numbers + (line.number,))


def parse_collection(line: GdvLine) -> Collection:
    """0400 sub-record 1."""
    return Collection(
        key=contract_key(line), kind=code(line, 44, 45),
        booking_date=date(line, 46, 53, "booking_date"),
        period_from=date(line, 54, 61, "period_from"), period_to=date(line, 62, 69, "period_to"),
        net_premium=amount(line, 110, 120, 121, field="net_premium"),
        total_commission=amount(line, 151, 161, 162, field="total_commission"),
        line_numbers=(line.number,))


def add_collection_part2(collection: Collection, line: GdvLine) -> Collection:
    """0400 sub-record 2."""
    return replace(
        collection, insurer_reference=code(line, 43, 59), policyholder_name=code(line, 77, 106),
        settlement_amount=amount(line, 107, 117, 118, field="settlement_amount", required=False),
        line_numbers=collection.line_numbers + (line.number,))


def parse_collection_line(line: GdvLine) -> CollectionLine:
    """0410: net premium and three commission blocks of 30 positions from 87."""
    blocks = []
    for block in range(3):
        start = 87 + 30 * block
        n = block + 1
        if not text(line, start, start + 29):
            continue
        commission = Commission(
            block=n,
            basis=amount(line, start, start + 10, start + 11, field=f"commission_basis_{n}",
                         required=False),
            rate=amount(line, start + 12, start + 16, None, field=f"commission_rate_{n}",
                        required=False),
            amount=amount(line, start + 17, start + 27, start + 28,
                          field=f"commission_amount_{n}", required=False),
            kind=code(line, start + 29, start + 29))
        if commission.kind is None and not any((commission.basis, commission.rate,
                                                commission.amount)):
            continue
        blocks.append(commission)
    return CollectionLine(
        key=contract_key(line),
        net_premium=amount(line, 59, 69, 70, field="net_premium", required=False),
        commissions=tuple(blocks), line_number=line.number)


def parse_trailer(line: GdvLine) -> Trailer:
    return Trailer(
        record_count=integer(line, 5, 14, "record_count"), broker_number=text(line, 15, 24),
        total_premium=amount(line, 25, 39, None, field="total_premium", required=False),
        total_gross_collection=amount(line, 40, 53, 54, field="total_gross_collection",
                                      required=False),
        total_commission=amount(line, 55, 68, 69, field="total_commission"),
        line_number=line.number)


# ---------------------------------------------------------------- grouping
class _Group:
    """The contract being read: builders until `finish`."""

    def __init__(self, identity: tuple, key: ContractKey):
        self.identity = identity
        self.key = key
        self.partners: list[Partner] = []
        self.contract: ContractRecord | None = None
        self.collections: list[Collection] = []
        self.collection_lines: list[list[CollectionLine]] = []
        self.raw_lines: list[tuple[int, str]] = []
        self.lines_of_business: list[str] = []

    def add_raw(self, line: GdvLine, key: ContractKey | None) -> None:
        self.raw_lines.append((line.number, line.text))
        if key is not None and key.line_of_business \
                and key.line_of_business not in self.lines_of_business:
            self.lines_of_business.append(key.line_of_business)

    def finish(self) -> ContractData:
        collections = [replace(c, lines=tuple(lines))
                       for c, lines in zip(self.collections, self.collection_lines, strict=True)]
        holder = next((p for p in self.partners if p.is_policyholder),
                      self.partners[0] if self.partners else None)
        return ContractData(
            key=self.contract.key if self.contract else self.key, partner=holder,
            contract=self.contract, partners=self.partners, collections=collections,
            raw_lines=self.raw_lines, lines_of_business=self.lines_of_business)


def _sub_record(line: GdvLine, record_type: str) -> int:
    value = line.text[255]
    if value not in _DIGITS:
        raise GdvError(line.number, "sub_record", N_(
            "Line %(line)s, field %(field)s (position 256): %(value)s is not a sub-record "
            "number of record type %(record_type)s."), value=repr(value),
            record_type=record_type)
    return int(value)


def _orphan(line: GdvLine, record_type: str, sub: int | str) -> GdvError:
    return GdvError(line.number, "sub_record", N_(
        "Line %(line)s, field %(field)s: sub-record %(sub)s of record type %(record_type)s "
        "follows no sub-record 1 of the same contract."), sub=sub, record_type=record_type)


def iter_contracts(stream: BinaryIO, summary: GdvSummary | None = None) -> Iterator[ContractData]:
    """Yield the contracts of a GDV file one by one, in file order.

    A contract is the run of consecutive records with the same insurer number,
    policy number (normalised) and sequence number (Folgenummer); the Sparte
    may differ within it (bundles, motor). If the same contract turns up again
    later, its records come as a second ContractData and a warning says so.

    `summary` (optional) is filled while reading: header, counts per record
    type (every line, skipped types included), warnings, and at the end the
    trailer and line count.

    The 9999 trailer is checked when it is read: after every contract but the
    last one has been yielded. A mismatch (or a missing trailer, or any
    malformed line) raises GdvError from the generator at that point, so a
    caller writing to a database must keep everything in one transaction and
    commit only after the generator is exhausted, rolling back on GdvError.
    """
    summary = summary if summary is not None else GdvSummary()
    counts = summary.counts
    warnings = summary.warnings
    group: _Group | None = None
    finished: set[tuple] = set()
    body_seen = False
    last_number = 0

    for number, line_text in iter_lines(stream):
        last_number = number
        summary.line_count += 1
        line = GdvLine(number, line_text)
        record_type = line_text[0:4]
        if not set(record_type) <= _DIGITS:
            raise GdvError(number, "record_type", N_(
                "Line %(line)s, field %(field)s (positions 1-4): %(value)s is not a record "
                "type."), value=repr(record_type))
        counts[record_type] = counts.get(record_type, 0) + 1
        if summary.trailer is not None:
            raise GdvError(number, "record_type", N_(
                "Line %(line)s, field %(field)s: the file goes on after the 9999 trailer."))

        if record_type == "0001":
            if body_seen:
                raise GdvError(number, "record_type", N_(
                    "Line %(line)s, field %(field)s: a second 0001 header after the first "
                    "contract records."))
            if _sub_record(line, record_type) == 1 and summary.header is None:
                summary.header = parse_header(line)
            elif summary.header is None:
                raise _orphan(line, record_type, line_text[255])
            else:
                summary.header = replace(
                    summary.header, line_numbers=summary.header.line_numbers + (number,))
            continue
        if summary.header is None:
            raise GdvError(number, "record_type", N_(
                "Line %(line)s, field %(field)s: a GDV file begins with a 0001 header; this "
                "line is a %(record_type)s record."), record_type=record_type)
        body_seen = True

        if record_type == "9999":
            trailer = parse_trailer(line)
            summary.trailer = trailer
            _check_trailer(trailer, summary)
            if group is not None:
                summary.contract_count += 1
                yield group.finish()
                group = None
            continue

        # Contract records: which contract?
        key = contract_key(line)
        identity = (key.vu_number, key.normalised_policy_number, key.sequence)
        read = record_type in ("0100", "0200", "0400", "0410")
        if read and not key.policy_number:
            raise GdvError(number, "policy_number", N_(
                "Line %(line)s, field %(field)s (positions 14-30): a %(record_type)s record "
                "needs a policy number."), record_type=record_type)
        if not read:
            if record_type not in READ_RECORD_TYPES and not is_known_skipped(record_type) \
                    and counts[record_type] == 1:
                warnings.append(GdvWarning(number, "record_type", N_(
                    "Line %(line)s, field %(field)s: record type %(record_type)s is not "
                    "known; its records are skipped."), {"record_type": record_type}))
            if not key.policy_number:
                # no key of its own: belongs to the contract being read, if any
                if group is not None:
                    group.add_raw(line, None)
                continue
        if group is None or group.identity != identity:
            if group is not None:
                finished.add(group.identity)
                summary.contract_count += 1
                yield group.finish()
            if identity in finished:
                warnings.append(GdvWarning(number, "policy_number", N_(
                    "Line %(line)s, field %(field)s: the records of policy %(policy)s are "
                    "not together in the file; this part is read as a contract of its "
                    "own."), {"policy": key.policy_number}))
            group = _Group(identity, key)
        group.add_raw(line, key)

        if record_type == "0100":
            sub = _sub_record(line, record_type)
            if sub == 1:
                group.partners.append(parse_partner(line))
            elif not group.partners:
                raise _orphan(line, record_type, sub)
            elif sub == 2:
                group.partners[-1] = add_partner_part2(group.partners[-1], line)
            else:
                last = group.partners[-1]
                group.partners[-1] = replace(last, line_numbers=last.line_numbers + (number,))
        elif record_type == "0200":
            sub = _sub_record(line, record_type)
            if sub == 1:
                if group.contract is not None:
                    raise GdvError(number, "policy_number", N_(
                        "Line %(line)s, field %(field)s: a second 0200 record for policy "
                        "%(policy)s (sequence %(sequence)s)."),
                        policy=key.policy_number, sequence=key.sequence)
                group.contract = parse_contract(line, warnings)
                summary.total_premium += group.contract.net_premium
            elif group.contract is None:
                raise _orphan(line, record_type, sub)
            elif sub == 2:
                group.contract = add_contract_part2(group.contract, line)
            else:
                group.contract = replace(
                    group.contract, line_numbers=group.contract.line_numbers + (number,))
        elif record_type == "0400":
            sub = _sub_record(line, record_type)
            if sub == 1:
                collection = parse_collection(line)
                group.collections.append(collection)
                group.collection_lines.append([])
                summary.total_commission += collection.total_commission
            elif not group.collections:
                raise _orphan(line, record_type, sub)
            elif sub == 2:
                group.collections[-1] = add_collection_part2(group.collections[-1], line)
            else:
                last = group.collections[-1]
                group.collections[-1] = replace(last, line_numbers=last.line_numbers + (number,))
        elif record_type == "0410":
            if not group.collections:
                raise GdvError(number, "record_type", N_(
                    "Line %(line)s, field %(field)s: a 0410 record follows no 0400 record of "
                    "the same contract."))
            group.collection_lines[-1].append(parse_collection_line(line))

    if summary.header is None:
        raise GdvError(max(last_number, 1), "record_type", N_(
            "Line %(line)s, field %(field)s: the file holds no GDV records."))
    if summary.trailer is None:
        raise GdvError(last_number, "record_type", N_(
            "Line %(line)s, field %(field)s: the file ends without a 9999 trailer."))


def _check_trailer(trailer: Trailer, summary: GdvSummary) -> None:
    # Every line counts, each sub-record on its own, except the 0001 header
    # lines and this 9999 line (the sample: 165 lines, 2 x 0001, 1 x 9999, 162).
    records = summary.line_count - summary.counts.get("0001", 0) - 1
    if trailer.record_count != records:
        raise GdvError(trailer.line_number, "record_count", N_(
            "Line %(line)s, field %(field)s (positions 5-14): the trailer counts %(expected)s "
            "records, the file has %(actual)s (without 0001 and 9999)."),
            expected=trailer.record_count, actual=records)
    if trailer.total_commission != summary.total_commission:
        raise GdvError(trailer.line_number, "total_commission", N_(
            "Line %(line)s, field %(field)s (positions 55-69): the trailer's total commission "
            "is %(expected)s, the 0400 records add up to %(actual)s."),
            expected=str(trailer.total_commission), actual=str(summary.total_commission))
    if trailer.total_premium is not None and trailer.total_premium != summary.total_premium:
        summary.warnings.append(GdvWarning(trailer.line_number, "total_premium", N_(
            "Line %(line)s, field %(field)s (positions 25-39): the trailer's total premium is "
            "%(expected)s, the 0200 records add up to %(actual)s."),
            {"expected": str(trailer.total_premium), "actual": str(summary.total_premium)}))


def parse_file(stream: BinaryIO) -> GdvFile:
    """The whole file at once (built on iter_contracts): for small files."""
    summary = GdvSummary()
    contracts = list(iter_contracts(stream, summary))
    return GdvFile(header=summary.header, contracts=contracts, counts=dict(summary.counts),
                   warnings=list(summary.warnings), trailer=summary.trailer,
                   line_count=summary.line_count)
