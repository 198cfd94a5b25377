"""The GDV import of the sample file (14 contracts): contracts and
customers created, raw lines kept, twice without change; a corrupted copy
imports nothing and names the line; unknowns go to the clearance list."""
from __future__ import annotations

import io
import json
from pathlib import Path

import pytest

from app.extensions import db
from app.models.contracts import Contract
from app.models.crm import CompanyKind, Customer
from app.models.imports import ClearanceCase, GdvRaw, ImportRun
from app.models.products import LineOfBusiness, Product
from app.services.imports import import_gdv
from tests.factories import make_company

SAMPLE = Path(__file__).parent / "data" / "gdv" / "musterdatei_041222.txt"


@pytest.fixture
def insurer(app):
    pool = make_company("Pool", CompanyKind.POOL)
    company = make_company("Muster Versicherung AG", CompanyKind.INSURER, parent=pool,
                           vu_number="9999")
    for code in ("000", "010", "030", "040", "050"):
        line = db.session.query(LineOfBusiness).filter_by(code=code).first()
        if line is None:
            line = LineOfBusiness(code=code, name=f"Sparte {code}")
            db.session.add(line)
            db.session.flush()
        db.session.add(Product(insurer=company, line_of_business=line, key=f"P{code}",
                               name=f"Produkt {code}"))
    db.session.commit()
    return company


def test_the_sample_imports_with_14_contracts_twice_without_change(app, insurer):
    run, duplicate = import_gdv(io.BytesIO(SAMPLE.read_bytes()), SAMPLE.name)
    assert not duplicate
    report = json.loads(run.report)
    assert (report["contracts"], report["created"], report["lines"]) == (14, 14, 165)
    assert db.session.query(Contract).count() == 14
    assert db.session.query(GdvRaw).count() == 14
    assert db.session.query(Customer).count() == 14
    raw = db.session.query(GdvRaw).first()
    assert raw.raw.splitlines()[0][:4] in ("0100", "0200") and raw.contract_id
    again, duplicate = import_gdv(io.BytesIO(SAMPLE.read_bytes()), SAMPLE.name)
    assert duplicate and again.id == run.id
    assert db.session.query(Contract).count() == 14 and db.session.query(ImportRun).count() == 1
    # the same contracts in another file (one more blank line at the end): unchanged
    other, duplicate = import_gdv(io.BytesIO(SAMPLE.read_bytes() + b"\n"), "copy.txt")
    report = json.loads(other.report)
    assert not duplicate and (report["created"], report["unchanged"]) == (0, 14)
    assert db.session.query(Contract).count() == 14


def test_unknown_brokers_and_insurers_go_to_the_clearance_list(app, insurer):
    run, _ = import_gdv(io.BytesIO(SAMPLE.read_bytes()), SAMPLE.name)
    reasons = {c.reason for c in db.session.query(ClearanceCase)}
    assert reasons <= {"UNKNOWN_BROKER"}
    insurer.vu_number = "9998"
    db.session.commit()
    data = SAMPLE.read_bytes()
    run, _ = import_gdv(io.BytesIO(data + b"\n\n"), "other.txt")
    assert json.loads(run.report)["cases"]["UNKNOWN_INSURER"] == 14


@pytest.mark.parametrize("damage, line", [("short", 12), ("date", None), ("trailer", 165)])
def test_a_corrupted_copy_imports_nothing_and_names_the_line(app, insurer, damage, line):
    from app.domain.gdv import GdvError

    lines = SAMPLE.read_bytes().split(b"\n")
    if damage == "short":
        lines[11] = lines[11][:200]
    elif damage == "date":
        number = next(i for i, ln in enumerate(lines) if ln[:4] == b"0200")
        lines[number] = lines[number][:43] + b"31139999" + lines[number][51:]
        line = number + 1
    else:
        number = next(i for i, ln in enumerate(lines) if ln[:4] == b"9999")
        lines[number] = lines[number][:4] + b"0000000001" + lines[number][14:]
    with pytest.raises(GdvError) as caught:
        import_gdv(io.BytesIO(b"\n".join(lines)), "broken.txt")
    assert caught.value.line == line
    assert f"{line}" in str(caught.value)
    assert db.session.query(Contract).count() == 0 and db.session.query(ImportRun).count() == 0
    assert db.session.query(Customer).count() == 0


def test_the_cli_reports_the_import(app, insurer):
    result = app.test_cli_runner().invoke(args=["pool", "import-gdv", str(SAMPLE)])
    assert result.exit_code == 0, result.output
    assert "created: 14" in result.output and "records:" in result.output
