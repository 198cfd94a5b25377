"""SEPA credit transfer file (pain.001) for paying out the monthly commission.

`build_credit_transfer` turns the payable statements of a settlement run into
one pain.001 message (one payment information block, batch booking, one
credit transfer per statement) that the pool uploads to its bank (EBICS,
online banking). Statements that cannot be paid are returned as `Held`, with
an English msgid as reason, so the caller can show them (translated) and pay
them later by hand.

Format: pain.001.001.09 (ISO 20022 version 2019). The German banks (DFÜ-
Abkommen Anlage 3 of the Deutsche Kreditwirtschaft) switched the old
pain.001.001.03 formats (GBIC_1 to GBIC_3) off in November 2025, so .09 is
the current German and EPC standard. sepaxml (2.7.0, pinned) supports it:
it writes the .09 shapes (ReqdExctnDt/Dt, BICFI) and bundles the ISO XSD,
against which every file is validated. That XSD is the generic ISO one (it
allows five decimals, any characters); `validate_pain001` therefore also
checks the stricter SEPA (EPC) rules: euro amounts to the cent, the SEPA
character set, consistent control sums.

This module is pure (no Flask, no database) and uses sepaxml's two private
hooks `_create_header` and `_create_PmtInf_node` (see `_Transfer`); the tests
cover both, so an upgrade of sepaxml that breaks them fails loudly.
"""
from __future__ import annotations

import re
import unicodedata
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import lru_cache
from pathlib import Path

import sepaxml
from schwifty import BIC, IBAN
from schwifty.exceptions import SchwiftyException
from sepaxml import SepaTransfer
from sepaxml.validation import ValidationError as SepaxmlValidationError
from text_unidecode import unidecode

from app.domain.errors import N_, InvalidValueError, RequiredFieldError

PAIN_VERSION = "pain.001.001.09"
PAIN_NAMESPACE = f"urn:iso:std:iso:20022:tech:xsd:{PAIN_VERSION}"
PAIN_XSD = Path(sepaxml.__file__).parent / "schemas" / f"{PAIN_VERSION}.xsd"

# Verwendungszweck: "Courtageabrechnung 2026-000001".
REMITTANCE_PREFIX = "Courtageabrechnung"

# SEPA limits (EPC implementation guidelines).
MAX_AMOUNT = Decimal("999999999.99")
NAME_MAX = 70
REMITTANCE_MAX = 140
REFERENCE_MAX = 35

# The SEPA basic Latin character set every bank must accept.
_SEPA_CHARS = re.compile(r"[A-Za-z0-9/\-?:().,'+ ]*")
_NOT_SEPA_CHAR = re.compile(r"[^A-Za-z0-9/\-?:().,'+ ]")
# German transliteration (DIN 5007-2) before the generic one, which would
# turn "ü" into "u"; "&" is not in the SEPA set, "+" keeps its meaning.
_GERMAN = str.maketrans({"Ä": "Ae", "Ö": "Oe", "Ü": "Ue", "ä": "ae", "ö": "oe", "ü": "ue",
                         "ß": "ss", "ẞ": "SS", "&": "+"})


@dataclass(frozen=True)
class Payout:
    """One statement to pay out: `number` is the statement number."""

    statement_id: int
    number: str
    name: str
    iban: str | None
    bic: str | None
    amount: Decimal


@dataclass(frozen=True)
class Held:
    """A statement with a positive amount that is not in the file; `reason` is a msgid."""

    statement_id: int
    number: str
    name: str
    amount: Decimal
    reason: str


def sepa_text(value: str, max_length: int) -> str:
    """`value` transliterated to the SEPA character set, whitespace collapsed, cut."""
    text = unicodedata.normalize("NFC", value or "").translate(_GERMAN)
    text = _NOT_SEPA_CHAR.sub(" ", unidecode(text).translate(_GERMAN))
    return " ".join(text.split())[:max_length].rstrip()


def _check_reference(value: str, what: str) -> str:
    """A SEPA reference (MsgId, EndToEndId): 1-35 SEPA characters, no "/" at
    either end, no "//". These come from the system, so a bad one is a bug."""
    if (not isinstance(value, str) or not 1 <= len(value) <= REFERENCE_MAX
            or not _SEPA_CHARS.fullmatch(value) or value.strip() != value
            or value.startswith("/") or value.endswith("/") or "//" in value):
        raise ValueError(f"{what} {value!r} is not a valid SEPA reference")
    return value


def _cents(amount: Decimal) -> int:
    """The amount in cents, exactly: never via float, never rounded."""
    if isinstance(amount, bool) or not isinstance(amount, Decimal | int):
        raise TypeError(f"amount must be a Decimal, not {type(amount).__name__}")
    amount = Decimal(amount)
    if not amount.is_finite():
        raise ValueError(f"amount {amount} is not a number")
    cents = amount.scaleb(2)
    if cents != cents.to_integral_value():
        raise ValueError(f"amount {amount} has fractions of a cent")
    return int(cents)


def _iban(value: str | None) -> IBAN:
    """A valid SEPA IBAN; raises ValueError with a msgid."""
    if not value or not value.strip():
        raise ValueError(N_("No IBAN."))
    try:
        iban = IBAN(value)
    except SchwiftyException:
        raise ValueError(N_("The IBAN is not valid.")) from None
    if not iban.in_sepa_zone:
        raise ValueError(N_("The IBAN is not in the SEPA area."))
    return iban


def _bic(value: str | None, iban: IBAN) -> str | None:
    """The given BIC if valid (ValueError with a msgid if not), else the one
    schwifty derives from the IBAN, else None (IBAN-only is allowed)."""
    if value and value.strip():
        try:
            return str(BIC(value))
        except SchwiftyException:
            raise ValueError(N_("The BIC is not valid.")) from None
    derived = iban.bic
    return str(derived) if derived else None


class _Transfer(SepaTransfer):
    """sepaxml's SepaTransfer with our message id, and "NOTPROVIDED" as
    debtor agent when no BIC is known (an empty FinInstnId passes the ISO XSD
    but not the German banks' rules)."""

    def __init__(self, config: dict, message_id: str):
        self._message_id = message_id
        super().__init__(config, schema=PAIN_VERSION, clean=True)

    def _create_header(self):
        self.msg_id = self._message_id
        super()._create_header()

    def _create_PmtInf_node(self):  # noqa: N802  (sepaxml's name)
        nodes = super()._create_PmtInf_node()
        if "BIC" not in self._config:
            other = ET.SubElement(nodes["FinInstnId_DbtrAgt_Node"], "Othr")
            ET.SubElement(other, "Id").text = "NOTPROVIDED"
        return nodes


def build_credit_transfer(debtor_name: str, debtor_iban: str, debtor_bic: str | None,
                          payouts: list[Payout], execution_date: date,
                          message_id: str) -> tuple[bytes, list[Held]]:
    """The pain.001.001.09 file paying `payouts` from the pool's account, and
    the payouts held back.

    - A payout with amount <= 0 is no transfer at all: neither in the file
      nor held.
    - A payout with a positive amount is held (with a msgid reason) if its
      IBAN is missing, invalid or outside SEPA, its BIC is given but invalid,
      its name is empty after transliteration, or the amount exceeds the
      SEPA limit. A missing BIC is derived from the IBAN where possible,
      else omitted (IBAN-only).
    - If no payout is left, the result is (b"", held): there is no file to
      upload (an empty pain.001 would not validate).

    Names and remittance texts are transliterated to the SEPA character set
    ("Müller & Söhne" -> "Mueller + Soehne"); the end-to-end id of each
    transfer is the statement number, the remittance text
    "Courtageabrechnung <number>". The result is validated against the XSD
    and the SEPA rules before it is returned.

    Raises InvalidValueError("iban" / "bic") or RequiredFieldError("name")
    for bad debtor data,
    ValueError for programming errors (bad message id or statement number,
    a statement number twice, sub-cent amounts) and TypeError for float
    amounts.
    """
    if isinstance(execution_date, datetime):
        execution_date = execution_date.date()
    if not isinstance(execution_date, date):
        raise TypeError("execution_date must be a date")
    _check_reference(message_id, "message id")
    try:
        iban = _iban(debtor_iban)
    except ValueError as exc:
        raise InvalidValueError("iban", str(exc)) from None
    try:
        bic = _bic(debtor_bic, iban)
    except ValueError as exc:
        raise InvalidValueError("bic", str(exc)) from None
    name = sepa_text(debtor_name, NAME_MAX)
    if not name:
        raise RequiredFieldError("name")

    config = {"name": name, "IBAN": iban.compact, "currency": "EUR", "batch": True}
    if bic:
        config["BIC"] = bic
    transfer = _Transfer(config, message_id)

    held: list[Held] = []
    numbers: set[str] = set()
    count = 0
    for payout in payouts:
        _check_reference(payout.number, "statement number")
        if payout.number in numbers:
            raise ValueError(f"statement number {payout.number!r} appears twice")
        numbers.add(payout.number)
        cents = _cents(payout.amount)
        if cents <= 0:
            continue
        try:
            if cents > _cents(MAX_AMOUNT):
                raise ValueError(N_("The amount exceeds the SEPA limit."))
            payee_iban = _iban(payout.iban)
            payee_bic = _bic(payout.bic, payee_iban)
            payee = sepa_text(payout.name, NAME_MAX)
            if not payee:
                raise ValueError(N_("No account holder name."))
        except ValueError as exc:
            held.append(Held(payout.statement_id, payout.number, payout.name,
                             payout.amount, str(exc)))
            continue
        payment = {
            "name": payee,
            "IBAN": payee_iban.compact,
            "amount": cents,
            "execution_date": execution_date,
            "description": sepa_text(f"{REMITTANCE_PREFIX} {payout.number}", REMITTANCE_MAX),
            "endtoend_id": payout.number,
        }
        if payee_bic:
            payment["BIC"] = payee_bic
        transfer.add_payment(payment)
        count += 1

    if not count:
        return b"", held
    try:
        xml = transfer.export(validate=True)
    except SepaxmlValidationError as exc:
        raise ValueError(f"The SEPA file is not valid: {exc.__cause__ or exc}") from exc
    validate_pain001(xml)
    return xml, held


@lru_cache(maxsize=1)
def _schema():
    import xmlschema  # imported late, as sepaxml does: building the schema is slow

    return xmlschema.XMLSchema(str(PAIN_XSD))


def _decimal(text: str | None, where: str) -> Decimal:
    try:
        value = Decimal((text or "").strip())
    except ArithmeticError:
        raise ValueError(f"{where}: {text!r} is not an amount") from None
    if not value.is_finite() or value.as_tuple().exponent < -2:
        raise ValueError(f"{where}: {text!r} is not an amount to the cent")
    return value


def validate_pain001(xml: bytes) -> None:
    """Raise ValueError (with the validator's message) unless `xml` is a
    pain.001.001.09 credit transfer that satisfies the bundled ISO XSD and the
    SEPA rules the XSD does not express: currency EUR, amounts 0.01 to
    999999999.99 with at most two decimals, NbOfTxs and CtrlSum matching the
    transactions (group header and each payment information block), names,
    remittance texts and references in the SEPA character set."""
    import xmlschema

    if not xml:
        raise ValueError("The file is empty.")
    try:
        root = ET.fromstring(xml)
    except ET.ParseError as exc:
        raise ValueError(f"Not well-formed XML: {exc}") from None
    if root.tag != f"{{{PAIN_NAMESPACE}}}Document":
        raise ValueError(f"Not a {PAIN_VERSION} document: {root.tag}")
    try:
        _schema().validate(xml)
    except xmlschema.XMLSchemaValidationError as exc:
        raise ValueError(f"{exc.path}: {exc.reason}") from None

    ns = {"p": PAIN_NAMESPACE}

    def check_totals(node, transactions, where):
        amounts = []
        for tx in transactions:
            e2e = tx.findtext("p:PmtId/p:EndToEndId", "", ns)
            amount = tx.find("p:Amt/p:InstdAmt", ns)
            if amount is None:
                raise ValueError(f"{e2e}: only InstdAmt is allowed in SEPA")
            if amount.get("Ccy") != "EUR":
                raise ValueError(f"{e2e}: currency {amount.get('Ccy')} is not EUR")
            value = _decimal(amount.text, f"{e2e}: InstdAmt")
            if not Decimal("0.01") <= value <= MAX_AMOUNT:
                raise ValueError(f"{e2e}: amount {amount.text} is out of range")
            amounts.append(value)
        number = node.findtext("p:NbOfTxs", None, ns)
        if number != str(len(amounts)):
            raise ValueError(f"{where}: NbOfTxs {number} but {len(amounts)} transactions")
        total = node.findtext("p:CtrlSum", None, ns)
        if total is None or _decimal(total, f"{where}: CtrlSum") != sum(amounts, Decimal(0)):
            raise ValueError(f"{where}: CtrlSum {total} is not the sum of the amounts")

    initiation = root.find("p:CstmrCdtTrfInitn", ns)
    check_totals(initiation.find("p:GrpHdr", ns),
                 initiation.findall("p:PmtInf/p:CdtTrfTxInf", ns), "GrpHdr")
    for block in initiation.findall("p:PmtInf", ns):
        check_totals(block, block.findall("p:CdtTrfTxInf", ns),
                     f"PmtInf {block.findtext('p:PmtInfId', '', ns)}")

    for element in root.iter():
        tag = element.tag.rpartition("}")[2]
        text = element.text or ""
        if tag in ("Nm", "Ustrd") and not _SEPA_CHARS.fullmatch(text):
            raise ValueError(f"{tag} {text!r}: characters outside the SEPA character set")
        if tag in ("MsgId", "PmtInfId", "EndToEndId", "InstrId"):
            _check_reference(text, tag)
