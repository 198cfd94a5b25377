"""Commission statements as CSV or Excel, read through a mapping profile."""
import io
import json
from datetime import date, datetime
from decimal import Decimal

import pytest
from openpyxl import Workbook

from app.domain.errors import DomainError, InvalidValueError
from app.domain.receipt_import import (
    FileErrors,
    LineError,
    Profile,
    ReceiptLine,
    normalise_policy_number,
    parse_all,
    parse_amount,
    read_lines,
    validate_file,
)

COLUMNS = {"policy_number": "Vertragsnummer", "amount": "Betrag", "value_date": "Valuta",
           "kind": "Provisionsart", "reference": "Beleg", "customer_name": "Kunde",
           "line_of_business": "Sparte"}
KIND_MAP = {"Abschlussprovision": "AP", "AP": "AP", "Folgeprovision": "FP",
            "Bestandsprovision": "FP", "AP ZV": "AP_ZV"}
HEADER = "Vertragsnummer;Betrag;Valuta;Provisionsart;Beleg;Kunde;Sparte"


def profile(**changes) -> Profile:
    settings = {"name": "Alpha Leben CSV", "insurer_vu_number": "9999", "file_type": "csv",
                "columns": COLUMNS, "kind_map": KIND_MAP}
    settings.update(changes)
    return Profile.from_dict(settings)


def csv_bytes(*lines, encoding="utf-8", header=HEADER) -> io.BytesIO:
    return io.BytesIO("\r\n".join([header, *lines, ""]).encode(encoding))


def first_error(stream, prof=None) -> LineError:
    with pytest.raises(LineError) as caught:
        list(read_lines(stream, prof or profile()))
    return caught.value


# --------------------------------------------------------------------------- CSV

def test_a_german_csv_is_read_line_by_line():
    stream = csv_bytes(
        "000123;1.234,56;31.10.2026;Abschlussprovision;R-1;Anna Alt;010",
        "",                                                   # blank line: skipped
        " 456 ;-757,20;01.11.2026;folgeprovision;;;",
        "ABC-0789;\"757,20-\";5.11.2026;  ap   zv ;R-3;;",
        ";;;;;;",                                             # only separators: skipped
        "0000;1234,5;30.11.2026;BESTANDSPROVISION;R-4;;040",
    )
    lines = parse_all(stream, profile())
    assert lines == [
        ReceiptLine(2, "123", Decimal("1234.56"), date(2026, 10, 31), "AP", "R-1",
                    "Anna Alt", "010"),
        ReceiptLine(4, "456", Decimal("-757.20"), date(2026, 11, 1), "FP", None, None, None),
        ReceiptLine(5, "ABC-0789", Decimal("-757.20"), date(2026, 11, 5), "AP_ZV", "R-3",
                    None, None),
        ReceiptLine(7, "0", Decimal("1234.50"), date(2026, 11, 30), "FP", "R-4", None, "040"),
    ]
    assert str(lines[3].amount) == "1234.50"


def test_a_cp1252_file_with_umlauts_and_title_lines_above_the_header():
    text = "\r\n".join([
        "Provisionsabrechnung Oktober 2026;;;;",
        "Gesellschaft: Süddeutsche Lebensversicherung AG;;;;",
        "Vers.-Nr.;Provisionsbetrag;Wertstellung;Provisionsart;Versicherungsnehmer",
        "4711;987,65;31.10.2026;Abschlussprovision;Jürgen Größ",
        "4712;70,00;31.10.2026;Folgeprovision;Ölmühle Weiß & Söhne",
        "",
    ]).encode("cp1252")
    prof = profile(encoding="cp1252", header_row=3, columns={
        "policy_number": "Vers.-Nr.", "amount": "Provisionsbetrag",
        "value_date": "Wertstellung", "kind": "Provisionsart",
        "customer_name": "Versicherungsnehmer"})
    lines = parse_all(io.BytesIO(text), prof)
    assert [(ln.line, ln.customer_name, ln.amount) for ln in lines] == [
        (4, "Jürgen Größ", Decimal("987.65")),
        (5, "Ölmühle Weiß & Söhne", Decimal("70.00")),
    ]
    # The same bytes as ISO-8859-1: these letters are the same there.
    assert parse_all(io.BytesIO(text), profile(**{**prof.to_dict(),
                                                  "encoding": "iso-8859-1"})) == lines


def test_a_cp1252_file_under_a_utf8_profile_names_the_line():
    stream = csv_bytes("1;1,00;01.10.2026;AP;;Anna;", "2;2,00;01.10.2026;AP;;Jürgen;",
                       encoding="cp1252")
    error = first_error(stream)
    assert (error.line, error.field) == (3, "encoding")
    assert "utf-8-sig" in str(error)


def test_a_utf8_byte_order_mark_wins_over_the_profile_encoding():
    stream = io.BytesIO("\ufeff".encode() + csv_bytes(
        "1;1,00;01.10.2026;AP;;Jürgen;").getvalue())
    [line] = parse_all(stream, profile(encoding="cp1252"))
    assert line.customer_name == "Jürgen"


def test_comma_separated_with_decimal_point():
    header = HEADER.replace(";", ",")
    stream = csv_bytes('1,"1,234.56",2026-10-31,AP,,,', "2,-0.5,2026-10-31,AP,,,",
                       header=header)
    lines = parse_all(stream, profile(separator=",", decimal_comma=False,
                                      date_format="%Y-%m-%d"))
    assert [ln.amount for ln in lines] == [Decimal("1234.56"), Decimal("-0.50")]


def test_header_texts_match_without_case_and_extra_blanks():
    header = " vertragsnummer ;BETRAG;Valuta;Provisions art;Beleg"
    prof = profile(columns={**{k: v for k, v in COLUMNS.items()
                               if k not in ("customer_name", "line_of_business")},
                            "kind": "Provisions  Art"})
    [line] = parse_all(csv_bytes("7;1,00;01.10.2026;AP;X", header=header), prof)
    assert line.policy_number == "7"


def test_quoted_fields_over_several_lines_keep_the_line_numbers():
    stream = csv_bytes('1;1,00;01.10.2026;AP;;"Anna\r\nAlt";', "2;x;01.10.2026;AP;;;")
    error = first_error(stream)
    assert (error.line, error.field) == (4, "amount")


def test_an_unclosed_quote_is_an_error_and_does_not_swallow_the_lines_after_it():
    stream = csv_bytes('1;1,00;01.10.2026;AP;"R-1;;', "2;2,00;01.10.2026;AP;R-2;;")
    with pytest.raises(FileErrors) as caught:
        parse_all(stream, profile())
    assert [(e.line, e.field) for e in caught.value.errors] == [(2, "file")]


# --------------------------------------------------------------------------- kinds

def test_kinds_map_without_case_and_blanks():
    stream = csv_bytes(*(f"{i};1,00;01.10.2026;{word};;;" for i, word in enumerate(
        ["ABSCHLUSSPROVISION", "abschlussprovision", " ap ", "Ap  Zv", "bestandsProvision"])))
    assert [ln.kind for ln in parse_all(stream, profile())] == ["AP", "AP", "AP", "AP_ZV", "FP"]


def test_an_unknown_kind_is_an_error_without_default_kind():
    error = first_error(csv_bytes("1;1,00;01.10.2026;AP;;;", "2;1,00;01.10.2026;Storno;;;"))
    assert (error.line, error.field) == (3, "kind")
    assert '"Storno"' in str(error) and "Abschlussprovision" in str(error)


def test_default_kind_for_unknown_or_empty_kinds_and_without_a_kind_column():
    lines = parse_all(csv_bytes("1;1,00;01.10.2026;Sonstiges;;;", "2;1,00;01.10.2026;;;;",
                                "3;1,00;01.10.2026;AP;;;"), profile(default_kind="FP"))
    assert [ln.kind for ln in lines] == ["FP", "FP", "AP"]
    columns = {k: v for k, v in COLUMNS.items() if k != "kind"}
    prof = profile(columns=columns, kind_map={}, default_kind="fp")
    assert prof.default_kind == "FP"
    assert parse_all(csv_bytes("1;1,00;01.10.2026;;;;"), prof)[0].kind == "FP"


# --------------------------------------------------------------------------- line errors

def test_a_bad_number_names_line_3_and_the_amount():
    error = first_error(csv_bytes("1;1,00;01.10.2026;AP;;;", "2;12.5;01.10.2026;AP;;;"))
    assert (error.line, error.field) == (3, "amount")
    assert isinstance(error, DomainError)
    assert error.params == {"line": 3, "field": "amount", "value": "12.5"}
    assert str(error) == 'Line 3, amount: "12.5" is not a valid amount.'


def test_a_bad_date_names_line_4_and_the_value_date():
    error = first_error(csv_bytes("1;1,00;01.10.2026;AP;;;", "2;1,00;01.10.2026;AP;;;",
                                  "3;1,00;31.02.2026;AP;;;"))
    assert (error.line, error.field) == (4, "value_date")
    assert str(error) == ('Line 4, value_date: "31.02.2026" is not a date of the form '
                          'DD.MM.YYYY.')


def test_more_than_two_decimals_is_an_error_not_rounded():
    error = first_error(csv_bytes("1;12,345;01.10.2026;AP;;;"))
    assert (error.line, error.field) == (2, "amount")
    assert "more than 2 decimal places" in str(error)
    # trailing zeros are no extra precision
    assert parse_all(csv_bytes("1;12,340;01.10.2026;AP;;;"), profile())[0].amount \
        == Decimal("12.34")


def test_an_empty_required_field_names_its_column():
    error = first_error(csv_bytes(";1,00;01.10.2026;AP;;;"))
    assert (error.line, error.field) == (2, "policy_number")
    assert error.params["column"] == "Vertragsnummer"
    error = first_error(csv_bytes("1;1,00;01.10.2026"))  # a short line
    assert (error.line, error.field) == (2, "kind")


def test_a_missing_mapped_column_in_the_header_names_line_and_column():
    header = "Vertragsnummer;Betrag;Datum;Provisionsart;Beleg;Kunde;Sparte"
    error = first_error(csv_bytes("1;1,00;01.10.2026;AP;;;", header=header))
    assert (error.line, error.field) == (1, "value_date")
    assert error.params["column"] == "Valuta"
    assert str(error) == 'Line 1, value_date: the header has no column "Valuta".'
    # under a header further down, that line is named
    error = first_error(io.BytesIO(b"Abrechnung\r\n\r\n" + csv_bytes(header=header).getvalue()),
                        profile(header_row=3))
    assert (error.line, error.field) == (3, "value_date")


def test_a_column_twice_in_the_header_is_ambiguous():
    error = first_error(csv_bytes(header=HEADER + ";Betrag"))
    assert (error.line, error.field) == (1, "amount")


def test_an_empty_file_lacks_its_header():
    error = first_error(io.BytesIO(b""))
    assert (error.line, error.field) == (1, "policy_number")


def test_read_lines_streams_the_good_lines_before_the_bad_one():
    lines = read_lines(csv_bytes("1;1,00;01.10.2026;AP;;;", "2;x;01.10.2026;AP;;;"), profile())
    assert next(lines).policy_number == "1"
    with pytest.raises(LineError):
        next(lines)


def test_too_long_values_for_the_database():
    error = first_error(csv_bytes("1;1,00;01.10.2026;AP;" + "R" * 81 + ";;"))
    assert (error.line, error.field) == (2, "reference")
    error = first_error(csv_bytes("1;12.345.678.901,00;01.10.2026;AP;;;"))
    assert (error.line, error.field) == (2, "amount")


# --------------------------------------------------------------------------- parse_all

def test_parse_all_lists_every_bad_line_at_once():
    stream = csv_bytes(
        "1;1,00;01.10.2026;AP;;;",
        "2;abc;01.10.2026;AP;;;",           # line 3: amount
        "3;1,00;1.13.2026;AP;;;",           # line 4: date
        "4;1,00;01.10.2026;Storno;;;",      # line 5: kind
        "5;1,001;2026-10-01;;;;",           # line 6: amount, date, kind
        ";1,00;01.10.2026;AP;;;",           # line 7: policy number
        "8;8,00;01.10.2026;FP ;;;",         # unknown: "FP" is not in this kind map
    )
    with pytest.raises(FileErrors) as caught:
        parse_all(stream, profile())
    errors = caught.value
    assert [(e.line, e.field) for e in errors.errors] == [
        (3, "amount"), (4, "value_date"), (5, "kind"), (6, "amount"), (6, "value_date"),
        (6, "kind"), (7, "policy_number"), (8, "kind")]
    assert not errors.truncated and errors.field == "file"
    assert errors.params == {"count": 8}
    assert str(errors).splitlines()[1] == 'Line 3, amount: "abc" is not a valid amount.'
    with pytest.raises(FileErrors):  # the same checks without keeping the lines
        validate_file(io.BytesIO(stream.getvalue()), profile())


def test_parse_all_reports_every_missing_header_column():
    with pytest.raises(FileErrors) as caught:
        parse_all(csv_bytes("1;1,00", header="Vertragsnummer;Summe"), profile())
    assert [(e.line, e.field) for e in caught.value.errors] == [
        (1, "amount"), (1, "value_date"), (1, "kind"), (1, "reference"),
        (1, "customer_name"), (1, "line_of_business")]


def test_parse_all_stops_at_the_cap():
    stream = csv_bytes(*(f"{i};x;01.10.2026;AP;;;" for i in range(20)))
    with pytest.raises(FileErrors) as caught:
        parse_all(stream, profile(), max_errors=5)
    assert len(caught.value.errors) == 5 and caught.value.truncated
    assert "more than 5" in str(caught.value)


def test_a_hundred_thousand_lines():
    kinds = ("Abschlussprovision", "Folgeprovision", "AP ZV")
    body = "\r\n".join(
        f"{i:08d};{i % 5000},{i % 100:02d};{1 + i % 28:02d}.10.2026;{kinds[i % 3]};"
        f"R-{i};Kunde {i};010" for i in range(1, 100_001))
    data = (HEADER + "\r\n" + body + "\r\n").encode()
    lines = parse_all(io.BytesIO(data), profile())
    assert len(lines) == 100_000
    last = lines[-1]
    assert (last.line, last.policy_number, last.amount, last.kind, last.reference) == (
        100_001, "100000", Decimal("0.00"), "FP", "R-100000")
    assert lines[1233].amount == Decimal("1234.34")
    assert not hasattr(last, "__dict__")  # slots: small lines
    assert validate_file(io.BytesIO(data), profile()) == 100_000


# --------------------------------------------------------------------------- Excel

def xlsx(rows, title="Abrechnung", extra_sheet_first=False) -> io.BytesIO:
    book = Workbook()
    sheet = book.active
    if extra_sheet_first:
        sheet.title = "Summen"
        sheet.append(["Summe", 1])
        sheet = book.create_sheet(title)
    else:
        sheet.title = title
    for number, row in rows:
        for column, value in enumerate(row, 1):
            sheet.cell(row=number, column=column, value=value)
    out = io.BytesIO()
    book.save(out)
    out.seek(0)
    return out


XLSX_HEADER = ["Vertragsnummer", "Betrag", "Valuta", "Provisionsart", "Beleg"]


def xlsx_profile(**changes):
    columns = {k: v for k, v in COLUMNS.items() if k not in ("customer_name",
                                                              "line_of_business")}
    return profile(file_type="xlsx", columns=columns, **changes)


def test_an_excel_file_with_number_and_date_cells():
    stream = xlsx([
        (1, XLSX_HEADER),
        (2, ["000123", 1234.56, datetime(2026, 10, 31), "Abschlussprovision", "R-1"]),
        (3, [4711, -757.2, date(2026, 11, 1), "folgeprovision", 99]),
        # row 4 left out: a gap, skipped
        (5, ["X-1", 100, "05.11.2026", "AP ZV", None]),
        (6, [4712.0, "1.234,50-", datetime(2026, 11, 5, 0, 0), "AP", ""]),
        (7, [None, None, None, None, None]),
    ])
    lines = parse_all(stream, xlsx_profile())
    assert lines == [
        ReceiptLine(2, "123", Decimal("1234.56"), date(2026, 10, 31), "AP", "R-1"),
        ReceiptLine(3, "4711", Decimal("-757.20"), date(2026, 11, 1), "FP", "99"),
        ReceiptLine(5, "X-1", Decimal("100.00"), date(2026, 11, 5), "AP_ZV", None),
        ReceiptLine(6, "4712", Decimal("-1234.50"), date(2026, 11, 5), "AP", None),
    ]


def test_excel_errors_name_the_row():
    stream = xlsx([
        (3, XLSX_HEADER),                     # header_row 3
        (4, ["1", 12.345, datetime(2026, 10, 31), "AP", None]),
        (5, ["2", "zwölf", datetime(2026, 10, 31), "AP", None]),
        (6, ["3", 1.5, "2026-10-31", "AP", None]),
        (7, ["4", 1.5, datetime(2026, 10, 31), "Storno", None]),
        (8, ["5", True, datetime(2026, 10, 31), "AP", None]),
    ])
    with pytest.raises(FileErrors) as caught:
        parse_all(stream, xlsx_profile(header_row=3))
    assert [(e.line, e.field) for e in caught.value.errors] == [
        (4, "amount"), (5, "amount"), (6, "value_date"), (7, "kind"), (8, "amount")]
    assert "more than 2 decimal places" in str(caught.value.errors[0])


def test_an_excel_header_lacking_a_column():
    stream = xlsx([(1, ["Vertragsnummer", "Betrag", "Valuta", "Beleg"]),
                   (2, ["1", 1, datetime(2026, 10, 31), None])])
    error = first_error(stream, xlsx_profile())
    assert (error.line, error.field) == (1, "kind")


def test_the_excel_sheet_by_name_or_the_first():
    rows = [(1, XLSX_HEADER), (2, ["1", 1, datetime(2026, 10, 31), "AP", None])]
    assert len(parse_all(xlsx(rows, extra_sheet_first=True),
                         xlsx_profile(sheet="Abrechnung"))) == 1
    with pytest.raises(FileErrors):  # the first sheet has no such header
        parse_all(xlsx(rows, extra_sheet_first=True), xlsx_profile())
    with pytest.raises(InvalidValueError) as caught:
        parse_all(xlsx(rows), xlsx_profile(sheet="Fehlt"))
    assert caught.value.field == "sheet"


def test_a_file_that_is_no_workbook():
    with pytest.raises(InvalidValueError) as caught:
        parse_all(io.BytesIO(b"Vertragsnummer;Betrag\r\n"), xlsx_profile())
    assert caught.value.field == "file"


# --------------------------------------------------------------------------- profile

def test_a_profile_survives_json():
    prof = profile(encoding="CP1252", separator="\t", decimal_comma=False, header_row=2,
                   date_format="%Y%m%d", default_kind="fp", sheet=None,
                   columns={**COLUMNS, "customer_name": ""})
    stored = json.dumps(prof.to_dict())
    again = Profile.from_dict(json.loads(stored))
    assert again == prof and hash(again) == hash(prof)
    assert again.encoding == "cp1252" and again.default_kind == "FP"
    assert "customer_name" not in again.columns  # an optional column left empty
    assert again.kind_map == KIND_MAP  # the file's words as given
    assert again.to_dict() == prof.to_dict()
    defaults = Profile.from_dict({"name": "X", "columns": COLUMNS, "kind_map": KIND_MAP})
    assert (defaults.file_type, defaults.separator, defaults.encoding, defaults.decimal_comma,
            defaults.date_format, defaults.header_row) == (
        "csv", ";", "utf-8-sig", True, "%d.%m.%Y", 1)


@pytest.mark.parametrize("changes, field", [
    ({"file_type": "xls"}, "file_type"),
    ({"columns": {k: v for k, v in COLUMNS.items() if k != "amount"}}, "columns"),
    ({"columns": {**COLUMNS, "value_date": "  "}}, "columns"),
    ({"columns": {**COLUMNS, "premium": "Beitrag"}}, "columns"),
    ({"kind_map": {**KIND_MAP, "Storno": "STORNO"}}, "kind_map"),
    ({"kind_map": {"AP": "AP", " ap ": "FP"}}, "kind_map"),
    ({"kind_map": {}}, "kind_map"),
    ({"default_kind": "OVERRIDE"}, "default_kind"),
    ({"encoding": "utf-16"}, "encoding"),
    ({"separator": ";;"}, "separator"),
    ({"date_format": "%m.%Y"}, "date_format"),
    ({"date_format": "DD.MM.YYYY"}, "date_format"),
    ({"header_row": 0}, "header_row"),
    ({"header_row": "1"}, "header_row"),
    ({"decimal_comma": "yes"}, "decimal_comma"),
    ({"name": " "}, "name"),
    ({"seperator": ","}, "seperator"),
])
def test_a_bad_profile_names_its_field(changes, field):
    with pytest.raises(InvalidValueError) as caught:
        profile(**changes)
    assert caught.value.field == field


def test_the_kind_column_is_required_unless_there_is_a_default_kind():
    columns = {k: v for k, v in COLUMNS.items() if k != "kind"}
    with pytest.raises(InvalidValueError) as caught:
        profile(columns=columns)
    assert caught.value.field == "columns" and caught.value.params == {"name": "kind"}


# --------------------------------------------------------------------------- values

@pytest.mark.parametrize("text, expected", [
    ("1.234,56", "1234.56"), ("-757,20", "-757.20"), ("1234,5", "1234.50"),
    ("757,20-", "-757.20"), ('"1.234,56"', "1234.56"), ("+5", "5.00"), ("\u22123,00", "-3.00"),
    ("1.234.567,89 €", "1234567.89"), ("EUR 12,00", "12.00"), (",5", "0.50"),
    ("-0,00", "0.00"), ("1.234", "1234.00"),
])
def test_german_amounts(text, expected):
    assert str(parse_amount(text)) == expected


@pytest.mark.parametrize("text", ["12.5", "1234.56", "1,2,3", "12,", "-", "", "1e5", "--5",
                                  "-5-", "1 234,56", "NaN", "abc"])
def test_bad_german_amounts(text):
    with pytest.raises(ValueError):
        parse_amount(text)


def test_amounts_with_a_decimal_point_and_excel_numbers():
    assert parse_amount("1,234.56", decimal_comma=False) == Decimal("1234.56")
    assert parse_amount("1234.56-", decimal_comma=False) == Decimal("-1234.56")
    with pytest.raises(ValueError):
        parse_amount("1.234,56", decimal_comma=False)
    assert str(parse_amount(0.1)) == "0.10"
    assert str(parse_amount(-757)) == "-757.00"
    with pytest.raises(ValueError, match="decimals"):
        parse_amount(0.1 + 0.2)  # 0.30000000000000004: not rounded silently
    with pytest.raises(ValueError):
        parse_amount(float("inf"))


def test_policy_numbers_as_gdv():
    assert normalise_policy_number(" 000123 ") == "123"
    assert normalise_policy_number("000") == "0"
    assert normalise_policy_number("0012-AB") == "0012-AB"
    assert normalise_policy_number("00 12") == "00 12"
