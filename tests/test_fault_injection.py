"""Fault injection (issue 10, point 6): a settlement run and the imports
(receipts, GDV) killed at random points leave nothing partial, and the
re-run completes to the state of an undisturbed run; a failing PDF renderer
leaves the statement final and its credit note is rendered later.

The kill is real: the work runs as the `flask --app run.py pool ...` command
in a process of its own, started through tests/fault_hook, which counts the
statements the process sends to the database and SIGKILLs it right before
the n-th (see tests/fault_hook/__init__.py for what counts). An undisturbed
run is measured first (its statement count and its end state); each of 20
seeds picks n uniformly from 1..count. The processes are forked from one
that has imported the app once (start-up is most of a small run's time);
test_the_hook_kills_at_the_statement_it_is_told shows that a forked command
does exactly what the command started as is does.

What the code does, and so what is tested: a final settlement run is one
transaction (the month's Fixum, reserve releases, the run, its statements,
the settled bookings: app/services/settlement.py), and so is each import
(receipts: the import run, receipts, bookings, missing rates, clearance
cases, its chunks booked with commit=False; GDV: the import run, customers,
contracts, raw lines, cases: app/services/imports.py). No import commits
per chunk. A killed process therefore leaves exactly the state before it
or, killed after its COMMIT (while printing its answer), exactly the state
of the undisturbed run; nothing in between, and the re-run (of an import
killed after its COMMIT: "imported before, nothing changed") ends in the
undisturbed run's state. The consistency rules (check_consistent,
check_gdv_consistent) are checked on every state seen as well, so that a
partial state would be named by the rule it breaks.

Runs on SQLite (a file database) and on PostgreSQL (DATABASE_URL, as the
rest of the suite: tests/conftest.py make_config).
"""
from __future__ import annotations

import hashlib
import json
import os
import random
import re
import subprocess
import sys
from collections import Counter
from datetime import date, timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from sqlalchemy import func, select, text
from sqlalchemy.orm import aliased

from app.extensions import db
from app.models.contracts import Contract
from app.models.crm import CompanyKind, Customer
from app.models.imports import ClearanceCase, GdvRaw, ImportProfile, ImportRun
from app.models.intermediaries import Intermediary, IntermediaryRate
from app.models.ledger import (
    Booking,
    MissingRate,
    Receipt,
    SettlementRun,
    Statement,
    StatementPdf,
)
from app.models.products import Product
from tests.conftest import clean_database
from tests.factories import make_company, make_customer
from tests.masterdata import line

ROOT = Path(__file__).resolve().parent.parent
SEEDS = range(20)
#: exit status of a process the hook killed (SIGKILL)
KILLED = -9

PROFILE = {"name": "alpha-csv", "file_type": "csv", "separator": ";", "decimal_comma": True,
           "date_format": "%d.%m.%Y",
           "columns": {"policy_number": "VSNR", "amount": "Betrag", "value_date": "Datum",
                       "kind": "Art", "reference": "Beleg"},
           "kind_map": {"Abschlussprovision": "AP", "Folgeprovision": "FP"}}


def settled_period(today: date | None = None) -> tuple[str, date]:
    """The month before this one (a final run needs a month that has ended):
    its name and first day."""
    first = (today or date.today()).replace(day=1) - timedelta(days=1)
    first = first.replace(day=1)
    return f"{first:%Y-%m}", first


# --- the world ------------------------------------------------------------

#: name, tax number, Fixum, reserve rate, AP/FP rate (None: no rate row)
PEOPLE = [("Anders", "11/111/11111", "150.00", 10, 40),
          ("Berger", "22/222/22222", "0", 0, 30),
          ("Conrad", "33/333/33333", "0", 10, 25),
          ("Dietz", None, "100.00", 0, 35),            # no tax number: withheld
          ("Engel", "55/555/55555", "200.00", 0, None)]  # no rate: missing rates


def build_world(first: date) -> dict:
    """Five intermediaries with contracts at Alpha Leben (life: reserves
    apply), one contract old enough for its reserve to be released in the
    period, an import profile, and the receipt file of the period: 39 lines
    for known contracts (Engel's without a rate), 3 for unknown ones
    (clearance cases)."""
    pool = make_company("Pool", CompanyKind.POOL)
    alpha = make_company("Alpha Leben", CompanyKind.INSURER, parent=pool)
    life = line("010")
    product = Product(insurer=alpha, line_of_business=life, key="AR", name="Alpha Rente")
    db.session.add(product)
    db.session.add(ImportProfile(name="alpha-csv", insurer=alpha,
                                 definition=json.dumps(PROFILE)))
    db.session.commit()
    policies = []
    for name, tax, fixum, reserve, rate in PEOPLE:
        person = Intermediary(name=name, company=pool, status="ACTIVE", tax_number=tax,
                              fixum=Decimal(fixum), reserve_rate=Decimal(reserve))
        db.session.add(person)
        db.session.commit()
        if rate is not None:
            db.session.add(IntermediaryRate(intermediary=person, insurer=alpha,
                                            line_of_business=life, ap_rate=Decimal(rate),
                                            fp_rate=Decimal(rate) / 10))
        db.session.commit()
        customer = make_customer(pool, f"Kunde {name}", intermediary=person)
        for n in range(3):
            # Anders' first contract started six years ago: its liability
            # (60 months) has ended, its reserve is released by the run
            start = first.replace(year=first.year - (6 if (name, n) == ("Anders", 0) else 1))
            contract = Contract(policy_number=f"{name[0]}-{n}", customer=customer,
                                product=product, start_date=start, term_months=240,
                                managing_company=pool)
            db.session.add(contract)
            policies.append(contract.policy_number)
        db.session.commit()
    lines = ["VSNR;Betrag;Datum;Art;Beleg"]
    number = 0
    for repeat in range(3):
        for policy in policies[:12] if repeat else policies:
            number += 1
            kind = "Abschlussprovision" if repeat == 0 else "Folgeprovision"
            amount = Decimal(100 + 37 * number) + Decimal(number) / 100
            lines.append(f"{policy};{str(amount).replace('.', ',')};"
                         f"{first.replace(day=2 + number % 25):%d.%m.%Y};{kind};R-{number}")
    for n in range(3):
        lines.append(f"X-{n};50,00;{first.replace(day=20):%d.%m.%Y};Folgeprovision;U-{n}")
    assert len(lines) - 1 == 15 + 12 + 12 + 3
    return {"csv": ("\r\n".join(lines) + "\r\n").encode("cp1252")}


def reset(first: date, tmp_path: Path, with_receipts: bool) -> Path:
    """An empty database, the world, its receipt file (imported already for
    the settlement run)."""
    clean_database()
    db.session.remove()
    world = build_world(first)
    path = tmp_path / "alpha.csv"
    path.write_bytes(world["csv"])
    if with_receipts:
        from app.services.imports import import_receipts
        from app.services.ledger import book_correction

        with open(path, "rb") as stream:
            import_receipts(stream, path.name, "alpha-csv")
        # Berger owes more than he earned: a debit balance carried forward
        berger = db.session.scalar(select(Intermediary.id).where(Intermediary.name == "Berger"))
        book_correction(berger, "-9000.00", first.replace(day=28), "Rückforderung")
    db.session.remove()
    return path


# --- the processes ------------------------------------------------------------

def _env(app) -> dict:
    """The test database for a process of its own (as the suite's)."""
    env = {**os.environ, "DATABASE_URL": app.config["SQLALCHEMY_DATABASE_URI"],
           "SECRET_KEY": app.config["SECRET_KEY"], "PYTHONPATH": str(ROOT)}
    for name in ("POOL_FAULT_AT", "POOL_FAULT_COUNT"):
        env.pop(name, None)
    return env


def flask_process(app, args: list[str], fault_at: int = 0) -> subprocess.CompletedProcess:
    """`flask --app run.py ARGS` started as is, through the kill hook."""
    db.session.remove()           # no transaction of ours in its way
    return subprocess.run([sys.executable, "-m", "tests.fault_hook", "--app", "run.py", *args],
                          cwd=ROOT, env={**_env(app), "POOL_FAULT_AT": str(fault_at)},
                          capture_output=True, text=True, timeout=300)


@pytest.fixture(scope="module")
def forker(_app, tmp_path_factory):
    """`python -m tests.fault_hook --serve`: one process per command, forked
    from one that has imported the app (tests/fault_hook/__init__.py)."""
    server = subprocess.Popen([sys.executable, "-m", "tests.fault_hook", "--serve"],
                              cwd=ROOT, env=_env(_app), stdin=subprocess.PIPE,
                              stdout=subprocess.PIPE, text=True)
    yield server, tmp_path_factory.mktemp("forked")
    server.stdin.close()
    server.wait(timeout=60)


def pool_command(forker, args: list[str], fault_at: int = 0,
                 count_file: Path | None = None) -> subprocess.CompletedProcess:
    """`flask --app run.py pool ARGS` in a process of its own on the test
    database, through the kill hook (forked by the server: see `forker`)."""
    import select as selecting

    server, folder = forker
    db.session.remove()           # no transaction of ours in its way
    out, err = folder / "stdout", folder / "stderr"
    server.stdin.write(json.dumps({"argv": ["--app", "run.py", "pool", *args], "at": fault_at,
                                   "count_file": count_file and str(count_file),
                                   "out": str(out), "err": str(err)}) + "\n")
    server.stdin.flush()
    ready, _, _ = selecting.select([server.stdout], [], [], 300)
    assert ready, f"no answer from the forked process of {args}"
    answer = json.loads(server.stdout.readline())
    return subprocess.CompletedProcess(args, answer["returncode"], out.read_text(),
                                       err.read_text())


def measure(forker, args: list[str], tmp_path: Path) -> int:
    """The undisturbed run: it succeeds; its statement count."""
    count_file = tmp_path / "statements.count"
    done = pool_command(forker, args, count_file=count_file)
    assert done.returncode == 0, (done.stdout, done.stderr)
    count = int(count_file.read_text())
    # SQLite counts each row its bulk inserts step; PostgreSQL copies them
    # with one COPY (kills fall before and after it): fewer points there
    assert count >= 10, count
    return count


def kill_points(total: int) -> list[int]:
    """The statement each seed kills at: uniform over 1..total."""
    return [random.Random(seed).randint(1, total) for seed in SEEDS]


# --- the state ------------------------------------------------------------

def _money(value) -> str:
    return None if value is None else str(Decimal(value).quantize(Decimal("0.01")))


def _without_ids(text: str | None) -> str:
    """A JSON column without the ids in it (a rebuilt world has other ids
    on PostgreSQL, whose sequences go on after a DELETE)."""
    def strip(value):
        if isinstance(value, dict):
            return {k: strip(v) for k, v in value.items()
                    if k not in ("intermediary", "insurer_id")}
        if isinstance(value, list):
            return [strip(v) for v in value]
        return value

    return json.dumps(strip(json.loads(text or "null")), sort_keys=True)


def state() -> dict:
    """Everything the work writes, by natural keys (names, policy numbers,
    references; never ids, which differ between rebuilt worlds): bookings,
    receipts, missing rates, statements, payouts, runs, imports, cases.
    Multisets (sorted lists), so that a row written twice shows."""
    db.session.rollback()
    person = aliased(Intermediary)
    holder = aliased(Intermediary)
    origin = aliased(Booking)
    bookings = db.session.execute(
        select(person.name, Booking.kind, Booking.amount, Booking.booking_date,
               Contract.policy_number, Receipt.reference, Booking.fixum_month,
               origin.kind, Booking.rule, Statement.period, holder.name)
        .select_from(Booking).join(person, person.id == Booking.intermediary_id)
        .outerjoin(Contract, Contract.id == Booking.contract_id)
        .outerjoin(Receipt, Receipt.id == Booking.receipt_id)
        .outerjoin(origin, origin.id == Booking.origin_id)
        .outerjoin(Statement, Statement.id == Booking.statement_id)
        .outerjoin(holder, holder.id == Statement.intermediary_id)).all()
    statements = db.session.execute(
        select(Intermediary.name, Statement.period, Statement.number, Statement.status,
               Statement.opening_balance, Statement.total, Statement.payout,
               Statement.carry_forward, Statement.reserve_balance, SettlementRun.period)
        .select_from(Statement).join(Intermediary, Intermediary.id == Statement.intermediary_id)
        .outerjoin(SettlementRun, SettlementRun.id == Statement.run_id)).all()
    return {
        "bookings": sorted((str(r[0]), str(getattr(r[1], "value", r[1])), _money(r[2]),
                            str(r[3]), *map(str, r[4:8]), re.sub(r"\d+", "#", r[8] or ""),
                            *map(str, r[9:])) for r in bookings),   # the rule names row ids
        "receipts": sorted(tuple(map(str, r)) for r in db.session.execute(
            select(Contract.policy_number, Receipt.kind, Receipt.amount, Receipt.value_date,
                   Receipt.reference, Receipt.source)
            .select_from(Receipt).join(Contract, Contract.id == Receipt.contract_id))),
        "missing_rates": sorted(tuple(map(str, r)) for r in db.session.execute(
            select(Receipt.reference, Contract.policy_number, Intermediary.name)
            .select_from(MissingRate).join(Receipt, Receipt.id == MissingRate.receipt_id)
            .join(Contract, Contract.id == MissingRate.contract_id)
            .join(Intermediary, Intermediary.id == MissingRate.intermediary_id))),
        "statements": sorted((r[0], r[1], r[2], r[3], *map(_money, r[4:9]), r[9])
                             for r in statements),
        "payouts": sorted((r[0], r[1], _money(r[6])) for r in statements if r[6] > 0),
        "runs": sorted((r[0], r[1], r[2], _money(r[3]), _without_ids(r[4]))
                       for r in db.session.execute(
            select(SettlementRun.period, SettlementRun.status, SettlementRun.statements,
                   SettlementRun.payout_total, SettlementRun.withheld))),
        "imports": sorted(tuple(r) for r in db.session.execute(
            select(ImportRun.kind, ImportRun.filename, ImportRun.sha256, ImportRun.status,
                   ImportRun.report))),
        "contracts": sorted(tuple(map(str, r)) for r in db.session.execute(
            select(Contract.policy_number, Contract.status, Contract.start_date,
                   Contract.term_months, Contract.premium, Contract.payment_frequency,
                   Customer.name, Customer.first_name, Customer.city, Product.key)
            .select_from(Contract).join(Customer, Customer.id == Contract.customer_id)
            .join(Product, Product.id == Contract.product_id))),
        "customers": sorted(tuple(map(str, r)) for r in db.session.execute(
            select(Customer.name, Customer.first_name, Customer.birth_date, Customer.city))),
        "gdv_raw": sorted(tuple(map(str, r)) for r in db.session.execute(
            select(Contract.policy_number, GdvRaw.line_from, GdvRaw.line_to, GdvRaw.raw)
            .select_from(GdvRaw).join(Contract, Contract.id == GdvRaw.contract_id))),
        "cases": sorted((*map(str, r[:4]), _without_ids(r[4])) for r in db.session.execute(
            select(ClearanceCase.reason, ClearanceCase.line, ClearanceCase.key,
                   ClearanceCase.status, ClearanceCase.detail))),
    }


#: the booking kinds a receipt makes
RECEIPT_KINDS = ("AP", "AP_ZV", "FP", "OVERRIDE", "RESERVE_RETAIN")


def check_consistent(period: str) -> None:
    """The rules a state must keep whatever happened to the process that
    wrote it:
    - receipts: every booking of a kind made from receipts (in this world:
      no policing, no overrides) names an existing receipt of its own
      contract, and every receipt has bookings or a missing rate;
    - imports: an import run is there with all it reports (its receipts,
      bookings, missing rates and clearance cases), or not at all;
    - statements: each has its run; its bookings (those naming it) are the
      intermediary's and dated up to the period's end, add up to its total
      less its opening balance, and total = payout + carry forward; the
      intermediary has no unsettled booking left up to that day; the run
      counts its statements and their payouts;
    - Fixum: booked at most once per intermediary and month.
    """
    db.session.rollback()
    receipts = {pk: contract for pk, contract in db.session.execute(
        select(Receipt.id, Receipt.contract_id))}
    from_receipts = db.session.execute(
        select(Booking.id, Booking.receipt_id, Booking.contract_id, Booking.kind)
        .where(Booking.kind.in_(RECEIPT_KINDS))).all()
    for pk, receipt, contract, kind in from_receipts:
        assert receipt in receipts, f"booking {pk} ({kind}) without its receipt"
        assert receipts[receipt] == contract, f"booking {pk}: not its receipt's contract"
    explained = {r for _, r, _, _ in from_receipts} | set(db.session.execute(
        select(MissingRate.receipt_id)).scalars())
    assert set(receipts) <= explained, "a receipt without bookings or missing rate"

    runs = db.session.execute(select(ImportRun)).scalars().all()
    assert len(runs) <= 1
    for run in runs:
        report = json.loads(run.report)
        assert run.finished_on is not None and report["receipts"] == len(receipts)
        assert report["bookings"] == db.session.scalar(select(func.count()).where(
            Booking.receipt_id.is_not(None)))
        assert report["missing_rates"] == db.session.scalar(
            select(func.count()).select_from(MissingRate))
        assert report["clearance_cases"] == db.session.scalar(
            select(func.count()).select_from(ClearanceCase))
    if not runs:
        assert not receipts and not db.session.scalar(
            select(func.count()).select_from(ClearanceCase)), "half an import"

    from app.domain.settlement import parse_period

    for statement in db.session.execute(select(Statement)).scalars():
        _, last = parse_period(statement.period)
        label = f"statement {statement.intermediary_id}/{statement.period}"
        assert statement.run_id is not None and db.session.get(
            SettlementRun, statement.run_id) is not None, label
        own = db.session.execute(select(Booking.intermediary_id, Booking.booking_date,
                                        Booking.amount)
                                 .where(Booking.statement_id == statement.id)).all()
        assert all(who == statement.intermediary_id and day <= last for who, day, _ in own), label
        assert sum((Decimal(a) for *_, a in own), Decimal(0)) == (
            statement.total - statement.opening_balance), label
        assert statement.total == statement.payout + statement.carry_forward, label
        assert not db.session.scalar(select(func.count()).where(
            Booking.intermediary_id == statement.intermediary_id,
            Booking.statement_id.is_(None), Booking.booking_date <= last)), (
            f"{label}: bookings left unsettled")
    for run in db.session.execute(select(SettlementRun)).scalars():
        made = db.session.execute(select(Statement.payout).where(
            Statement.run_id == run.id)).scalars().all()
        assert (run.statements, run.payout_total) == (
            len(made), sum(made, Decimal(0))), f"run {run.id}"
    twice = db.session.execute(select(Booking.intermediary_id, Booking.fixum_month)
                               .where(Booking.fixum_month.is_not(None))
                               .group_by(Booking.intermediary_id, Booking.fixum_month)
                               .having(func.count() > 1)).all()
    assert not twice, f"Fixum booked twice: {twice}"


# --- the seeds ------------------------------------------------------------

def killed_anywhere(app, forker, tmp_path, command: list[str], rebuild, check) -> dict:
    """The heart of the tests below. `rebuild()` makes the world again,
    `check()` asserts the consistency rules. The undisturbed run of
    `pool COMMAND` is measured; then for each seed the world is rebuilt and
    the command killed at its seed's statement: the state is the one before
    or the one after the undisturbed run (nothing partial, nothing twice),
    and the same command run again (here, in this process) completes to
    exactly the undisturbed run's state. The (before, done) states."""
    rebuild()
    before = state()
    total = measure(forker, command, tmp_path)
    done = state()
    check()
    assert done != before
    runner = app.test_cli_runner()
    seen = Counter()
    for seed, at in zip(SEEDS, kill_points(total), strict=True):
        rebuild()
        killed = pool_command(forker, command, fault_at=at)
        where = f"seed {seed}, statement {at} of {total}: {killed.stderr[-400:]}"
        assert killed.returncode == KILLED, where
        wait_for_the_killed()
        after = state()
        check()
        assert after in (before, done), where          # nothing partial
        seen["before" if after == before else "done"] += 1
        again = runner.invoke(args=["pool", *command])
        assert again.exit_code == 0, (where, again.output)
        assert state() == done, where
        if after == done and command[0].startswith("import"):
            assert "imported before" in again.output, where   # the file is known
    assert seen["before"] >= len(SEEDS) // 2, seen         # most kills precede the COMMIT
    return {"before": before, "done": done}


def wait_for_the_killed() -> None:
    """PostgreSQL rolls back the transaction of a killed client (and frees
    its locks, the settlement lock among them) once it notices the closed
    connection: wait for that before the re-run, as an operator would."""
    import time

    if db.engine.dialect.name != "postgresql":
        return
    for _ in range(200):
        others = db.session.scalar(text(
            "SELECT count(*) FROM pg_stat_activity WHERE datname = current_database() "
            "AND pid <> pg_backend_pid() AND backend_type = 'client backend' "
            "AND state <> 'idle'"))
        db.session.rollback()
        if not others:
            return
        time.sleep(0.05)
    raise AssertionError("the killed process's transaction is still open")


# --- the settlement run -----------------------------------------------------

def test_a_settlement_run_killed_anywhere_leaves_nothing_partial(app, forker, tmp_path):
    period, first = settled_period()
    states = killed_anywhere(app, forker, tmp_path, ["settle", "--period", period, "--final"],
                             lambda: reset(first, tmp_path, with_receipts=True),
                             lambda: check_consistent(period))
    before, done = states["before"], states["done"]
    assert before["bookings"] and not before["statements"]
    # the world is what the rules need: statements and payouts, a withheld
    # intermediary, a carry forward, Fixum and a released reserve settled
    assert len(done["statements"]) == 4 and len(done["payouts"]) == 3
    assert [s[7] for s in done["statements"] if s[0] == "Berger"][0].startswith("-")
    assert "Dietz" in done["runs"][0][4]                              # withheld
    settled = [b for b in done["bookings"] if b[-1] != "None"]
    assert {b[1] for b in settled} >= {"AP", "FP", "FIXUM", "RESERVE_RETAIN",
                                       "RESERVE_RELEASE"}
    assert all(b[0] == "Dietz" for b in done["bookings"] if b[-1] == "None")


# --- the imports ----------------------------------------------------------------

def test_a_receipt_import_killed_anywhere_leaves_nothing_partial(app, forker, tmp_path):
    period, first = settled_period()
    path = tmp_path / "alpha.csv"
    states = killed_anywhere(app, forker, tmp_path,
                             ["import-receipts", str(path), "--profile", "alpha-csv"],
                             lambda: reset(first, tmp_path, with_receipts=False),
                             lambda: check_consistent(period))
    before, done = states["before"], states["done"]
    assert not before["receipts"] and not before["imports"]
    assert len(done["receipts"]) == 39 and len(done["cases"]) == 3
    assert done["missing_rates"] and len(done["imports"]) == 1


GDV_SAMPLE = ROOT / "tests" / "data" / "gdv" / "musterdatei_041222.txt"


def gdv_world() -> None:
    """The insurer of the GDV sample file with a product per line of
    business but life (030): those contracts become clearance cases."""
    from app.models.products import LineOfBusiness

    clean_database()
    db.session.remove()
    pool = make_company("Pool", CompanyKind.POOL)
    insurer = make_company("Muster Versicherung AG", CompanyKind.INSURER, parent=pool,
                           vu_number="9999")
    for code in ("000", "010", "040", "050"):
        found = db.session.query(LineOfBusiness).filter_by(code=code).first()
        if found is None:
            found = LineOfBusiness(code=code, name=f"Sparte {code}")
            db.session.add(found)
            db.session.flush()
        db.session.add(Product(insurer=insurer, line_of_business=found, key=f"P{code}",
                               name=f"Produkt {code}"))
    db.session.commit()
    db.session.remove()


def check_gdv_consistent() -> None:
    """A GDV import is there with everything it reports (its contracts,
    their policyholders and raw lines, its cases) or not at all."""
    db.session.rollback()
    count = lambda model: db.session.scalar(select(func.count()).select_from(model))  # noqa: E731
    runs = db.session.execute(select(ImportRun)).scalars().all()
    assert len(runs) <= 1
    if not runs:
        assert (count(Contract), count(Customer), count(GdvRaw), count(ClearanceCase)) == (
            0, 0, 0, 0), "half an import"
        return
    report = json.loads(runs[0].report)
    assert runs[0].finished_on is not None
    assert (count(Contract), count(Customer), count(ClearanceCase)) == (
        report["created"], report["customers_created"], sum(report["cases"].values()))
    assert count(GdvRaw) == report["created"] + report["updated"] + report["unchanged"]


def test_a_gdv_import_killed_anywhere_leaves_nothing_partial(app, forker, tmp_path):
    states = killed_anywhere(app, forker, tmp_path, ["import-gdv", str(GDV_SAMPLE)],
                             gdv_world, check_gdv_consistent)
    done = states["done"]
    assert len(done["contracts"]) > 5 and len(done["customers"]) == len(done["contracts"])
    assert done["cases"] and len(done["gdv_raw"]) == len(done["contracts"])


def test_the_hook_kills_at_the_statement_it_is_told(app, forker, tmp_path):
    """The injected fault is a real kill, at the point asked for: killed at
    the first statement, a command writes nothing and never answers. A
    forked command (the seeds above) does the very work of one started as
    is: the same statements."""
    period, first = settled_period()
    command = ["settle", "--period", period, "--final"]
    reset(first, tmp_path, with_receipts=True)
    before = state()
    killed = flask_process(app, ["pool", *command], fault_at=1)
    assert killed.returncode == KILLED and "FAULT: killed at statement 1:" in killed.stderr
    assert "Settlement" not in killed.stdout
    assert state() == before
    count_file = tmp_path / "as-is.count"
    done = subprocess.run(
        [sys.executable, "-m", "tests.fault_hook", "--app", "run.py", "pool", *command],
        cwd=ROOT, env={**_env(app), "POOL_FAULT_COUNT": str(count_file)},
        capture_output=True, text=True, timeout=300)
    assert done.returncode == 0 and "4 statements" in done.stdout, done.stderr
    finished = state()
    reset(first, tmp_path, with_receipts=True)
    assert measure(forker, command, tmp_path) == int(count_file.read_text())
    assert state() == finished


# --- a failing PDF renderer -------------------------------------------------

@pytest.fixture
def broken_renderer(monkeypatch):
    """The credit note renderer, failing for the statement numbers in the
    set it returns (empty it to repair the renderer)."""
    from app.services import statement_pdf as module

    real = module.render_statement_pdf
    broken: set[str] = set()

    def render(doc):
        if doc.number in broken:
            raise RuntimeError(f"Credit note {doc.number}: the renderer is down")
        return real(doc)

    monkeypatch.setattr(module, "render_statement_pdf", render)
    return broken


def settle_world(tmp_path) -> tuple[str, dict]:
    """The world settled by a final run (committed before any rendering):
    the period and the run's answer."""
    from app.services.settlement import run_settlement

    period, first = settled_period()
    reset(first, tmp_path, with_receipts=True)
    answer = run_settlement(period, True)
    assert answer["status"] == "RELEASED" and len(answer["statements"]) == 4
    return period, answer


def pdfs() -> dict[int, str]:
    """Stored credit notes: statement id -> SHA-256 (checked against the PDF)."""
    db.session.rollback()
    stored = db.session.execute(select(StatementPdf.statement_id, StatementPdf.sha256,
                                       StatementPdf.pdf)).all()
    for _, sha, pdf in stored:
        assert pdf.startswith(b"%PDF") and hashlib.sha256(pdf).hexdigest() == sha
    return {pk: sha for pk, sha, _ in stored}


def assert_final_and_booked(period: str, statement: dict) -> None:
    """The statement is there as the run issued it: final, numbered, its
    bookings settled and adding up."""
    db.session.rollback()
    row = db.session.get(Statement, statement["id"])
    assert (row.status, row.number, str(row.payout)) == (
        "FINAL", statement["number"], statement["payout"])
    assert db.session.scalar(select(func.count()).where(Booking.statement_id == row.id))
    check_consistent(period)


def test_a_failing_renderer_leaves_the_statement_final_and_the_scheduler_renders_it(
        app, tmp_path, broken_renderer, monkeypatch, caplog):
    from datetime import datetime

    from app.jobs import background
    from app.jobs.statements import (
        RETRY_GRACE_MINUTES,
        missing_pdfs_job,
        schedule,
        start_rendering,
    )

    period, answer = settle_world(tmp_path)
    victim, *others = answer["statements"]
    broken_renderer.add(victim["number"])
    # the job that renders the credit notes after a released run (one
    # process here: the broken renderer is this process's)
    monkeypatch.setitem(app.config, "POOL_RENDER_AFTER_RUN", True)
    monkeypatch.setitem(app.config, "POOL_PDF_WORKERS", 1)
    job = background.status(start_rendering(answer["run"]))
    assert job["state"] == "done", job
    assert job["result"] == {"rendered": 3, "failed": [victim["id"]]}
    assert set(pdfs()) == {s["id"] for s in others}
    assert_final_and_booked(period, victim)
    logged = [r for r in caplog.records if r.levelname == "ERROR"]
    assert any(f"statement {victim['id']} not rendered" in r.getMessage() for r in logged)
    assert any("the renderer is down" in (r.exc_text or "") for r in logged)

    # the scheduler's job: leaves a run just released to its own rendering
    # job, then renders what is missing, while the renderer is still down
    # (logged again, nothing changes) and once it works again
    now = datetime.now() + timedelta(minutes=RETRY_GRACE_MINUTES + 1)
    assert missing_pdfs_job(app, now=now) == 0 and victim["id"] not in pdfs()
    broken_renderer.clear()
    assert missing_pdfs_job(app, now=datetime.now()) == 0          # within the grace
    assert missing_pdfs_job(app, now=now) == 1
    assert set(pdfs()) == {s["id"] for s in answer["statements"]}
    assert missing_pdfs_job(app, now=now) == 0                     # nothing left to do
    assert_final_and_booked(period, victim)

    from apscheduler.schedulers.background import BackgroundScheduler

    scheduler = BackgroundScheduler(timezone="Europe/Berlin")
    schedule(scheduler, app)
    assert {j.id: str(j.trigger) for j in scheduler.get_jobs()} == {
        "statement-pdfs": "interval[0:05:00]"}


def test_pool_render_statements_reports_a_failing_renderer_and_renders_it_again(
        app, tmp_path, broken_renderer):
    period, answer = settle_world(tmp_path)
    victim = answer["statements"][2]
    broken_renderer.add(victim["number"])
    runner = app.test_cli_runner()
    args = ["pool", "render-statements", "--run", str(answer["run"])]
    failed = runner.invoke(args=args)
    assert failed.exit_code == 1, failed.output
    assert "3 credit notes rendered" in failed.output
    assert f"1 credit notes could not be rendered (statements {victim['id']};" in failed.output
    assert victim["id"] not in pdfs() and len(pdfs()) == 3
    assert_final_and_booked(period, victim)
    broken_renderer.clear()
    again = runner.invoke(args=args)
    assert again.exit_code == 0 and "1 credit notes rendered" in again.output, again.output
    assert len(pdfs()) == 4


def test_a_credit_note_the_renderer_failed_is_rendered_on_its_first_download(
        app, client, tmp_path, broken_renderer, monkeypatch):
    from app.jobs.statements import render_released_run
    from app.models.crm import Company
    from tests.factories import api_token, make_staff

    monkeypatch.setitem(app.config, "POOL_PDF_WORKERS", 1)     # the broken renderer's process
    period, answer = settle_world(tmp_path)
    victim = answer["statements"][1]
    broken_renderer.add(victim["number"])
    assert render_released_run(answer["run"]) == 3 and victim["id"] not in pdfs()
    pool = db.session.scalar(select(Company).where(Company.kind == CompanyKind.POOL))
    make_staff(pool, "Pool staff", "ps")
    auth = api_token(client, "ps")
    broken_renderer.clear()
    resp = client.get(f"/api/v1/statement/{victim['id']}/pdf", headers=auth)
    assert resp.status_code == 200 and resp.mimetype == "application/pdf"
    stored = pdfs()
    assert victim["id"] in stored and len(stored) == 4
    assert hashlib.sha256(resp.data).hexdigest() == stored[victim["id"]]
    assert_final_and_booked(period, victim)
