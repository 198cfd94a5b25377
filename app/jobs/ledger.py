"""Monthly Fixum, daily reserve releases, and the daily purge of old
login sessions."""
from __future__ import annotations

from datetime import date


def fixum_job(app, today: date | None = None) -> int:
    """On the 1st: the month's Fixum (booked once per intermediary and month)."""
    from app.services.ledger import book_fixum

    today = today or date.today()
    with app.app_context():
        return len(book_fixum(f"{today:%Y-%m}"))


def reserve_release_job(app, today: date | None = None) -> int:
    """Daily: release reserves whose liability period has ended."""
    from app.services.ledger import release_reserves

    with app.app_context():
        return len(release_reserves(today or date.today()))


def session_purge_job(app) -> int:
    """Daily: delete the rows of long-ended login sessions."""
    from app.security.sessions import purge_sessions

    with app.app_context():
        return purge_sessions()


def schedule(scheduler, app) -> None:
    """The job table: Fixum at 01:00 on the 1st, reserve releases at 02:00,
    old sessions purged at 03:00."""
    scheduler.add_job(fixum_job, "cron", day=1, hour=1, args=[app], id="fixum",
                      replace_existing=True, coalesce=True, max_instances=1)
    scheduler.add_job(reserve_release_job, "cron", hour=2, args=[app], id="reserve-release",
                      replace_existing=True, coalesce=True, max_instances=1)
    scheduler.add_job(session_purge_job, "cron", hour=3, args=[app], id="session-purge",
                      replace_existing=True, coalesce=True, max_instances=1)
