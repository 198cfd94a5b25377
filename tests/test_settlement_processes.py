"""Settlement runs in several processes: two at once cannot both book, and a
run killed half-way leaves nothing behind and completes when run again.
Runs on SQLite and (in CI) on PostgreSQL."""
from __future__ import annotations

import hashlib
import json
import os
import subprocess
import sys
from datetime import date
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, insert, select, text

from app.extensions import db
from app.models.crm import CompanyKind
from app.models.intermediaries import Intermediary
from app.models.ledger import Booking, SettlementRun, Statement, StatementPdf
from app.services.settlement import run_settlement
from tests.factories import make_company

ROOT = Path(__file__).resolve().parent.parent
PEOPLE = 60


@pytest.fixture
def ledger(app):
    """PEOPLE intermediaries with a Fixum and two October bookings each."""
    pool = make_company("Pool", CompanyKind.POOL)
    db.session.execute(insert(Intermediary), [
        {"name": f"V{i:03d}", "company_id": pool.id, "status": "ACTIVE",
         "tax_number": "12/345/67890", "fixum": Decimal("10.00"), "reserve_rate": 0}
        for i in range(PEOPLE)])
    ids = db.session.execute(select(Intermediary.id)).scalars().all()
    db.session.add_all([     # ORM objects: sealed into the ledger's hash chain
        Booking(intermediary_id=pid, kind="CORRECTION", amount=Decimal(f"{n}.{n:02d}"),
                booking_date=date(2026, 10, n), rule="test")
        for pid in ids for n in (3, 17)])
    db.session.commit()
    return ids


def _process(app, *args) -> subprocess.Popen:
    env = {**os.environ, "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
           "SECRET_KEY": app.config["SECRET_KEY"], "PYTHONPATH": str(ROOT)}
    return subprocess.Popen([sys.executable, "-m", "tests.settle_process", *args], cwd=ROOT,
                            env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)


def _counts():
    db.session.rollback()
    return (db.session.scalar(select(func.count()).select_from(Statement)),
            db.session.scalar(select(func.count()).select_from(Booking).where(
                Booking.kind == "FIXUM")),
            db.session.scalar(select(func.count()).select_from(Booking).where(
                Booking.statement_id.is_not(None))))


def test_two_runs_at_once_book_once(app, ledger, tmp_path):
    barrier = tmp_path / "go"
    runs = [_process(app, "2026-10", "race", str(barrier)) for _ in range(3)]
    barrier.touch()
    answers = []
    for proc in runs:
        out, err = proc.communicate(timeout=120)
        assert proc.returncode == 0, err
        answers.append(json.loads(out.strip().splitlines()[-1]))
    made = [a.get("made", 0) for a in answers]
    assert sorted(made)[-1] == PEOPLE and sum(made) == PEOPLE, answers
    statements, fixum, settled = _counts()
    assert (statements, fixum, settled) == (PEOPLE, PEOPLE, 3 * PEOPLE)
    sequences = db.session.execute(select(Statement.sequence).order_by(
        Statement.sequence)).scalars().all()
    assert sequences == list(range(1, PEOPLE + 1))      # gap-free, no number twice
    assert db.session.scalar(select(func.count()).select_from(SettlementRun)) == 1


def test_a_killed_run_leaves_nothing_and_the_rerun_completes(app, ledger):
    proc = _process(app, "2026-10", "kill", "20")
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == -9, (out, err)                 # killed half-way
    assert _counts() == (0, 0, 0)                            # nothing partial
    answer = run_settlement("2026-10", final=True, today=date(2026, 12, 1))
    assert len(answer["statements"]) == PEOPLE
    assert _counts() == (PEOPLE, PEOPLE, 3 * PEOPLE)
    # every intermediary: 3.03 + 17.17 + Fixum 10.00
    assert {s["payout"] for s in answer["statements"]} == {"30.20"}


def test_a_run_under_way_is_refused_with_409_and_writes_nothing(app, client, ledger):
    from tests.factories import api_token, make_staff

    pool_id = db.session.scalar(select(Intermediary.company_id).limit(1))
    from app.models.crm import Company

    make_staff(db.session.get(Company, pool_id), "Pool staff", "ps")
    auth = api_token(client, "ps")
    holder = db.engine.connect()
    try:
        if db.engine.dialect.name == "postgresql":
            holder.execute(text("SELECT pg_advisory_xact_lock(72010001)"))
            bodies = [{"period": "2026-10", "final": True}, {"period": "2026-10"}]
        else:
            holder.exec_driver_sql("BEGIN IMMEDIATE")
            bodies = [{"period": "2026-10", "final": True}]
        for body in bodies:
            resp = client.post("/api/v1/settlement/run", json=body, headers=auth)
            assert resp.status_code == 409, resp.json
            assert list(resp.json["message"]) == ["period"]
    finally:
        holder.rollback()
        holder.close()
    assert _counts() == (0, 0, 0)
    resp = client.post("/api/v1/settlement/run", json={"period": "2026-10", "final": True},
                       headers=auth)
    assert resp.status_code == 200 and len(resp.json["statements"]) == PEOPLE


def test_pool_settle_previews_then_issues_and_renders(app, ledger):
    runner = app.test_cli_runner()
    preview = runner.invoke(args=["pool", "settle", "--period", "2026-10"])
    assert preview.exit_code == 0, preview.output
    assert f"{PEOPLE} statements, payout {PEOPLE * Decimal('30.20')} EUR" in preview.output
    assert _counts() == (0, 0, 0)
    bad = runner.invoke(args=["pool", "settle", "--period", "2026-13", "--final"])
    assert bad.exit_code != 0 and "YYYY-MM" in bad.output
    done = runner.invoke(args=["pool", "settle", "--period", "2026-10", "--final"])
    assert done.exit_code == 0, done.output
    assert "Statements" in done.output and "RELEASED" in done.output   # the progress bar
    assert _counts() == (PEOPLE, PEOPLE, 3 * PEOPLE)
    run = db.session.scalar(select(SettlementRun.id))
    rendered = runner.invoke(args=["pool", "render-statements", "--run", str(run),
                                   "--workers", "2"])
    assert rendered.exit_code == 0 and f"{PEOPLE} credit notes" in rendered.output, (
        rendered.output)
    stored = db.session.execute(select(StatementPdf.sha256, StatementPdf.pdf)).all()
    assert len(stored) == PEOPLE
    assert all(hashlib.sha256(pdf).hexdigest() == sha for sha, pdf in stored)
    assert "0 credit notes" in runner.invoke(
        args=["pool", "render-statements", "--run", str(run)]).output
