"""The credit notes of a released run, rendered once right after it, by a
pool of worker processes (xhtml2pdf renders one document at a time per
process), and stored: downloads are then served from storage. A background
job with a status the settlement screen shows; `pool render-statements`
does the same from the command line (and finishes what a stopped job left).

Rendering never touches what the run booked: the run has committed its
statements before any credit note is rendered. A credit note that fails to
render is logged and left for later; it is rendered again by the
scheduler's job `statement-pdfs` (every RETRY_MINUTES), by
`pool render-statements`, or on its first download (statement_pdf renders
a missing one)."""
from __future__ import annotations

import os
from datetime import datetime, timedelta

from flask import current_app

from app.jobs import background

#: minutes between two passes of the scheduler's job for missing credit notes
RETRY_MINUTES = 5
#: a run released less long ago is left to the job rendering it after the
#: run (both at once would render twice): the largest pool's 46,000 credit
#: notes took 31 minutes on two cores (bench/README.md)
RETRY_GRACE_MINUTES = 90


def pdf_workers() -> int:
    """POOL_PDF_WORKERS, else one process per core."""
    return int(current_app.config.get("POOL_PDF_WORKERS") or os.cpu_count() or 1)


def render_released_run(run_id: int, progress=None) -> int:
    """Render the run's credit notes not yet stored (nothing for a run that
    awaits its release); the number rendered."""
    return render_credit_notes(run_id, progress, pdf_workers())["rendered"]


def _stored(run_id: int) -> int:
    from sqlalchemy import func, select

    from app.extensions import db
    from app.models.ledger import Statement, StatementPdf

    return db.session.scalar(select(func.count()).select_from(StatementPdf).join(
        Statement, Statement.id == StatementPdf.statement_id).where(Statement.run_id == run_id))


def render_credit_notes(run_id: int, progress=None, workers: int = 1) -> dict:
    """The missing credit notes of a released run: all by render_run (in
    `workers` processes); should rendering fail, the error is logged and the
    rest are rendered one at a time, each failure logged and left for a
    retry. {"rendered": n, "failed": [statement ids]}."""
    from app.extensions import db
    from app.models.ledger import RunStatus, SettlementRun
    from app.services.statements import render_run

    run = db.session.get(SettlementRun, run_id)
    if run is None or run.status != RunStatus.RELEASED.value:
        return {"rendered": 0, "failed": []}
    before = _stored(run_id)
    try:
        render_run(run, progress=progress, workers=workers)
        return {"rendered": _stored(run_id) - before, "failed": []}
    except Exception:  # noqa: BLE001  (a renderer's failure: logged, retried below and later)
        db.session.rollback()
        current_app.logger.exception(
            "Credit notes of settlement run %s: rendering failed; the statements stay "
            "final, the missing credit notes are rendered one at a time", run_id)
    failed = render_missing(run_id=run_id)["failed"]
    return {"rendered": _stored(run_id) - before, "failed": failed}


def render_missing(run_id: int | None = None, released_before: datetime | None = None,
                   progress=None) -> dict:
    """Every final statement of a released run (of `run_id`; of runs
    released before `released_before`) without its credit note: rendered
    and stored one at a time. A statement whose credit note fails is logged
    and skipped (tried again on the next pass). {"rendered": n, "failed":
    [statement ids]}."""
    from sqlalchemy import exists, select

    from app.extensions import db
    from app.models.ledger import (
        RunStatus,
        SettlementRun,
        Statement,
        StatementPdf,
        StatementStatus,
    )
    from app.services.statements import statement_pdf

    query = (select(Statement.id).join(SettlementRun, SettlementRun.id == Statement.run_id)
             .where(SettlementRun.status == RunStatus.RELEASED.value,
                    Statement.status == StatementStatus.FINAL.value,
                    ~exists().where(StatementPdf.statement_id == Statement.id))
             .order_by(Statement.id))
    if run_id is not None:
        query = query.where(Statement.run_id == run_id)
    if released_before is not None:
        query = query.where(SettlementRun.released_on <= released_before)
    todo = db.session.execute(query).scalars().all()
    rendered, failed = 0, []
    for done, pk in enumerate(todo, 1):
        try:
            statement_pdf(db.session.get(Statement, pk))
            rendered += 1
        except Exception:  # noqa: BLE001  (logged; the next pass tries again)
            db.session.rollback()
            failed.append(pk)
            current_app.logger.exception(
                "Credit note of statement %s not rendered; the statement stays final, "
                "its credit note is rendered again later", pk)
        if progress:
            progress(done, len(todo))
    return {"rendered": rendered, "failed": failed}


def missing_pdfs_job(app, now: datetime | None = None) -> int:
    """Every RETRY_MINUTES: the credit notes still missing (a renderer that
    failed, a rendering job that died with its process), of runs released
    at least RETRY_GRACE_MINUTES ago; the number rendered."""
    from app.extensions import db

    now = now or datetime.now()
    with app.app_context():
        try:
            return render_missing(
                released_before=now - timedelta(minutes=RETRY_GRACE_MINUTES))["rendered"]
        finally:
            db.session.remove()


def schedule(scheduler, app) -> None:
    """The job table of credit notes: missing ones every RETRY_MINUTES."""
    scheduler.add_job(missing_pdfs_job, "interval", minutes=RETRY_MINUTES, args=[app],
                      id="statement-pdfs", replace_existing=True, coalesce=True,
                      max_instances=1)


def start_rendering(run_id: int | None) -> str | None:
    """The background job rendering a released run's credit notes, if
    POOL_RENDER_AFTER_RUN (on by default); its id."""
    if not run_id or not current_app.config.get("POOL_RENDER_AFTER_RUN", True):
        return None
    return background.start("statement-pdfs",
                            lambda progress: render_credit_notes(run_id, progress,
                                                                 pdf_workers()),
                            run=run_id)
