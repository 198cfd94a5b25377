import pytest

from app.domain.documents import check_upload, safe_filename
from app.domain.errors import DocumentError

PDF = b"%PDF-1.4\n1 0 obj<<>>endobj\ntrailer<<>>\n%%EOF\n"
PNG = b"\x89PNG\r\n\x1a\n" + b"\x00" * 32
EXE = b"MZ\x90\x00" + b"\x00" * 60 + b"PE\x00\x00" + b"\x00" * 64


@pytest.mark.parametrize("name, data, mime", [
    ("Police.pdf", PDF, "application/pdf"), ("scan.PNG", PNG, "image/png"),
    ("police", PDF, "application/pdf"),
])
def test_allowed_types_are_recognised_by_content(name, data, mime):
    assert check_upload(name, data, 10_000)[1] == mime


@pytest.mark.parametrize("name, data", [
    ("rechnung.pdf", EXE),                          # an executable renamed to .pdf
    ("seite.pdf", b"<html><script>alert(1)</script></html>"),
    ("notiz.txt", b"just text"),
    ("leer.pdf", b""),
])
def test_other_content_is_refused_whatever_its_name(name, data):
    with pytest.raises(DocumentError) as exc:
        check_upload(name, data, 10_000)
    assert exc.value.field == "file"


def test_the_size_limit():
    with pytest.raises(DocumentError):
        check_upload("gross.pdf", PDF + b"0" * 100, len(PDF) + 99)
    check_upload("passt.pdf", PDF + b"0" * 99, len(PDF) + 99)


@pytest.mark.parametrize("name, expected", [
    ("../../etc/passwd", "passwd.pdf"), ("C:\\Users\\x\\Police 2026.exe", "Police 2026.pdf"),
    ('a"b<c>.pdf', "abc.pdf"), ("", "dokument.pdf"), (None, "dokument.pdf"),
])
def test_download_names_are_safe_and_carry_the_detected_extension(name, expected):
    assert safe_filename(name, "pdf") == expected
