"""Storing and reading documents: checked before anything touches the disk,
stored under a generated name, removed again if the database refuses the row."""
from __future__ import annotations

import hashlib
import os
import uuid
from pathlib import Path

from flask import current_app

from app.domain.documents import check_upload
from app.extensions import db
from app.models.documents import Document


def upload_dir() -> Path:
    return Path(current_app.config["POOL_UPLOAD_DIR"])


def max_upload_bytes() -> int:
    return int(current_app.config.get("POOL_MAX_UPLOAD_MB", 10) * 1_000_000)


def read_limited(stream, limit: int) -> bytes:
    """At most limit+1 bytes: enough to tell that a file is too large."""
    return stream.read(limit + 1)


def store_document(owner_field: str, owner, filename: str | None, data: bytes,
                   description: str | None = None, released: bool = False) -> Document:
    """Check, store and record a document for `owner`; one commit."""
    safe_name, mime, ext = check_upload(filename, data, max_upload_bytes())
    digest = hashlib.sha256(data).hexdigest()
    stored = f"{uuid.uuid4().hex}.{ext}"
    path = upload_dir() / stored[:2] / stored
    path.parent.mkdir(parents=True, exist_ok=True)
    document = Document(filename=safe_name, content_type=mime, size=len(data), sha256=digest,
                        stored_name=stored, description=(description or "").strip() or None,
                        released_to_customer=bool(released), **{owner_field: owner})
    db.session.add(document)
    try:
        db.session.flush()  # every rule is checked before the file is written
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
        db.session.commit()
    except BaseException:
        db.session.rollback()
        path.unlink(missing_ok=True)
        raise
    return document


def document_path(document: Document) -> Path:
    return upload_dir() / document.stored_name[:2] / document.stored_name


def delete_file(document: Document) -> None:
    document_path(document).unlink(missing_ok=True)
