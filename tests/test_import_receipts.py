"""Importing an insurer's commission statement by mapping profile (CLI and
service): booked once, unknown contracts to the clearance list, a bad file
imports nothing and names line and field."""
from __future__ import annotations

import io
import json

import pytest

from app.extensions import db
from app.models.imports import ClearanceCase, ImportProfile, ImportRun
from app.models.ledger import Booking, Receipt
from app.services.imports import import_receipts
from tests.api.test_ledger_api import env  # noqa: F401  (pool, contracts L-1 H-1 K-1)

PROFILE = {"name": "alpha-csv", "file_type": "csv", "separator": ";", "decimal_comma": True,
           "date_format": "%d.%m.%Y",
           "columns": {"policy_number": "VSNR", "amount": "Betrag", "value_date": "Datum",
                       "kind": "Art", "reference": "Beleg"},
           "kind_map": {"Abschlussprovision": "AP", "Folgeprovision": "FP"}}

GOOD = ("VSNR;Betrag;Datum;Art;Beleg\r\n"
        "L-1;1.234,56;05.10.2026;Abschlussprovision;B-1\r\n"
        "H-1;100,00;07.10.2026;Folgeprovision;B-2\r\n"
        "X-999;50,00;07.10.2026;Folgeprovision;B-3\r\n").encode("cp1252")


@pytest.fixture
def profile(app, env):  # noqa: F811
    from app.models.contracts import Contract

    insurer = db.session.get(Contract, env["contracts"]["L-1"].id).insurer
    stored = ImportProfile(name="alpha-csv", insurer=insurer, definition=json.dumps(PROFILE))
    db.session.add(stored)
    db.session.commit()
    return stored


def test_a_statement_is_booked_once_and_unknown_lines_are_cases(app, env, profile):  # noqa: F811
    run, duplicate = import_receipts(io.BytesIO(GOOD), "alpha.csv", "alpha-csv")
    assert not duplicate
    db.session.expire_all()
    report = json.loads(db.session.get(ImportRun, run.id).report)   # as stored
    # H-1 belongs to another insurer: a case like the unknown X-999
    assert (report["lines"], report["receipts"], report["clearance_cases"]) == (3, 1, 2)
    assert db.session.query(Receipt).count() == 1
    assert db.session.query(Booking).filter_by(kind="AP").one().amount == pytest.approx(
        __import__("decimal").Decimal("987.65"))
    cases = {c.key: c.reason for c in db.session.query(ClearanceCase)}
    assert cases == {"X-999": "NO_CONTRACT", "H-1": "NO_CONTRACT"}
    again, duplicate = import_receipts(io.BytesIO(GOOD), "alpha.csv", "alpha-csv")
    assert duplicate and again.id == run.id
    assert db.session.query(Receipt).count() == 1 and db.session.query(ImportRun).count() == 1
    # the same reference in another file: skipped and reported
    other = GOOD.replace(b"X-999;50,00", b"X-998;50,00")
    run2, _ = import_receipts(io.BytesIO(other), "alpha2.csv", "alpha-csv")
    assert json.loads(run2.report)["skipped_duplicates"] == ["B-1"]
    assert db.session.query(Receipt).count() == 1


@pytest.mark.parametrize("bad, line, field", [
    (GOOD.replace(b"1.234,56", b"12x4"), 2, "amount"),
    (GOOD.replace(b"07.10.2026;Folge", b"31.02.2026;Folge", 1), 3, "value_date"),
    (GOOD.replace(b"Folgeprovision;B-2", b"Storno;B-2"), 3, "kind"),
    (GOOD.replace(b";Beleg", b";Belegnummer"), 1, "reference")])
def test_a_bad_file_imports_nothing_and_names_line_and_field(app, env, profile, bad, line,  # noqa: F811
                                                             field):
    from app.domain.errors import DomainError

    with pytest.raises(DomainError) as caught:
        import_receipts(io.BytesIO(bad), "bad.csv", "alpha-csv")
    errors = getattr(caught.value, "errors", [caught.value])
    assert any(e.line == line and e.field == field for e in errors), [str(e) for e in errors]
    db.session.rollback()
    assert db.session.query(Receipt).count() == 0 and db.session.query(ImportRun).count() == 0


def test_the_cli_imports_with_a_progress_bar_and_a_report(app, env, profile, tmp_path):  # noqa: F811
    path = tmp_path / "alpha.csv"
    path.write_bytes(GOOD)
    runner = app.test_cli_runner()
    result = runner.invoke(args=["pool", "import-receipts", str(path), "--profile", "alpha-csv"])
    assert result.exit_code == 0, result.output
    assert "receipts: 1" in result.output and "clearance_cases: 2" in result.output
    again = runner.invoke(args=["pool", "import-receipts", str(path), "--profile", "alpha-csv"])
    assert "nothing changed" in again.output
    bad = tmp_path / "bad.csv"
    bad.write_bytes(GOOD.replace(b"1.234,56", b"12x4"))
    failed = runner.invoke(args=["pool", "import-receipts", str(bad), "--profile", "alpha-csv"])
    assert failed.exit_code != 0 and "Line 2" in failed.output and "Nothing was imported" in \
        failed.output
    unknown = runner.invoke(args=["pool", "import-receipts", str(path), "--profile", "nope"])
    assert unknown.exit_code != 0
