"""Long work started from a screen: runs in a thread of the web process and
reports its progress to a small JSON file, which any worker process can
read for the status display (a settlement run of a large pool takes
minutes). A job whose process died shows as failed after JOB_STALE seconds
without a sign of life."""
from __future__ import annotations

import json
import os
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from pathlib import Path

from flask import current_app

#: seconds without a progress report after which a running job counts as dead
JOB_STALE = 600


def _dir() -> Path:
    path = Path(current_app.config["POOL_JOB_DIR"])
    path.mkdir(parents=True, exist_ok=True)
    return path


def _write(path: Path, status: dict) -> None:
    tmp = path.with_suffix(f".{os.getpid()}.{threading.get_ident()}.tmp")
    tmp.write_text(json.dumps(status, default=str))
    os.replace(tmp, path)


def start(kind: str, work: Callable[[Callable[[int, int], None]], dict], **info) -> str:
    """Run `work(progress)` in a thread with an app context; its answer (a
    dict) or its error message is stored in the job's status."""
    app = current_app._get_current_object()
    job_id = uuid.uuid4().hex
    path = _dir() / f"{job_id}.json"
    status = {"id": job_id, "kind": kind, "state": "running", "done": 0, "total": 0,
              "started": time.time(), "beat": time.time(), **info}
    _write(path, status)

    def progress(done: int, total: int) -> None:
        status.update(done=done, total=total, beat=time.time())
        _write(path, status)

    def run() -> None:
        with app.app_context():
            from app.domain.errors import DomainError
            from app.extensions import db
            from app.views.base import error_text

            try:
                result = work(progress)
                status.update(state="done", result=result)
            except DomainError as exc:
                status.update(state="failed", field=exc.field, error=error_text(exc),
                              errors=[error_text(e) for e in getattr(exc, "errors", [])][:100])
            except Exception:  # noqa: BLE001  (reported on the screen and in the log)
                app.logger.error("job %s failed:\n%s", job_id, traceback.format_exc())
                status.update(state="failed", error="internal error")
            finally:
                db.session.remove()
            status.update(finished=time.time(), beat=time.time())
            _write(path, status)

    thread = threading.Thread(target=run, name=f"job-{kind}-{job_id[:8]}", daemon=True)
    thread.start()
    if app.config.get("TESTING"):
        thread.join()          # tests read the status at once
    return job_id


def status(job_id: str) -> dict | None:
    if not job_id.isalnum():
        return None
    path = _dir() / f"{job_id}.json"
    try:
        found = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if found["state"] == "running" and time.time() - found["beat"] > JOB_STALE:
        found.update(state="failed", error="stale")
    return found
