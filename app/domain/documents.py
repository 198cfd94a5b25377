"""What a document upload must be: a size limit and a type allow-list that is
checked on the content (magic bytes), never on the file name."""
from __future__ import annotations

import re
import unicodedata

import filetype

from app.domain.errors import N_, DocumentError

#: detected MIME type -> file extension we store and serve it with
ALLOWED = {
    "application/pdf": "pdf",
    "image/png": "png",
    "image/jpeg": "jpg",
    "image/tiff": "tif",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "docx",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xlsx",
    "application/vnd.oasis.opendocument.text": "odt",
    "application/vnd.oasis.opendocument.spreadsheet": "ods",
}


def check_upload(filename: str | None, data: bytes, max_bytes: int) -> tuple[str, str, str]:
    """(safe file name, MIME type, extension) of an acceptable upload."""
    if not data:
        raise DocumentError("file", N_("Choose a file to upload."))
    if len(data) > max_bytes:
        raise DocumentError("file", N_("The file is larger than %(mb)s MB."),
                            mb=f"{max_bytes / 1_000_000:g}")
    kind = filetype.guess(data)
    if kind is None or kind.mime not in ALLOWED:
        raise DocumentError("file", N_(
            "This file type is not allowed. Allowed: PDF, PNG, JPEG, TIFF, Word, Excel, "
            "OpenDocument."))
    return safe_filename(filename, ALLOWED[kind.mime]), kind.mime, ALLOWED[kind.mime]


def safe_filename(name: str | None, extension: str) -> str:
    """A download name without paths or control characters, with the
    extension of the detected type."""
    base = (name or "").replace("\\", "/").rsplit("/", 1)[-1]
    base = unicodedata.normalize("NFC", base)
    base = re.sub(r"[\x00-\x1f\x7f\"<>:|?*]", "", base).strip(" .")
    stem = base.rsplit(".", 1)[0] if "." in base else base
    stem = stem[:100] or "dokument"
    return f"{stem}.{extension}"
