"""The credit notes of a released run, rendered once right after it, by a
pool of worker processes (xhtml2pdf renders one document at a time per
process), and stored: downloads are then served from storage. A background
job with a status the settlement screen shows; `pool render-statements`
does the same from the command line (and finishes what a stopped job left)."""
from __future__ import annotations

import os

from flask import current_app

from app.jobs import background


def pdf_workers() -> int:
    """POOL_PDF_WORKERS, else one process per core."""
    return int(current_app.config.get("POOL_PDF_WORKERS") or os.cpu_count() or 1)


def render_released_run(run_id: int, progress=None) -> int:
    """Render the run's credit notes not yet stored (nothing for a run that
    awaits its release); the number rendered."""
    from app.extensions import db
    from app.models.ledger import RunStatus, SettlementRun
    from app.services.statements import render_run

    run = db.session.get(SettlementRun, run_id)
    if run is None or run.status != RunStatus.RELEASED.value:
        return 0
    return render_run(run, progress=progress, workers=pdf_workers())


def start_rendering(run_id: int | None) -> str | None:
    """The background job rendering a released run's credit notes, if
    POOL_RENDER_AFTER_RUN (on by default); its id."""
    if not run_id or not current_app.config.get("POOL_RENDER_AFTER_RUN", True):
        return None
    return background.start("statement-pdfs",
                            lambda progress: {"rendered": render_released_run(run_id, progress)},
                            run=run_id)
