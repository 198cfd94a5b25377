"""Insurers' commission statements (Provisionsabrechnungen) as CSV or Excel.

A `Profile` says how one insurer's file is laid out: file type, separator,
encoding, number and date style, the header row and which of its columns hold
our fields, and how its words for the kind of commission map to AP, AP_ZV or
FP. Profiles are stored as JSON (`to_dict` / `from_dict`).

`read_lines` streams the file and yields one `ReceiptLine` per data line; it
raises a `LineError` (line number and field named) at the first bad line,
after the lines before it have been yielded. `parse_all` reads the whole file
first and raises one `FileErrors` listing every bad line (up to 100), so the
caller imports nothing from a faulty file; it holds all lines in memory
(100,000 lines with every optional column take about 45 MB). For bigger
files call `validate_file` (the same checks, nothing kept), then read the
stream again with `read_lines` in chunks.

Pure: no Flask, no database. Messages are English msgids marked with N_,
each a whole sentence naming the line and the field, so the web layer
translates them like every other DomainError.
"""
from __future__ import annotations

import codecs
import csv
import re
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import date, datetime
from decimal import Decimal, InvalidOperation

from app.domain.errors import N_, DomainError, InvalidValueError
from app.domain.gdv import (
    normalise_policy_number,  # noqa: F401  (one rule for all imports)
)

KINDS = ("AP", "AP_ZV", "FP")
FILE_TYPES = ("csv", "xlsx")
REQUIRED_COLUMNS = ("policy_number", "amount", "value_date", "kind")
OPTIONAL_COLUMNS = ("reference", "customer_name", "line_of_business")
COLUMNS = REQUIRED_COLUMNS + OPTIONAL_COLUMNS
#: ASCII-compatible encodings only: the CSV reader decodes line by line, so a
#: bad byte is reported with its line number.
ENCODINGS = ("utf-8-sig", "utf-8", "cp1252", "iso-8859-1", "iso-8859-15")
MAX_ERRORS = 100
#: Database limits: Numeric(12, 2), policy number String(40), reference String(80).
MAX_AMOUNT = Decimal(10) ** 10
MAX_POLICY_NUMBER = 40
MAX_REFERENCE = 80

CENT = Decimal("0.01")
ZERO = Decimal("0.00")
UTF8_BOM = codecs.BOM_UTF8

# Line messages: each a whole msgid with %(line)s and %(field)s.
MISSING_COLUMN = N_('Line %(line)s, %(field)s: the header has no column "%(column)s".')
DOUBLE_COLUMN = N_('Line %(line)s, %(field)s: the header has the column "%(column)s" '
                   'more than once.')
EMPTY = N_('Line %(line)s, %(field)s: the column "%(column)s" is empty.')
BAD_NUMBER = N_('Line %(line)s, %(field)s: "%(value)s" is not a valid amount.')
TOO_PRECISE = N_('Line %(line)s, %(field)s: "%(value)s" has more than 2 decimal places.')
TOO_LARGE = N_('Line %(line)s, %(field)s: "%(value)s" is too large.')
BAD_DATE = N_('Line %(line)s, %(field)s: "%(value)s" is not a date of the form %(format)s.')
UNKNOWN_KIND = N_('Line %(line)s, %(field)s: "%(value)s" is not a known kind of commission '
                  '(known: %(known)s).')
TOO_LONG = N_('Line %(line)s, %(field)s: "%(value)s" is longer than %(max)s characters.')
NOT_DECODABLE = N_('Line %(line)s, %(field)s: the line cannot be read as %(encoding)s.')
NOT_CSV = N_("Line %(line)s, %(field)s: the line is not valid CSV (a quote not closed, "
             "or text after a closing quote).")


class LineError(DomainError):
    """A bad line of an imported file. `line` is the line (CSV, header = 1)
    or row (Excel) number as the user sees it; `field` is our field name
    (policy_number, amount, value_date, kind, reference, ...), or "encoding" /
    "file" for a line that cannot be read at all."""

    message = N_("Line %(line)s, %(field)s: %(problem)s")

    def __init__(self, line: int, field: str, message: str | None = None, **params):
        # Not DomainError.__init__: its own `field` argument would clash with
        # the %(field)s parameter of the message.
        self.line = line
        self.field = field
        if message is not None:
            self.message = message
        elif "problem" not in params:
            self.message = N_("Line %(line)s, %(field)s: not a valid value.")
        self.params = {"line": line, "field": field, **params}
        Exception.__init__(self, self.message % self.params)


class FileErrors(DomainError):
    """Every bad line of a file (up to MAX_ERRORS): nothing may be imported.
    `errors` lists the LineErrors in file order; `truncated` says that the
    file has more errors than those listed (reading stopped there)."""

    message = N_("Errors in the file: %(count)s. Nothing was imported.")

    def __init__(self, errors: list[LineError], truncated: bool = False):
        self.errors = errors
        self.truncated = truncated
        if truncated:
            super().__init__("file", N_("Errors in the file: more than %(count)s. "
                                        "Nothing was imported."), count=len(errors))
        else:
            super().__init__("file", count=len(errors))

    def __str__(self):
        return "\n".join([super().__str__(), *(str(e) for e in self.errors)])


# --------------------------------------------------------------------------- profile

def _key(text: str) -> str:
    """Header texts and kind words compare without case and extra blanks."""
    return " ".join(text.split()).casefold()


def _bad(field_name: str, message: str, **params) -> InvalidValueError:
    return InvalidValueError(field_name, message, **params)


@dataclass(frozen=True, kw_only=True)
class Profile:
    """How one insurer's commission statement is read.

    columns: our field -> the file's header text (matched without case and
    extra blanks); required policy_number, amount, value_date and kind (kind
    may be left out when default_kind is given); optional reference,
    customer_name, line_of_business.
    kind_map: the file's word for the kind (matched without case and extra
    blanks) -> AP, AP_ZV or FP. A kind not in the map, or an empty kind cell,
    gets default_kind; without default_kind it is an error.
    sheet: the Excel sheet's name; None = the first sheet.
    """

    name: str
    insurer_vu_number: str | None = None
    file_type: str = "csv"
    separator: str = ";"
    encoding: str = "utf-8-sig"
    decimal_comma: bool = True
    date_format: str = "%d.%m.%Y"
    header_row: int = 1
    columns: dict = field(default_factory=dict, hash=False)
    kind_map: dict = field(default_factory=dict, hash=False)
    default_kind: str | None = None
    sheet: str | None = None
    _kinds: dict = field(init=False, repr=False, compare=False, hash=False)

    def __post_init__(self):
        def set_(name, value):  # frozen: normalised values are set through object
            object.__setattr__(self, name, value)

        if not isinstance(self.name, str) or not self.name.strip():
            raise _bad("name", N_("Give the profile a name."))
        set_("name", self.name.strip())
        vu = self.insurer_vu_number
        if vu is not None and not isinstance(vu, str):
            raise _bad("insurer_vu_number", N_("Not a valid value."))
        set_("insurer_vu_number", (vu or "").strip() or None)
        if self.file_type not in FILE_TYPES:
            raise _bad("file_type", N_("The file type is csv or xlsx."))
        if not isinstance(self.separator, str) or len(self.separator) != 1 \
                or self.separator in '"\r\n':
            raise _bad("separator", N_("The separator is a single character, e.g. ; or ,."))
        if not isinstance(self.encoding, str) or self.encoding.strip().lower() not in ENCODINGS:
            raise _bad("encoding", N_("The encoding is one of %(choices)s."),
                       choices=", ".join(ENCODINGS))
        set_("encoding", self.encoding.strip().lower())
        if not isinstance(self.decimal_comma, bool):
            raise _bad("decimal_comma", N_("Not a valid value."))
        if not _date_format_ok(self.date_format):
            raise _bad("date_format", N_("Not a valid date format; e.g. %(example)s."),
                       example="%d.%m.%Y")
        if type(self.header_row) is not int or self.header_row < 1:
            raise _bad("header_row", N_("Must be at least %(min)s."), min="1")
        if self.sheet is not None and not isinstance(self.sheet, str):
            raise _bad("sheet", N_("Not a valid value."))
        set_("sheet", (self.sheet or "").strip() or None)

        default = self.default_kind
        if default is not None and not isinstance(default, str):
            raise _bad("default_kind", N_("Not a valid choice."))
        default = (default or "").strip().upper() or None
        if default is not None and default not in KINDS:
            raise _bad("default_kind", N_("The kind is one of %(choices)s."),
                       choices=", ".join(KINDS))
        set_("default_kind", default)

        if not isinstance(self.columns, Mapping):
            raise _bad("columns", N_("Not a valid value."))
        columns = {}
        for ours, theirs in self.columns.items():
            if ours not in COLUMNS:
                raise _bad("columns", N_('"%(name)s" is not a field of a receipt line.'),
                           name=str(ours))
            if theirs is None or (isinstance(theirs, str) and not theirs.strip()):
                continue  # an optional column left empty in a form
            if not isinstance(theirs, str):
                raise _bad("columns", N_('Give the column header for "%(name)s" as text.'),
                           name=ours)
            columns[ours] = theirs.strip()
        for ours in REQUIRED_COLUMNS:
            if ours not in columns and not (ours == "kind" and default):
                raise _bad("columns", N_('Give the column header for "%(name)s".'), name=ours)
        set_("columns", columns)

        if not isinstance(self.kind_map, Mapping):
            raise _bad("kind_map", N_("Not a valid value."))
        kind_map, lookup = {}, {}
        for word, target in self.kind_map.items():
            if not isinstance(word, str) or not word.strip():
                raise _bad("kind_map", N_("A kind word of the file may not be empty."))
            kind = target.strip().upper() if isinstance(target, str) else None
            if kind not in KINDS:
                raise _bad("kind_map", N_('"%(word)s" must map to one of %(choices)s.'),
                           word=word, choices=", ".join(KINDS))
            if lookup.get(_key(word), kind) != kind:
                raise _bad("kind_map", N_('"%(word)s" is mapped twice.'), word=word)
            kind_map[word.strip()] = kind
            lookup[_key(word)] = kind
        if "kind" in columns and not lookup and not default:
            raise _bad("kind_map", N_("Map the file's kinds to %(choices)s."),
                       choices=", ".join(KINDS))
        set_("kind_map", kind_map)
        set_("_kinds", lookup)

    def kind_of(self, text: str) -> str | None:
        """AP, AP_ZV or FP for the file's kind word; default_kind if unknown."""
        return self._kinds.get(_key(text), self.default_kind)

    def to_dict(self) -> dict:
        """JSON-able; `from_dict(to_dict())` gives an equal profile."""
        return {
            "name": self.name, "insurer_vu_number": self.insurer_vu_number,
            "file_type": self.file_type, "separator": self.separator,
            "encoding": self.encoding, "decimal_comma": self.decimal_comma,
            "date_format": self.date_format, "header_row": self.header_row,
            "columns": dict(self.columns), "kind_map": dict(self.kind_map),
            "default_kind": self.default_kind, "sheet": self.sheet,
        }

    @classmethod
    def from_dict(cls, data: Mapping) -> Profile:
        """A profile from stored JSON or a form. Keys not known are refused
        (a typo would otherwise be ignored silently); keys left out get
        their defaults."""
        if not isinstance(data, Mapping):
            raise _bad("profile", N_("Not a valid value."))
        known = {"name", "insurer_vu_number", "file_type", "separator", "encoding",
                 "decimal_comma", "date_format", "header_row", "columns", "kind_map",
                 "default_kind", "sheet"}
        for key in data:
            if key not in known:
                raise _bad(str(key), N_('"%(name)s" is not a setting of an import profile.'),
                           name=str(key))
        if "name" not in data:
            raise _bad("name", N_("Give the profile a name."))
        return cls(**{k: v for k, v in data.items()})


def _date_format_ok(fmt) -> bool:
    """The format must give back day, month and year of a date it wrote."""
    if not isinstance(fmt, str) or "%" not in fmt:
        return False
    sample = date(2026, 10, 31)
    try:
        return datetime.strptime(sample.strftime(fmt), fmt).date() == sample
    except ValueError:
        return False


def _shown_format(fmt: str) -> str:
    """%d.%m.%Y -> DD.MM.YYYY, for messages."""
    for directive, shown in (("%d", "DD"), ("%m", "MM"), ("%Y", "YYYY"), ("%y", "YY"),
                             ("%H", "hh"), ("%M", "mm"), ("%S", "ss")):
        fmt = fmt.replace(directive, shown)
    return fmt


# --------------------------------------------------------------------------- lines

@dataclass(frozen=True, slots=True)
class ReceiptLine:
    """One data line of a statement. `line` as the user sees it (CSV line,
    header = 1; Excel row number). amount: Decimal with exactly 2 places."""

    line: int
    policy_number: str
    amount: Decimal
    value_date: date
    kind: str
    reference: str | None = None
    customer_name: str | None = None
    line_of_business: str | None = None


def _text(value) -> str:
    """A cell as stripped text (CSV cells are text; Excel's may be numbers)."""
    if value is None:
        return ""
    if type(value) is str:
        return value.strip()
    if isinstance(value, bool):
        return str(value).upper()
    if isinstance(value, float):
        if value.is_integer() and abs(value) < 1e15:
            return str(int(value))
        return repr(value)
    if isinstance(value, datetime):
        return value.date().isoformat() if value.time() == datetime.min.time() \
            else value.isoformat(sep=" ")
    if isinstance(value, date):
        return value.isoformat()
    return str(value).strip()


def _shorten(text: str, limit: int = 40) -> str:
    return text if len(text) <= limit else text[:limit - 1] + "…"


_SIGNS = "+-\u2212"  # U+2212: the typographic minus
_CURRENCY = re.compile(r"^(?:€|eur)\s*|\s*(?:€|eur)$", re.IGNORECASE)
_COMMA_NUMBER = re.compile(r"(?:[0-9]{1,3}(?:\.[0-9]{3})+|[0-9]*)(?:,[0-9]+)?")
_POINT_NUMBER = re.compile(r"(?:[0-9]{1,3}(?:,[0-9]{3})+|[0-9]*)(?:\.[0-9]+)?")


def parse_amount(value, decimal_comma: bool = True) -> Decimal:
    """An amount as Decimal with exactly 2 places. Text: German "1.234,56",
    "-757,20", "757,20-" (trailing minus), "1234,5", with or without quotes
    or € / EUR; with decimal_comma False "1,234.56" or "1234.56". Excel
    numbers (int, float) are taken as written (Decimal(str(value))).
    Raises ValueError("number" | "decimals" | "large") for a bad value."""
    if isinstance(value, bool):
        raise ValueError("number")
    if isinstance(value, (int, float, Decimal)):
        try:
            number = Decimal(str(value))
        except InvalidOperation:
            raise ValueError("number") from None
    elif isinstance(value, str):
        number = _parse_amount_text(value, decimal_comma)
    else:
        raise ValueError("number")
    if not number.is_finite():
        raise ValueError("number")
    if abs(number) >= MAX_AMOUNT:
        raise ValueError("large")
    rounded = number.quantize(CENT)
    if rounded != number:
        raise ValueError("decimals")
    return rounded if rounded else ZERO  # no -0.00


def _parse_amount_text(text: str, decimal_comma: bool) -> Decimal:
    s = text.strip()
    if len(s) >= 2 and s[0] == s[-1] and s[0] in "\"'":
        s = s[1:-1].strip()
    s = _CURRENCY.sub("", s)
    negative = False
    if s and s[0] in _SIGNS:
        negative, s = s[0] != "+", s[1:].lstrip()
    elif s and s[-1] in _SIGNS:
        negative, s = s[-1] != "+", s[:-1].rstrip()
    s = _CURRENCY.sub("", s)
    pattern, group, point = ((_COMMA_NUMBER, ".", ",") if decimal_comma
                             else (_POINT_NUMBER, ",", "."))
    if not s or not pattern.fullmatch(s) or not any(c.isdigit() for c in s):
        raise ValueError("number")
    number = Decimal(s.replace(group, "").replace(point, "."))
    return -number if negative else number


class _Converter:
    """Turns the cells of one data line into a ReceiptLine or its errors."""

    def __init__(self, profile: Profile, index: dict[str, int]):
        self.profile = profile
        self.index = index
        self.dates: dict[str, date | None] = {}
        self.words: dict[str, str] = {}  # repeating texts held once
        self.shown_format = _shown_format(profile.date_format)
        self.known = ", ".join(profile.kind_map) or "-"

    def convert(self, line: int, cells) -> ReceiptLine | list[LineError]:
        profile, index = self.profile, self.index
        width = len(cells)
        errors: list[LineError] = []

        def cell(name):
            i = index.get(name)
            return cells[i] if i is not None and i < width else None

        def required(name) -> str | None:
            text = _text(cell(name))
            if not text:
                errors.append(LineError(line, name, EMPTY, column=profile.columns[name]))
                return None
            return text

        policy = required("policy_number")
        if policy is not None:
            policy = normalise_policy_number(policy)
            if len(policy) > MAX_POLICY_NUMBER:
                errors.append(LineError(line, "policy_number", TOO_LONG,
                                        value=_shorten(policy), max=MAX_POLICY_NUMBER))

        amount = None
        raw = cell("amount")
        if raw is None or (isinstance(raw, str) and not raw.strip()):
            errors.append(LineError(line, "amount", EMPTY, column=profile.columns["amount"]))
        else:
            try:
                amount = parse_amount(raw, profile.decimal_comma)
            except ValueError as exc:
                message = {"decimals": TOO_PRECISE, "large": TOO_LARGE}.get(
                    str(exc), BAD_NUMBER)
                errors.append(LineError(line, "amount", message, value=_shorten(_text(raw))))

        value_date = self._date(line, cell("value_date"), errors)

        kind = None
        if "kind" in index:
            word = _text(cell("kind"))
            kind = profile.kind_of(word) if word else profile.default_kind
            if kind is None:
                if word:
                    errors.append(LineError(line, "kind", UNKNOWN_KIND, value=_shorten(word),
                                            known=self.known))
                else:
                    errors.append(LineError(line, "kind", EMPTY,
                                            column=profile.columns["kind"]))
        else:
            kind = profile.default_kind

        reference = _text(cell("reference")) or None
        if reference is not None and len(reference) > MAX_REFERENCE:
            errors.append(LineError(line, "reference", TOO_LONG, value=_shorten(reference),
                                    max=MAX_REFERENCE))
        if errors:
            return errors
        return ReceiptLine(line, policy, amount, value_date, kind, reference,
                           self._word(cell("customer_name")),
                           self._word(cell("line_of_business")))

    def _word(self, value) -> str | None:
        text = _text(value)
        if not text:
            return None
        if len(self.words) < 50_000:
            return self.words.setdefault(text, text)
        return self.words.get(text, text)

    def _date(self, line, raw, errors) -> date | None:
        if isinstance(raw, datetime):
            return raw.date()
        if isinstance(raw, date):
            return raw
        text = _text(raw)
        if not text:
            errors.append(LineError(line, "value_date", EMPTY,
                                    column=self.profile.columns["value_date"]))
            return None
        try:
            found = self.dates[text]
        except KeyError:
            try:
                found = datetime.strptime(text, self.profile.date_format).date()
            except ValueError:
                found = None
            if len(self.dates) < 10_000:
                self.dates[text] = found
        if found is None:
            errors.append(LineError(line, "value_date", BAD_DATE, value=_shorten(text),
                                    format=self.shown_format))
        return found


# --------------------------------------------------------------------------- files

Report = Callable[[LineError], None]


def _raise(error: LineError) -> None:
    raise error


def _is_blank(cells) -> bool:
    return all(c is None or (isinstance(c, str) and not c.strip()) for c in cells)


def _split_lone_cr(text: str) -> list[str]:
    """Old Mac line ends (CR alone) inside a line read up to LF."""
    body = text[:-1] if text.endswith("\n") else text
    if "\r" not in body[:-1]:
        return [text]
    return re.split(r"(?<=\r)(?!\n)", text)


def _decoded_lines(stream, encoding: str, report: Report) -> Iterator[str]:
    """The lines of a binary stream, decoded one by one so that a byte that
    does not fit the encoding is reported with its line number. A UTF-8 byte
    order mark wins over the profile's encoding (it is unambiguous)."""
    make = None
    decoder = None
    number = 0
    for raw in stream:
        if isinstance(raw, str):  # a text stream: taken as it is
            text = raw
        else:
            if decoder is None:
                if raw.startswith(UTF8_BOM):
                    encoding = "utf-8-sig"
                make = codecs.getincrementaldecoder(encoding)
                decoder = make("strict")
            try:
                text = decoder.decode(raw)
            except UnicodeDecodeError:
                report(LineError(number + 1, "encoding", NOT_DECODABLE, encoding=encoding))
                decoder = make("strict")
                text = raw.decode(encoding, "replace")
        for piece in _split_lone_cr(text):
            number += 1
            yield piece


def _csv_records(stream, profile: Profile, report: Report) -> Iterator[tuple[int, list]]:
    reader = csv.reader(_decoded_lines(stream, profile.encoding, report),
                        delimiter=profile.separator, quotechar='"', doublequote=True,
                        strict=True)
    end = 0
    while True:
        start = end + 1
        try:
            cells = next(reader)
        except StopIteration:
            return
        except csv.Error:
            end = reader.line_num
            report(LineError(start, "file", NOT_CSV))
            continue
        end = reader.line_num
        yield start, cells


def _xlsx_records(stream, profile: Profile) -> Iterator[tuple[int, tuple]]:
    import warnings

    from openpyxl import load_workbook

    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # "no default style" and the like
            workbook = load_workbook(stream, read_only=True, data_only=True)
    except Exception as exc:  # a zip that is no workbook fails in many ways
        raise InvalidValueError("file", N_(
            "The file cannot be read as an Excel workbook (.xlsx).")) from exc
    try:
        if profile.sheet:
            if profile.sheet not in workbook.sheetnames:
                raise InvalidValueError("sheet", N_(
                    'The workbook has no sheet "%(sheet)s".'), sheet=profile.sheet)
            sheet = workbook[profile.sheet]
        else:
            sheet = workbook.worksheets[0]
        # The stored dimension may be wrong (some writers): read every row.
        sheet.reset_dimensions()
        for number, row in enumerate(sheet.iter_rows(values_only=True), 1):
            yield number, row
    finally:
        workbook.close()


def _header_index(line: int, cells, profile: Profile,
                  report: Report) -> dict[str, int] | None:
    """Our field -> cell position; reports every mapped column not found
    (or found twice) and then returns None."""
    positions: dict[str, list[int]] = {}
    for i, value in enumerate(cells):
        text = _text(value)
        if text:
            positions.setdefault(_key(text), []).append(i)
    index, ok = {}, True
    for ours, theirs in profile.columns.items():
        found = positions.get(_key(theirs), [])
        if len(found) != 1:
            ok = False
            report(LineError(line, ours, MISSING_COLUMN if not found else DOUBLE_COLUMN,
                             column=theirs))
        else:
            index[ours] = found[0]
    return index if ok else None


def _scan(stream, profile: Profile, report: Report) -> Iterator[ReceiptLine]:
    if profile.file_type == "csv":
        records: Iterable = _csv_records(stream, profile, report)
    else:
        records = _xlsx_records(stream, profile)
    converter = None
    for line, cells in records:
        if converter is None:
            if line < profile.header_row:
                continue
            index = _header_index(line, cells, profile, report)
            if index is None:
                return
            converter = _Converter(profile, index)
            continue
        if _is_blank(cells):
            continue
        result = converter.convert(line, cells)
        if type(result) is ReceiptLine:
            yield result
        else:
            for error in result:
                report(error)
    if converter is None:  # the file ends before its header
        _header_index(profile.header_row, (), profile, report)


def read_lines(stream, profile: Profile) -> Iterator[ReceiptLine]:
    """The file's data lines, one by one (streaming; blank lines skipped).

    stream: a binary file object (CSV: decoded with the profile's encoding;
    XLSX: must be seekable). Raises LineError at the first bad line or at a
    header lacking a mapped column; the lines before it have been yielded
    already. InvalidValueError("file" | "sheet") when an Excel file cannot be
    opened at all."""
    return _scan(stream, profile, _raise)


class _Full(Exception):
    pass


class _Collector:
    def __init__(self, cap: int):
        self.cap = cap
        self.errors: list[LineError] = []
        self.truncated = False

    def __call__(self, error: LineError) -> None:
        if len(self.errors) >= self.cap:
            self.truncated = True
            raise _Full
        self.errors.append(error)


def _checked(stream, profile: Profile, keep: bool, cap: int):
    collector = _Collector(cap)
    lines: list[ReceiptLine] = []
    count = 0
    try:
        for receipt in _scan(stream, profile, collector):
            count += 1
            if keep and not collector.errors:
                lines.append(receipt)
    except _Full:
        pass
    if collector.errors:
        raise FileErrors(collector.errors, collector.truncated)
    return lines, count


def parse_all(stream, profile: Profile, max_errors: int = MAX_ERRORS) -> list[ReceiptLine]:
    """Every data line of the file, once the whole file has been checked.

    Raises FileErrors listing every bad line (at most max_errors; reading
    stops after that). Holds all lines in memory: for very big files use
    validate_file and then read_lines in chunks."""
    return _checked(stream, profile, True, max_errors)[0]


def validate_file(stream, profile: Profile, max_errors: int = MAX_ERRORS) -> int:
    """The checks of parse_all without keeping the lines: the number of data
    lines, or FileErrors."""
    return _checked(stream, profile, False, max_errors)[1]
