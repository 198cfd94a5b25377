"""The pure GDV reader (app/domain/gdv.py) against the real sample file of the
format and corrupted or extended copies of it."""
from __future__ import annotations

import datetime as dt
import gc
import inspect
import io
import os
import weakref
from decimal import Decimal
from pathlib import Path

import pytest

from app.domain import gdv
from app.domain.errors import DomainError
from app.domain.gdv import (
    CONTRACT_STATUS,
    PAYMENT_FREQUENCY,
    GdvError,
    GdvLine,
    GdvSummary,
    amount,
    date,
    decode,
    iter_contracts,
    iter_lines,
    normalise_policy_number,
    parse_file,
    text,
)

SAMPLE_NAME = "musterdatei_041222.txt"
_HERE = Path(__file__).resolve()
SAMPLE_CANDIDATES = [
    Path(os.environ["GDV_SAMPLE"]) if os.environ.get("GDV_SAMPLE") else None,
    _HERE.parents[1] / "data" / "gdv" / SAMPLE_NAME,
    _HERE.parents[3] / "shared" / "testdata" / "gdv" / SAMPLE_NAME,
]


@pytest.fixture(scope="module")
def sample() -> bytes:
    for path in SAMPLE_CANDIDATES:
        if path is not None and path.is_file():
            return path.read_bytes()
    pytest.fail(f"GDV sample {SAMPLE_NAME} not found in {SAMPLE_CANDIDATES}")


@pytest.fixture(scope="module")
def sample_file(sample) -> gdv.GdvFile:
    return parse_file(io.BytesIO(sample))


# ---------------------------------------------------------------- helpers
def lines_of(data: bytes) -> list[bytes]:
    assert data.endswith(b"\n")
    return data[:-1].split(b"\n")


def join(lines: list[bytes]) -> bytes:
    return b"\n".join(lines) + b"\n"


def put(line: bytes, start: int, value: bytes | str) -> bytes:
    """`value` written over the line from position `start` (1-based)."""
    if isinstance(value, str):
        value = value.encode("latin-1")
    assert start - 1 + len(value) <= len(line)
    return line[:start - 1] + value + line[start - 1 + len(value):]


def blank_record(record_type: str, key_from: bytes, sub_record: str | None = None) -> bytes:
    """A 256-byte record with the contract key (5-42) of `key_from`."""
    line = record_type.encode() + key_from[4:42] + b" " * 214
    if sub_record is not None:
        line = put(line, 256, sub_record)
    assert len(line) == 256
    return line


def set_trailer(lines: list[bytes], count: int | None = None,
                commission: str | None = None) -> None:
    """Rewrite the trailer (last line): record count, total commission."""
    if count is not None:
        lines[-1] = put(lines[-1], 5, b"%010d" % count)
    if commission is not None:
        lines[-1] = put(lines[-1], 55, commission)


def parse(data: bytes) -> gdv.GdvFile:
    return parse_file(io.BytesIO(data))


def error_of(data: bytes) -> GdvError:
    with pytest.raises(GdvError) as info:
        parse(data)
    return info.value


def by_policy(file: gdv.GdvFile, number: str) -> gdv.ContractData:
    (found,) = [c for c in file.contracts if c.policy_number == number]
    return found


# ---------------------------------------------------------------- the sample
def test_the_sample_has_fourteen_contracts_of_insurer_9999(sample_file):
    assert len(sample_file.contracts) == 14
    assert {c.key.vu_number for c in sample_file.contracts} == {"9999"}
    assert [c.policy_number for c in sample_file.contracts] == [
        str(n) for n in range(59999999999, 59999999985, -1)]
    assert sample_file.line_count == 165
    assert sample_file.warnings == []


def test_the_sample_header(sample_file):
    header = sample_file.header
    assert header.vu_number == "9999"
    assert header.sender == "XXX Versicherung AG"
    assert header.addressee == "BRBRIENNEE,JÜRGEN"
    assert header.period_from == dt.date(2004, 7, 22)
    assert header.period_to == dt.date(2004, 7, 22)
    assert header.broker_number == "9999009999"
    # the header has two sub-records in the sample
    assert header.line_numbers == (1, 2)


def test_the_sample_counts_every_record_type(sample_file):
    assert sample_file.counts == {"0001": 2, "0100": 41, "0200": 14, "0210": 15, "0211": 11,
                                  "0220": 50, "0221": 31, "9999": 1}
    assert sum(sample_file.counts.values()) == 165


def test_the_sample_trailer_counts_every_line_but_0001_and_9999(sample_file):
    trailer = sample_file.trailer
    assert trailer.line_number == 165
    # 165 lines - 2 x 0001 - 1 x 9999: every sub-record is a record of its own
    assert trailer.record_count == 162
    assert trailer.record_count == sum(
        n for t, n in sample_file.counts.items() if t not in ("0001", "9999"))
    # no 0400 in the sample: the total commission is zero, the 0400 sum too
    assert trailer.total_commission == Decimal("0.00")
    assert isinstance(trailer.total_commission, Decimal)
    # the total premium is the sum of the 0200 net premiums
    assert trailer.total_premium == Decimal("4806.00")
    assert sum(c.contract.net_premium for c in sample_file.contracts) == Decimal("4806.00")


def test_the_policyholder_of_a_sample_contract(sample_file):
    data = sample_file.contracts[0]
    partner = data.partner
    assert partner is data.partners[0]
    assert partner.is_policyholder and partner.address_marker == "01"
    assert (partner.salutation_key, partner.name1, partner.name2, partner.name3) == (
        "2", "Kitzelpfütze", "", "Martina")
    assert (partner.country, partner.postcode, partner.city, partner.street) == (
        "D", "52222", "Stolberg (Rhld.)", "Sebeneteriestr. 44")
    assert partner.birth_date == dt.date(1979, 11, 11)
    assert partner.gender == "2"
    # sub-record 2 merged in
    assert partner.customer_number_insurer == "B4LTTT"
    assert partner.customer_number_broker is None
    assert partner.line_numbers == (3, 4)
    assert partner.key.policy_number == "59999999999"

    fresy = by_policy(sample_file, "59999999995").partner
    assert (fresy.name1, fresy.name3, fresy.title, fresy.city) == (
        "Fresy", "Wilhelm", "Dottore", "Hürth")
    assert fresy.birth_date == dt.date(1979, 12, 12)
    # sub-record 3 (communication) is kept as a line of the partner, not read
    assert fresy.line_numbers == (58, 59, 60)


def test_the_policyholder_is_the_partner_with_address_marker_01(sample):
    lines = lines_of(sample)
    insured = put(put(lines[2], 44, "Kitzelpfütze junior".ljust(30)), 237, "02")
    lines.insert(2, insured)                 # line 3: marker 02, before the policyholder
    set_trailer(lines, count=163)
    data = parse(join(lines)).contracts[0]
    assert [p.name1 for p in data.partners] == ["Kitzelpfütze junior", "Kitzelpfütze"]
    assert data.partner.name1 == "Kitzelpfütze" and data.partner.line_numbers == (4, 5)
    assert data.partners[0].line_numbers == (3,)

    lines[3] = put(lines[3], 237, "03")       # no 01 at all: the first partner
    data = parse(join(lines)).contracts[0]
    assert data.partner.name1 == "Kitzelpfütze junior"


def test_a_sample_contract(sample_file):
    data = by_policy(sample_file, "59999999998")
    contract = data.contract
    assert contract.key == gdv.ContractKey("9999", "", "030", "59999999998", "01", "9999009999")
    assert contract.start_date == dt.date(2004, 5, 1)
    assert contract.end_date == dt.date(2009, 5, 1)
    assert contract.main_due_date == dt.date(2005, 5, 1)
    assert (contract.payment_frequency_code, contract.payment_frequency) == ("8", "MONTHLY")
    assert (contract.status_code, contract.status) == ("1", "ACTIVE")
    assert (contract.collection_type_code, contract.collection_type) == ("2", "INSURER")
    assert contract.exit_reason is None and contract.exit_date is None
    assert contract.currency == "EUR"
    assert contract.net_premium == Decimal("25.50")
    assert str(contract.net_premium) == "25.50"
    assert contract.customer_number_insurer == "W45WWW"
    assert contract.line_numbers == (16,)
    # the sample's 0200 has no sub-record 2 (an older release): no product name
    assert contract.product_name is None and contract.gross_premium is None
    assert contract.broker_register_number is None and contract.policed_date is None


def test_sample_payment_frequencies_and_premiums(sample_file):
    found = {c.policy_number: (c.contract.payment_frequency, c.contract.net_premium)
             for c in sample_file.contracts}
    assert found["59999999999"] == ("YEARLY", Decimal("411.41"))
    assert found["59999999991"] == ("SINGLE", Decimal("630.00"))
    assert found["59999999988"] == ("HALF_YEARLY", Decimal("184.78"))
    assert found["59999999990"] == ("YEARLY", Decimal("1107.95"))


def test_records_are_grouped_per_contract_with_their_raw_lines(sample, sample_file):
    decoded = decode(sample).split("\n")
    covered = []
    for data in sample_file.contracts:
        numbers = [n for n, _ in data.raw_lines]
        assert numbers == list(range(data.first_line, data.last_line + 1))
        for number, raw in data.raw_lines:
            assert raw == decoded[number - 1] and len(raw) == 256
        covered += numbers
    # every line but the header and the trailer belongs to one contract
    assert covered == list(range(3, 165))
    motor = by_policy(sample_file, "59999999990")
    assert (motor.first_line, motor.last_line) == (106, 117)
    assert motor.key.line_of_business == "050"
    assert motor.lines_of_business == ["050", "051", "053", "054"]
    bundle = by_policy(sample_file, "59999999986")
    assert bundle.key.bundling == "1" and bundle.key.line_of_business == "000"
    assert bundle.lines_of_business == ["000", "040", "130"]
    assert bundle.partner.name1 == "Auszeilerbx" and bundle.partner.city == "Hamburg"


def test_iter_contracts_yields_the_same_as_parse_file(sample, sample_file):
    summary = GdvSummary()
    contracts = iter_contracts(io.BytesIO(sample), summary)
    assert inspect.isgenerator(contracts)
    assert list(contracts) == sample_file.contracts
    assert summary.header == sample_file.header
    assert summary.trailer == sample_file.trailer
    assert summary.counts == sample_file.counts
    assert summary.contract_count == 14


# ---------------------------------------------------------------- line reading
def test_line_ends_and_trailing_blank_lines_are_accepted(sample, sample_file):
    crlf = sample.replace(b"\n", b"\r\n")
    variants = [crlf, sample[:-1], sample + b"\x1a", sample + b"\n\n", crlf + b"\x1a",
                sample[:-1] + b"\x1a", sample + b" " * 256 + b"\n"]
    for data in variants:
        assert parse(data).contracts == sample_file.contracts


def test_iter_lines_yields_numbered_decoded_lines():
    lines = [b"0001" + b"x" * 251 + b"1", b"9999" + b"\xfc" * 252]
    assert list(iter_lines(io.BytesIO(b"\r\n".join(lines) + b"\r\n"))) == [
        (1, "0001" + "x" * 251 + "1"), (2, "9999" + "ü" * 252)]


def test_a_blank_line_before_more_data_is_an_error(sample):
    lines = lines_of(sample)
    err = error_of(join(lines[:10] + [b""] + lines[10:]))
    assert (err.line, err.field, err.params["length"]) == (11, "line", 0)


def test_an_overlong_line_is_counted_not_held():
    data = b"0001" + b"9" * 5000 + b"\n" + b"9" * 256 + b"\n"
    with pytest.raises(GdvError) as info:
        list(iter_lines(io.BytesIO(data)))
    assert (info.value.line, info.value.field, info.value.params["length"]) == (1, "line", 5004)


def test_cp1252_and_iso_8859_1_decode():
    # ISO-8859-1 umlauts, CP1252's euro sign (0x80) and quotes; 0x81 is not
    # defined in CP1252 and stays what ISO-8859-1 says
    assert decode(b"\xc4\xd6\xdc\xe4\xf6\xfc\xdf") == "ÄÖÜäöüß"
    assert decode(b"\x80 \x84\x93 \x81") == "€ „“ \x81"
    assert len(decode(bytes(range(256)))) == 256


def test_a_euro_sign_and_umlauts_in_a_partner_name(sample):
    lines = lines_of(sample)
    lines[2] = put(lines[2], 44, b"Gr\xf6\xdfe \x80 M\xfcller".ljust(30))
    partner = parse(join(lines)).contracts[0].partner
    assert partner.name1 == "Größe € Müller"


# ---------------------------------------------------------------- broken files
def _shorten(lines):
    lines[9] = lines[9][:-1]


def _lengthen(lines):
    lines[19] = lines[19] + b" "


def _bad_start_date(lines):
    lines[15] = put(lines[15], 44, "31022004")


def _bad_birth_date(lines):
    lines[12] = put(lines[12], 226, "1x111979")


def _bad_net_premium(lines):
    lines[4] = put(lines[4], 116, "0000000411A1")


def _wrong_count(lines):
    set_trailer(lines, count=161)


def _wrong_commission(lines):
    set_trailer(lines, commission="00000000000100")


def _negative_commission_sign(lines):
    # the trailer's 0.00 with a "-" sign is still 0.00: fine; "1.00-" is not
    set_trailer(lines, commission="00000000000100-")


def _bad_commission_sign(lines):
    lines[-1] = put(lines[-1], 69, "*")


def _missing_trailer(lines):
    del lines[-1]


def _after_trailer(lines):
    lines.append(lines[3])


def _no_header(lines):
    del lines[0:2]


def _record_type(lines):
    lines[30] = put(lines[30], 1, "02X0")


def _bad_sub_record(lines):
    lines[3] = put(lines[3], 256, "X")


@pytest.mark.parametrize("corrupt, line, field", [
    (_shorten, 10, "line"),
    (_lengthen, 20, "line"),
    (_bad_start_date, 16, "start_date"),
    (_bad_birth_date, 13, "birth_date"),
    (_bad_net_premium, 5, "net_premium"),
    (_wrong_count, 165, "record_count"),
    (_wrong_commission, 165, "total_commission"),
    (_negative_commission_sign, 165, "total_commission"),
    (_bad_commission_sign, 165, "total_commission"),
    (_missing_trailer, 164, "record_type"),
    (_after_trailer, 166, "record_type"),
    (_no_header, 1, "record_type"),
    (_record_type, 31, "record_type"),
    (_bad_sub_record, 4, "sub_record"),
])
def test_a_corrupted_copy_names_line_and_field(sample, corrupt, line, field):
    lines = lines_of(sample)
    corrupt(lines)
    err = error_of(join(lines))
    assert (err.line, err.field) == (line, field)
    assert isinstance(err, DomainError)
    # the message (a msgid) names both; the web layer formats it with params
    assert err.params["line"] == line and err.params["field"] == field
    assert str(err) == err.message % err.params
    assert str(err).startswith(f"Line {line}, field {field}")


def test_length_error_reports_the_length(sample):
    lines = lines_of(sample)
    lines[9] = lines[9][:-1]
    err = error_of(join(lines))
    assert err.params["length"] == 255
    assert "this one has 255" in str(err)


def test_an_empty_file_is_an_error():
    for data in (b"", b"\n", b"\x1a"):
        with pytest.raises(GdvError) as info:
            parse(data)
        assert info.value.field == "record_type"


def test_the_trailer_check_fails_after_the_other_contracts_were_yielded(sample):
    """The caller must keep its writes in one transaction until the end."""
    lines = lines_of(sample)
    set_trailer(lines, count=1)
    yielded = []
    with pytest.raises(GdvError) as info:
        for data in iter_contracts(io.BytesIO(join(lines))):
            yielded.append(data)
    assert info.value.line == 165 and info.value.field == "record_count"
    assert len(yielded) == 13


def test_unknown_codes_are_reported_not_guessed(sample):
    lines = lines_of(sample)
    lines[4] = put(lines[4], 68, "7")   # Zahlungsweise
    lines[4] = put(lines[4], 69, "9")   # Vertragsstatus
    file = parse(join(lines))
    contract = file.contracts[0].contract
    assert (contract.payment_frequency_code, contract.payment_frequency) == ("7", None)
    assert (contract.status_code, contract.status) == ("9", None)
    assert [(w.line, w.field, w.params["code"]) for w in file.warnings] == [
        (5, "payment_frequency", "7"), (5, "status", "9")]
    assert file.warnings[0].text.startswith("Line 5, field payment_frequency")
    assert "7" not in PAYMENT_FREQUENCY and "9" not in CONTRACT_STATUS


def test_a_wrong_total_premium_is_a_warning(sample):
    lines = lines_of(sample)
    lines[-1] = put(lines[-1], 25, "000000000480601")
    file = parse(join(lines))
    assert [(w.line, w.field) for w in file.warnings] == [(165, "total_premium")]


# ---------------------------------------------------------------- 0200/2, 0400, 0410
def _with_sub_record_2(sample: bytes) -> bytes:
    lines = lines_of(sample)
    part2 = blank_record("0200", lines[15], "2")
    part2 = put(part2, 72, "000000003035")
    part2 = put(part2, 114, "Hausrat Komfort")
    part2 = put(part2, 147, "15052004")
    part2 = put(part2, 155, "D-ABCD-EFGHI-12")
    lines.insert(16, part2)
    set_trailer(lines, count=163)
    return join(lines)


def test_0200_sub_record_2_is_merged(sample):
    file = parse(_with_sub_record_2(sample))
    contract = by_policy(file, "59999999998").contract
    assert contract.product_name == "Hausrat Komfort"
    assert contract.gross_premium == Decimal("30.35")
    assert contract.policed_date == dt.date(2004, 5, 15)
    assert contract.broker_register_number == "D-ABCD-EFGHI-12"
    assert contract.line_numbers == (16, 17)
    assert contract.net_premium == Decimal("25.50")
    assert file.counts["0200"] == 15


def _with_collections(sample: bytes, commission_lines: bytes = b"00000001250+") -> bytes:
    """Contract 59999999998 (lines 13-23) gets a 0400 (two sub-records) and a
    0410 after its line 23; trailer adjusted."""
    lines = lines_of(sample)
    key = lines[12]
    first = blank_record("0400", key, "1")
    first = put(first, 44, "01")
    first = put(first, 46, "15082004")
    first = put(first, 54, "01082004")
    first = put(first, 62, "31082004")
    first = put(first, 110, "00000002550+")
    first = put(first, 151, commission_lines)
    second = blank_record("0400", key, "2")
    second = put(second, 43, "REF-4711")
    second = put(second, 77, "Pollsmann, Rudolf")
    second = put(second, 107, "00000001300-")
    detail = blank_record("0410", key)
    detail = put(detail, 59, "00000002550+")
    # block 1: 25.50 at 5.00 % = 1.28 initial commission
    detail = put(detail, 87, "00000002550+" + "00500" + "00000000128+" + "1")
    # block 2: a reversal of 0.03
    detail = put(detail, 117, "00000000000 " + "00000" + "00000000003-" + "2")
    # block 3: zero-filled without kind: not a commission
    detail = put(detail, 147, "00000000000+" + "00000" + "00000000000+" + " ")
    lines[23:23] = [first, second, detail]
    set_trailer(lines, count=165, commission="00000000001250+")
    return join(lines)


def test_collections_with_their_lines(sample):
    file = parse(_with_collections(sample))
    data = by_policy(file, "59999999998")
    assert data.last_line == 26
    (collection,) = data.collections
    assert collection.kind == "01"
    assert collection.booking_date == dt.date(2004, 8, 15)
    assert (collection.period_from, collection.period_to) == (dt.date(2004, 8, 1),
                                                              dt.date(2004, 8, 31))
    assert collection.net_premium == Decimal("25.50")
    assert collection.total_commission == Decimal("12.50")
    assert collection.insurer_reference == "REF-4711"
    assert collection.policyholder_name == "Pollsmann, Rudolf"
    assert collection.settlement_amount == Decimal("-13.00")
    assert collection.line_numbers == (24, 25)
    (detail,) = collection.lines
    assert detail.line_number == 26 and detail.net_premium == Decimal("25.50")
    assert detail.commissions == (
        gdv.Commission(1, Decimal("25.50"), Decimal("5.00"), Decimal("1.28"), "1"),
        gdv.Commission(2, Decimal("0.00"), Decimal("0.00"), Decimal("-0.03"), "2"),
    )
    assert all(isinstance(v, Decimal) for c in detail.commissions
               for v in (c.basis, c.rate, c.amount))
    assert file.counts["0400"] == 2 and file.counts["0410"] == 1
    assert file.trailer.total_commission == Decimal("12.50")


def test_the_total_commission_is_the_sum_of_the_0400_commissions(sample):
    data = _with_collections(sample)
    lines = lines_of(data)
    set_trailer(lines, commission="00000000001249+")
    err = error_of(join(lines))
    assert (err.line, err.field) == (168, "total_commission")
    assert err.params["actual"] == "12.50"


def test_a_bad_amount_in_a_0400_names_its_line(sample):
    err = error_of(_with_collections(sample, commission_lines=b"0000000125O+"))
    assert (err.line, err.field) == (24, "total_commission")


def test_a_0410_without_0400_is_an_error(sample):
    lines = lines_of(sample)
    lines.insert(23, blank_record("0410", lines[12]))
    set_trailer(lines, count=163)
    err = error_of(join(lines))
    assert (err.line, err.field) == (24, "record_type")


# ---------------------------------------------------------------- field helpers
def test_policy_number_normalisation():
    assert normalise_policy_number("      59999999999") == "59999999999"
    assert normalise_policy_number(" 000123 ") == "123"
    assert normalise_policy_number("0000") == "0"
    assert normalise_policy_number("AB-0012 ") == "AB-0012"
    assert normalise_policy_number("0012/34") == "0012/34"
    assert normalise_policy_number("") == "" and normalise_policy_number(None) == ""


def test_field_helpers():
    line = GdvLine(7, "ab  cd  " + "0000012345-" + "01022004" + "00000000" + "        "
                   + "31022004" + "0000012345 " + "00001234")
    assert text(line, 1, 4) == "ab" and text(line, 3, 8) == "cd"
    assert amount(line, 9, 18, 19) == Decimal("-123.45")
    assert amount(line, 9, 18, None) == Decimal("123.45")
    assert amount(line, 63, 70, None, decimals=3) == Decimal("1.234")
    assert amount(line, 52, 61, 62) == Decimal("123.45")  # blank sign = +
    assert str(amount(line, 9, 18, 19)) == "-123.45"
    assert date(line, 20, 27) == dt.date(2004, 2, 1)
    assert date(line, 28, 35) is None and date(line, 36, 43) is None
    assert amount(line, 36, 43, None, required=False) is None
    with pytest.raises(GdvError) as info:
        date(line, 44, 51, "start_date")
    assert (info.value.line, info.value.field) == (7, "start_date")
    with pytest.raises(GdvError) as info:
        amount(line, 36, 43, None, field="premium")
    assert (info.value.line, info.value.field) == (7, "premium")
    with pytest.raises(GdvError):
        amount(line, 1, 4, None)
    # superscript digits are not digits here
    with pytest.raises(GdvError):
        amount(GdvLine(1, "12²"), 1, 3, None)
    assert amount("0000000000-", 1, 10, 11) == Decimal("0.00")
    assert not amount("0000000000-", 1, 10, 11).is_signed()


# ---------------------------------------------------------------- streaming
class GeneratedStream(io.RawIOBase):
    """A file produced chunk by chunk: `produced` says how much was read."""

    def __init__(self, chunks):
        self._chunks = iter(chunks)
        self._buffer = b""
        self.produced = 0

    def readable(self):
        return True

    def readinto(self, target):
        while not self._buffer:
            chunk = next(self._chunks, None)
            if chunk is None:
                return 0
            self._buffer = chunk
        n = min(len(target), len(self._buffer))
        target[:n] = self._buffer[:n]
        self._buffer = self._buffer[n:]
        self.produced += n
        return n


CONTRACTS = 20_000


def _synthetic_chunks(sample: bytes):
    lines = lines_of(sample)
    header, template, trailer = lines[0:2], lines[2:5], lines[-1]  # 0100/1, 0100/2, 0200
    yield join(header)
    for i in range(CONTRACTS):
        number = b"%17d" % (70_000_000_000 + i)
        yield join([put(line, 14, number) for line in template])
    trailer = put(trailer, 5, b"%010d" % (3 * CONTRACTS))
    trailer = put(trailer, 25, b"%015d" % (41141 * CONTRACTS))
    yield join([trailer])


def test_a_large_file_is_read_contract_by_contract(sample):
    raw = GeneratedStream(_synthetic_chunks(sample))
    total = 2 * 257 + CONTRACTS * 3 * 257 + 257
    summary = GdvSummary()
    contracts = iter_contracts(io.BufferedReader(raw), summary)
    assert inspect.isgenerator(contracts)
    assert raw.produced == 0

    first = next(contracts)
    # yielded after reading the beginning of the file only
    assert raw.produced < 64 * 1024
    assert summary.header.vu_number == "9999" and summary.trailer is None
    assert first.policy_number == "70000000000"
    assert [n for n, _ in first.raw_lines] == [3, 4, 5]
    gone = weakref.ref(first)
    del first

    count = 1
    for data in contracts:
        count += 1
        assert len(data.raw_lines) == 3
        if count == 100:
            gc.collect()
            assert gone() is None  # the reader keeps no finished contract
            assert raw.produced < total // 100
    assert count == CONTRACTS
    assert data.policy_number == str(70_000_000_000 + CONTRACTS - 1)
    assert data.contract.net_premium == Decimal("411.41")
    assert raw.produced == total
    assert summary.trailer.record_count == 3 * CONTRACTS
    assert summary.counts == {"0001": 2, "0100": 2 * CONTRACTS, "0200": CONTRACTS, "9999": 1}
    assert summary.contract_count == CONTRACTS
    assert summary.warnings == []
