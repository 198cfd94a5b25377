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
def demo_data_command(size):
    """Create a demo pool; running it again changes nothing."""
    from app.services.demo import create_demo_data, demo_logins

    if size == "large":
        raise click.ClickException(
            "The large benchmark pool is not built yet (issue 9); use --size small."
        )
    created = create_demo_data()
    click.echo(f"Demo data: {created} new records." if created else
               "Demo data already present: nothing changed.")
    click.echo("")
    click.echo("Demo logins (URL: http://127.0.0.1:5000/login/):")
    for role, username, password in demo_logins():
        click.echo(f"  {role:<15} {username:<14} {password}")
    if current_app.config.get("SECRET_KEY"):
        click.echo("(Passwords are derived from this installation's SECRET_KEY.)")


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


@pool.command("scheduler")
def scheduler_command():
    """Run the scheduler as its own single process (Fixum, reserve releases)."""
    from apscheduler.schedulers.blocking import BlockingScheduler

    from app.jobs.ledger import schedule

    scheduler = BlockingScheduler(timezone=current_app.config["BABEL_DEFAULT_TIMEZONE"])
    schedule(scheduler, current_app._get_current_object())
    for job in scheduler.get_jobs():
        click.echo(f"scheduled: {job.id} ({job.trigger})")
    scheduler.start()
