"""`flask --app run.py pool ...`: deployment and data commands."""
from __future__ import annotations

import click
from flask import current_app
from flask.cli import AppGroup

pool = AppGroup("pool", help="Vermittlerpool: set-up and data commands.")


@pool.command("init")
def init_command():
    """Bring the database up to date: schema, permissions, roles (idempotent)."""
    from app.services.setup import init_database

    init_database()
    click.echo("Database is up to date: schema, permissions and roles.")


@pool.command("demo-data")
@click.option("--size", type=click.Choice(["small", "large"]), default="small",
              show_default=True)
@click.option("--scale", type=click.FloatRange(0.0001, 1.0), default=1.0, hidden=True,
              help="large only: a fraction of every count (tests)")
def demo_data_command(size, scale):
    """Create a demo pool; running it again changes nothing."""
    from app.services.demo import create_demo_data, demo_logins

    if size == "large":
        _large_demo(scale)
        return
    created = create_demo_data()
    click.echo(f"Demo data: {created} new records." if created else
               "Demo data already present: nothing changed.")
    click.echo("")
    click.echo("Demo logins (URL: http://127.0.0.1:5000/login/):")
    for role, username, password in demo_logins():
        click.echo(f"  {role:<15} {username:<14} {password}")
    if current_app.config.get("SECRET_KEY"):
        click.echo("(Passwords are derived from this installation's SECRET_KEY.)")


def _large_demo(scale: float) -> None:
    from app.services.large_demo import create_large_pool

    progress = _stepped_bars()
    try:
        answer = create_large_pool(scale, progress=progress)
    finally:
        progress.close()
    if not answer["created"]:
        click.echo("The large demo pool is already there: nothing changed.")
        return
    click.echo(f"Large demo pool: {answer['intermediaries']:,} intermediaries, "
               f"{answer['contracts']:,} contracts, {answer['products']} products of "
               f"{answer['insurers']} insurers, {answer['receipts']:,} receipts booked into "
               f"{answer['bookings']:,} bookings.")
    from app.services.demo import demo_password
    from app.services.large_demo import STAFF_LOGIN, broker_login

    first, last = broker_login(1), broker_login(answer["logins"])
    click.echo(f"Logins: {STAFF_LOGIN} (Pool staff) {demo_password(STAFF_LOGIN)}; "
               f"extranet {first} ... {last}, e.g. {first} {demo_password(first)} "
               "(each password is derived from SECRET_KEY: demo_password(username)).")


@pool.command("book-fixum")
@click.option("--month", required=True, help="YYYY-MM")
def book_fixum_command(month):
    """Fixum bookings for a month (once per intermediary and month)."""
    from app.domain.errors import DomainError
    from app.services.ledger import book_fixum

    try:
        made = book_fixum(month)
    except DomainError as exc:
        raise click.ClickException(str(exc)) from None
    click.echo(f"Fixum {month}: {len(made)} bookings.")


@pool.command("release-reserves")
@click.option("--date", "day", default=None, help="YYYY-MM-DD (default: today)")
def release_reserves_command(day):
    """Release reserves whose liability period has ended."""
    from datetime import date

    from app.services.ledger import release_reserves

    made = release_reserves(date.fromisoformat(day) if day else date.today())
    click.echo(f"{len(made)} reserves released.")


def _stepped_bars():
    """progress(step, done, total): one progress bar per step, each closed
    when the next step begins."""
    bars: dict[str, _Bar] = {}

    def progress(step, done, total):
        if step not in bars:
            for bar in bars.values():
                bar.close()
            bars[step] = _Bar(step.capitalize())
        bars[step](done, total)

    def close():
        for bar in bars.values():
            bar.close()

    progress.close = close
    return progress


class _Bar:
    """A click progress bar made on the first report (the total is known then)."""

    def __init__(self, label: str):
        self.label, self.bar, self.done = label, None, 0

    def __call__(self, done: int, total: int) -> None:
        if self.bar is None:
            self.bar = click.progressbar(length=total, label=self.label, show_pos=True)
            self.bar.__enter__()
        self.bar.update(done - self.done)
        self.done = done

    def close(self) -> None:
        if self.bar is not None:
            self.bar.__exit__(None, None, None)


@pool.command("settle")
@click.option("--period", required=True, help="YYYY-MM")
@click.option("--final", is_flag=True, help="Issue the statements (otherwise a preview).")
def settle_command(period, final):
    """Settlement run for a month: a preview, or with --final the real one."""
    from decimal import Decimal

    from app.domain.errors import DomainError
    from app.services.settlement import run_settlement

    bar = _Bar("Statements")
    try:
        answer = run_settlement(period, final, progress=bar)
    except DomainError as exc:
        raise click.ClickException(str(exc)) from None
    finally:
        bar.close()
    statements = answer["statements"]
    payout = sum((Decimal(s["payout"]) for s in statements), Decimal(0))
    kind = "final run" if final else "preview (nothing written)"
    click.echo(f"Settlement {answer['period']}, {kind}: {len(statements)} statements, "
               f"payout {payout} EUR.")
    if answer.get("run"):
        click.echo(f"Run {answer['run']}: {answer['status']}.")
    for entry in answer["withheld"]:
        click.echo(f"withheld: intermediary {entry['intermediary']} ({entry['name']}): "
                   f"{entry['reason']}")
    if answer["missing_rates"]:
        click.echo(f"{len(answer['missing_rates'])} receipts found no rate "
                   "(see Commission > Missing rates).")


@pool.command("render-statements")
@click.option("--run", "run_id", required=True, type=int, help="settlement run id")
@click.option("--workers", type=click.IntRange(1, 64), default=1,
              help="processes rendering side by side (one per core)")
def render_statements_command(run_id, workers):
    """Render and store the credit notes (PDF) of a released run not stored
    yet (again: those a failing renderer left; the statements stay final)."""
    from app.extensions import db
    from app.jobs.statements import render_credit_notes
    from app.models.ledger import RunStatus, SettlementRun

    run = db.session.get(SettlementRun, run_id)
    if run is None:
        raise click.ClickException(f"There is no settlement run {run_id}.")
    if run.status != RunStatus.RELEASED.value:
        raise click.ClickException(f"Run {run_id} awaits its release.")
    bar = _Bar("Credit notes")
    try:
        answer = render_credit_notes(run_id, progress=bar, workers=workers)
    finally:
        bar.close()
    click.echo(f"{answer['rendered']} credit notes rendered and stored.")
    if answer["failed"]:
        raise click.ClickException(
            f"{len(answer['failed'])} credit notes could not be rendered (statements "
            f"{', '.join(map(str, answer['failed']))}; see the log). Their statements stay "
            "final; run this again, or the scheduler renders them later.")


def _print_report(run, duplicate: bool) -> None:
    import json

    if duplicate:
        when = run.started_on.strftime("%d.%m.%Y %H:%M")
        click.echo(f"This file was imported before (run {run.id}, {when}): nothing changed.")
        return
    click.echo(f"Import run {run.id}:")
    for key, value in json.loads(run.report or "{}").items():
        if isinstance(value, list):
            value = f"{len(value)}" + (f" ({', '.join(map(str, value[:10]))}"
                                       f"{' ...' if len(value) > 10 else ''})" if value else "")
        elif isinstance(value, dict):
            value = ", ".join(f"{k}: {v}" for k, v in sorted(value.items()))
        click.echo(f"  {key}: {value}")


@pool.command("backup")
@click.argument("file", type=click.Path(dir_okay=False))
def backup_command(file):
    """SQLite: a consistent copy of the database into FILE (a new file), while
    the app keeps running (PostgreSQL: pg_dump, docs/deployment.md)."""
    from pathlib import Path

    from app.services.backup import backup

    size = _with_bar("Backup (pages)", lambda bar: backup(Path(file), progress=bar))
    click.echo(f"Backup written: {file} ({size:,} bytes).")


@pool.command("restore")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--force", is_flag=True, help="replace a database that holds data")
def restore_command(file, force):
    """SQLite: replace the database by the backup FILE (checked first). Stop the
    web workers and the scheduler before."""
    from pathlib import Path

    from app.services.backup import restore

    _with_bar("Restore (pages)", lambda bar: restore(Path(file), force=force, progress=bar))
    click.echo(f"Database restored from {file}.")


@pool.command("verify-ledger")
def verify_ledger_command():
    """Recompute the bookings' hash chain and every statement's balances;
    exit status 1 and each mismatch listed if anything differs."""
    from app.services.verify import verify_ledger

    report = _with_bar("Ledger (bookings)", lambda bar: verify_ledger(progress=bar))
    for problem in report.problems:
        facts = ", ".join(f"{k}={v}" for k, v in problem.items() if k != "rule")
        click.echo(f"MISMATCH {problem['rule']}: {facts}", err=True)
    if report.count > len(report.problems):
        click.echo(f"... and {report.count - len(report.problems):,} more", err=True)
    click.echo(f"{report.bookings:,} bookings, {report.statements:,} statements, "
               f"{report.runs:,} runs, {report.pdfs:,} credit notes checked: "
               + ("no mismatch." if report.ok else f"{report.count:,} mismatches."))
    if not report.ok:
        raise SystemExit(1)


def _with_bar(label: str, work):
    """work(bar) with a progress bar; a refusal ends the command naming its field."""
    from app.domain.errors import DomainError

    bar = _Bar(label)
    try:
        return work(bar)
    except DomainError as exc:
        raise click.ClickException(f"{exc.field}: {exc}") from None
    finally:
        bar.close()


@pool.command("import-receipts")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.option("--profile", "profile_name", required=True, help="import profile name")
def import_receipts_command(file, profile_name):
    """Import an insurer's commission statement (CSV or Excel) and book it."""
    from pathlib import Path

    from app.domain.errors import DomainError
    from app.services.imports import import_receipts

    bar = _Bar("Receipts")
    try:
        with open(file, "rb") as stream:
            run, duplicate = import_receipts(stream, Path(file).name, profile_name,
                                             progress=bar)
    except DomainError as exc:
        raise click.ClickException(_domain_message(exc)) from None
    finally:
        bar.close()
    _print_report(run, duplicate)


@pool.command("import-gdv")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
def import_gdv_command(file):
    """Import a GDV file (contracts, customers; unknowns to the clearance list)."""
    from pathlib import Path

    from app.domain.errors import DomainError
    from app.services.imports import import_gdv

    bar = _Bar("kB read")
    try:
        with open(file, "rb") as stream:
            run, duplicate = import_gdv(stream, Path(file).name, progress=bar)
    except DomainError as exc:
        raise click.ClickException(_domain_message(exc)) from None
    finally:
        bar.close()
    _print_report(run, duplicate)


def _domain_message(exc) -> str:
    """The message of a refused import, all its lines (nothing was imported)."""
    errors = getattr(exc, "errors", None)
    text = str(exc)
    if errors and "\n" not in text:
        text += "\n" + "\n".join(str(e) for e in errors)
    return text + "\nNothing was imported."


@pool.command("scheduler")
def scheduler_command():
    """Run the scheduler as its own single process (Fixum, reserve releases,
    credit notes still missing)."""
    import logging
    import os
    import sys

    from apscheduler.schedulers.blocking import BlockingScheduler

    from app.extensions import db
    from app.jobs.ledger import schedule
    from app.jobs.single import SchedulerRunning, hold_scheduler_lock
    from app.jobs.statements import schedule as schedule_pdfs

    try:
        lock = hold_scheduler_lock(db.engine)  # noqa: F841  (held until the process ends)
    except SchedulerRunning as exc:
        raise click.ClickException(f"Not started: {exc}.") from None
    # Each job's start and end in the log (journal), as the web workers log requests.
    logging.basicConfig(level=logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    scheduler = BlockingScheduler(timezone=current_app.config["BABEL_DEFAULT_TIMEZONE"])
    schedule(scheduler, current_app._get_current_object())
    schedule_pdfs(scheduler, current_app._get_current_object())
    for job in scheduler.get_jobs():
        click.echo(f"scheduled: {job.id} ({job.trigger})")
    click.echo(f"Scheduler running (pid {os.getpid()}); stop it with TERM or Ctrl-C.")
    sys.stdout.flush()
    scheduler.start()


@pool.command("export-customer")
@click.argument("customer_id", metavar="ID", type=click.IntRange(1, 2**31 - 1))
@click.argument("file", type=click.Path(dir_okay=False))
def export_customer_command(customer_id, file):
    """A customer's data (Art. 15/20 DSGVO) as a ZIP into FILE (a new file):
    export.json, one CSV per kind of record, the documents' files."""
    import os
    from pathlib import Path

    from app.extensions import db
    from app.models.crm import Customer
    from app.services.privacy import write_export

    customer = db.session.get(Customer, customer_id)
    if customer is None:
        raise click.ClickException(f"There is no customer {customer_id}.")
    target = Path(file)
    if target.exists():
        raise click.ClickException(f"{file} exists already: give a new file.")
    partial = target.with_name(f".{target.name}.{os.getpid()}.part")
    try:
        with open(partial, "xb") as stream:
            counts = write_export(customer, stream)
        os.link(partial, target)         # whole or not at all, never over a file
    except FileExistsError:
        raise click.ClickException(f"{file} exists already: give a new file.") from None
    finally:
        partial.unlink(missing_ok=True)
    click.echo(f"Export of customer {customer_id} written: {file} ("
               + ", ".join(f"{kind} {n}" for kind, n in counts.items()) + ").")


@pool.command("anonymise")
@click.option("--dry-run/--apply", "dry_run", default=True, show_default=True,
              help="only count (default), or anonymise")
@click.option("--date", "day", default=None, help="YYYY-MM-DD: as if today were that day")
def anonymise_command(dry_run, day):
    """Anonymise the customers whose retention has ended (docs/data-protection.md);
    bookings and receipts stay as they are. Running it again changes nothing."""
    from datetime import date

    from app.domain.errors import DomainError
    from app.services.privacy import anonymise

    try:
        today = date.fromisoformat(day) if day else date.today()
    except ValueError:
        raise click.ClickException("--date: give a date as YYYY-MM-DD.") from None
    progress = _stepped_bars()
    try:
        counts = anonymise(apply=not dry_run, today=today, progress=progress)
    except DomainError as exc:
        raise click.ClickException(f"{exc.field}: {exc}") from None
    finally:
        progress.close()
    if dry_run:
        click.echo(f"Dry run ({today}), nothing written: {counts['checked']} customers "
                   f"checked, {counts['due']} due for anonymisation, {counts['documents']} "
                   f"documents and {counts['history']} history entries would be blanked or "
                   f"deleted; {counts['restricted_skipped']} restricted customers left alone. "
                   "Run with --apply to anonymise.")
    else:
        click.echo(f"Anonymised ({today}): {counts['anonymised']} of {counts['checked']} "
                   f"customers checked, {counts['documents']} documents deleted, "
                   f"{counts['history']} history entries blanked; "
                   f"{counts['restricted_skipped']} restricted customers left alone.")
