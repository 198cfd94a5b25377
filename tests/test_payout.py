"""The SEPA payout file (pain.001.001.09): pure, no app, no database."""
from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date, datetime
from decimal import Decimal

import pytest
import xmlschema
from schwifty import IBAN

from app.domain.errors import InvalidValueError, RequiredFieldError
from app.services.payout import (
    PAIN_NAMESPACE,
    PAIN_XSD,
    Held,
    Payout,
    build_credit_transfer,
    sepa_text,
    validate_pain001,
)

NS = {"p": PAIN_NAMESPACE}
POOL_IBAN = "DE02500105170137075030"  # ING-DiBa, BIC INGDDEFFXXX
EXECUTION = date(2026, 3, 2)
MESSAGE_ID = "POOL-2026-03-0001"
# A valid IBAN whose bank code is in no registry: schwifty derives no BIC.
UNKNOWN_BANK_IBAN = str(IBAN.generate("DE", bank_code="12345678", account_code="1234567890"))

PAYOUTS = [
    Payout(1, "2026-000001", "Müller & Söhne GmbH", "DE89370400440532013000", None,
           Decimal("1208.88")),
    Payout(2, "2026-000002", "Jürgen Weiß", "de02 1203 0000 0000 2020 51", "BYLADEM1001",
           Decimal("0.01")),
    Payout(3, "2026-000003", "Özdemir Versicherungsmakler", None, None, Decimal("50.00")),
    Payout(4, "2026-000004", "Anna Prüfziffer", "DE89370400440532013001", None,
           Decimal("75.00")),
    Payout(5, "2026-000005", "Null Courtage", "DE02500105170137075030", None, Decimal("0.00")),
    Payout(6, "2026-000006", "Berliner Makler", "DE88100900001234567892", None,
           Decimal("1.00")),
]


def build(payouts=PAYOUTS, **kwargs):
    args = {"debtor_name": "Vermittlerpool Süd GmbH", "debtor_iban": POOL_IBAN,
            "debtor_bic": None, "payouts": payouts, "execution_date": EXECUTION,
            "message_id": MESSAGE_ID} | kwargs
    return build_credit_transfer(**args)


def transactions(xml: bytes) -> dict[str, ET.Element]:
    root = ET.fromstring(xml)
    return {tx.findtext("p:PmtId/p:EndToEndId", namespaces=NS): tx
            for tx in root.iterfind(".//p:CdtTrfTxInf", NS)}


@pytest.fixture(scope="module")
def result():
    return build()


def test_the_test_ibans_are_valid():
    for payout in PAYOUTS:
        if payout.statement_id not in (3, 4):
            IBAN(payout.iban)
    IBAN(POOL_IBAN)
    IBAN(UNKNOWN_BANK_IBAN)
    with pytest.raises(ValueError):
        IBAN("DE89370400440532013001")


def test_file_validates_against_the_bundled_xsd(result):
    xml, _ = result
    assert xml.startswith(b"<?xml")
    assert ET.fromstring(xml).tag == f"{{{PAIN_NAMESPACE}}}Document"
    assert PAIN_XSD.name == "pain.001.001.09.xsd" and PAIN_XSD.is_file()
    xmlschema.XMLSchema(str(PAIN_XSD)).validate(xml)  # raises if invalid
    validate_pain001(xml)


def test_header_and_payment_information(result):
    xml, _ = result
    root = ET.fromstring(xml)
    header = root.find("p:CstmrCdtTrfInitn/p:GrpHdr", NS)
    assert header.findtext("p:MsgId", namespaces=NS) == MESSAGE_ID
    assert header.findtext("p:NbOfTxs", namespaces=NS) == "3"
    assert header.findtext("p:CtrlSum", namespaces=NS) == "1209.89"
    blocks = root.findall("p:CstmrCdtTrfInitn/p:PmtInf", NS)
    assert len(blocks) == 1
    block = blocks[0]
    assert block.findtext("p:NbOfTxs", namespaces=NS) == "3"
    assert block.findtext("p:CtrlSum", namespaces=NS) == "1209.89"
    assert block.findtext("p:PmtMtd", namespaces=NS) == "TRF"
    assert block.findtext("p:PmtTpInf/p:SvcLvl/p:Cd", namespaces=NS) == "SEPA"
    assert block.findtext("p:ReqdExctnDt/p:Dt", namespaces=NS) == "2026-03-02"
    assert block.findtext("p:Dbtr/p:Nm", namespaces=NS) == "Vermittlerpool Sued GmbH"
    assert block.findtext("p:DbtrAcct/p:Id/p:IBAN", namespaces=NS) == POOL_IBAN
    # No debtor BIC given: derived from the IBAN.
    assert block.findtext("p:DbtrAgt/p:FinInstnId/p:BICFI", namespaces=NS) == "INGDDEFFXXX"
    assert block.findtext("p:ChrgBr", namespaces=NS) == "SLEV"


def test_one_transfer_per_valid_payout(result):
    xml, _ = result
    txs = transactions(xml)
    assert list(txs) == ["2026-000001", "2026-000002", "2026-000006"]

    def field(e2e, path):
        return txs[e2e].findtext(path, namespaces=NS)

    assert field("2026-000001", "p:Amt/p:InstdAmt") == "1208.88"
    assert txs["2026-000001"].find("p:Amt/p:InstdAmt", NS).get("Ccy") == "EUR"
    assert field("2026-000001", "p:Cdtr/p:Nm") == "Mueller + Soehne GmbH"
    assert field("2026-000001", "p:CdtrAcct/p:Id/p:IBAN") == "DE89370400440532013000"
    assert field("2026-000001", "p:CdtrAgt/p:FinInstnId/p:BICFI") == "COBADEFFXXX"  # derived
    assert field("2026-000001", "p:RmtInf/p:Ustrd") == "Courtageabrechnung 2026-000001"
    assert field("2026-000002", "p:Amt/p:InstdAmt") == "0.01"
    assert field("2026-000002", "p:Cdtr/p:Nm") == "Juergen Weiss"
    assert field("2026-000002", "p:CdtrAcct/p:Id/p:IBAN") == "DE02120300000000202051"
    assert field("2026-000002", "p:CdtrAgt/p:FinInstnId/p:BICFI") == "BYLADEM1001"
    assert field("2026-000006", "p:Amt/p:InstdAmt") == "1.00"


def test_held_are_exactly_the_two_without_a_valid_iban(result):
    _, held = result
    assert held == [
        Held(3, "2026-000003", "Özdemir Versicherungsmakler", Decimal("50.00"), "No IBAN."),
        Held(4, "2026-000004", "Anna Prüfziffer", Decimal("75.00"), "The IBAN is not valid."),
    ]


def test_zero_and_negative_payouts_are_neither_paid_nor_held(result):
    xml, held = result
    assert "2026-000005" not in transactions(xml)
    assert "2026-000005" not in [h.number for h in held]
    xml, held = build([Payout(7, "2026-000007", "Minus", None, None, Decimal("-10.00")),
                       PAYOUTS[0]])
    assert list(transactions(xml)) == ["2026-000001"] and held == []


def test_no_valid_payout_gives_no_file():
    xml, held = build([PAYOUTS[2], PAYOUTS[3], PAYOUTS[4]])
    assert xml == b""
    assert [h.statement_id for h in held] == [3, 4]
    assert build([]) == (b"", [])


def test_transliteration_to_the_sepa_character_set():
    assert sepa_text("Müller & Söhne", 70) == "Mueller + Soehne"
    assert sepa_text("ÄÖÜ straße", 70) == "AeOeUe strasse"
    assert sepa_text("Ça va — Ñandú; <b>\"x\"</b>", 70) == "Ca va -- Nandu b x /b"
    assert sepa_text("  a \n b  ", 70) == "a b"
    assert len(sepa_text("x" * 100, 70)) == 70


def test_invalid_bic_is_held_and_unknown_bank_has_no_agent():
    xml, held = build([
        Payout(8, "2026-000008", "Falsche BIC", "DE89370400440532013000", "NOTABIC", Decimal("5")),
        Payout(9, "2026-000009", "Kleine Bank", UNKNOWN_BANK_IBAN, None, Decimal("5")),
    ], debtor_iban=UNKNOWN_BANK_IBAN)
    assert [(h.statement_id, h.reason) for h in held] == [(8, "The BIC is not valid.")]
    tx = transactions(xml)["2026-000009"]
    assert tx.find("p:CdtrAgt", NS) is None  # IBAN-only
    root = ET.fromstring(xml)
    agent = root.find(".//p:PmtInf/p:DbtrAgt/p:FinInstnId", NS)
    assert agent.find("p:BICFI", NS) is None
    assert agent.findtext("p:Othr/p:Id", namespaces=NS) == "NOTPROVIDED"
    validate_pain001(xml)


def test_iban_outside_sepa_is_held():
    _, held = build([Payout(10, "2026-000010", "Rio", "BR1800360305000010009795493C1", None,
                            Decimal("5")), PAYOUTS[0]])
    assert [h.reason for h in held] == ["The IBAN is not in the SEPA area."]


def test_nameless_payee_and_amount_over_the_sepa_limit_are_held():
    _, held = build([
        Payout(15, "2026-000015", " \u2603 ", "DE89370400440532013000", None, Decimal("5")),
        Payout(16, "2026-000016", "Big", "DE89370400440532013000", None,
               Decimal("1000000000.00")),
        PAYOUTS[0],
    ])
    assert [(h.statement_id, h.reason) for h in held] == [
        (15, "No account holder name."), (16, "The amount exceeds the SEPA limit.")]


def test_amounts_are_converted_exactly():
    xml, _ = build([Payout(11, "2026-000011", "Gross", "DE89370400440532013000", None,
                           Decimal("123456789.99"))], execution_date=datetime(2026, 3, 2, 9))
    assert transactions(xml)["2026-000011"].findtext("p:Amt/p:InstdAmt", namespaces=NS) \
        == "123456789.99"
    with pytest.raises(ValueError, match="fractions of a cent"):
        build([Payout(12, "2026-000012", "X", "DE89370400440532013000", None,
                      Decimal("1.005"))])
    with pytest.raises(TypeError):
        build([Payout(13, "2026-000013", "X", "DE89370400440532013000", None, 1.5)])


def test_a_statement_number_twice_is_refused():
    with pytest.raises(ValueError, match="twice"):
        build([PAYOUTS[0], PAYOUTS[0]])


def test_bad_references_are_refused():
    with pytest.raises(ValueError):
        build(message_id="x" * 36)
    with pytest.raises(ValueError):
        build([Payout(14, "2026//14", "X", "DE89370400440532013000", None, Decimal("1"))])


def test_invalid_debtor_iban_raises():
    with pytest.raises(InvalidValueError) as info:
        build(debtor_iban="DE89370400440532013001")
    assert info.value.field == "iban"
    assert info.value.message == "The IBAN is not valid."
    with pytest.raises(InvalidValueError) as info:
        build(debtor_iban="")
    assert info.value.field == "iban"
    with pytest.raises(InvalidValueError) as info:
        build(debtor_bic="NOTABIC")
    assert info.value.field == "bic"
    with pytest.raises(RequiredFieldError) as info:
        build(debtor_name="  ")
    assert info.value.field == "name"


@pytest.mark.parametrize("old, new, message", [
    # A mandatory element removed: the XSD fails.
    (b"<PmtMtd>TRF</PmtMtd>", b"", "PmtMtd"),
    (b"<MsgId>POOL-2026-03-0001</MsgId>", b"", "MsgId"),
    (b"<Dbtr><Nm>Vermittlerpool Sued GmbH</Nm></Dbtr>", b"", "Dbtr"),
    # Three decimals pass the ISO XSD (five allowed) but not the SEPA rules.
    (b">1208.88<", b">1208.885<", "to the cent"),
    (b'Ccy="EUR"', b'Ccy="USD"', "not EUR"),
    (b"<CtrlSum>1209.89</CtrlSum>", b"<CtrlSum>1209.90</CtrlSum>", "CtrlSum"),
    (b"<NbOfTxs>3</NbOfTxs>", b"<NbOfTxs>4</NbOfTxs>", "NbOfTxs"),
    (b"Mueller + Soehne", "Müller & Söhne".replace("&", "&amp;").encode(), "character set"),
    (b"<EndToEndId>2026-000001<", b"<EndToEndId>/2026-000001<", "reference"),
    (b"<MsgId>", b"<MsgIdentification>", "well-formed"),
])
def test_tampered_file_fails_validation(result, old, new, message):
    xml, _ = result
    assert old in xml
    with pytest.raises(ValueError, match=message):
        validate_pain001(xml.replace(old, new, 1))


def test_validate_rejects_non_files():
    for bad in (b"", b"<not xml", b"<Document/>"):
        with pytest.raises(ValueError):
            validate_pain001(bad)
