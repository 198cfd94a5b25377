"""The floor of a credit note PDF: the statement drawn directly with
reportlab (no HTML, no layout engine), which a PDF renderer can approach but
not beat. bench_settlement and bench_pdfs measure xhtml2pdf against it."""
from __future__ import annotations

import io


def reportlab_floor(doc) -> bytes:
    """The same statement drawn directly with reportlab: the letterhead,
    the recipient, one line of text per booking, the page numbers."""
    from reportlab.lib.pagesizes import A4
    from reportlab.pdfgen import canvas

    out = io.BytesIO()
    pdf = canvas.Canvas(out, pagesize=A4)
    width, height = A4
    y, page = height - 200, 1

    def head():
        pdf.setFont("Helvetica-Bold", 14)
        pdf.drawString(57, height - 60, doc.issuer.name)
        pdf.setFont("Helvetica", 9)
        pdf.drawString(57, height - 140, doc.recipient.name)
        pdf.drawString(400, height - 140, f"Gutschrift-Nr. {doc.number}")

    head()
    pdf.setFont("Helvetica", 7)
    for line in doc.lines:
        if y < 80:
            pdf.drawString(450, 40, f"Seite {page}")
            pdf.showPage()
            page += 1
            head()
            pdf.setFont("Helvetica", 7)
            y = height - 200
        pdf.drawString(57, y, line.booking_date.strftime("%d.%m.%Y"))
        pdf.drawString(110, y, line.policy_number)
        pdf.drawString(190, y, line.customer[:28])
        pdf.drawString(300, y, line.product[:24])
        pdf.drawString(390, y, line.kind[:16])
        pdf.drawRightString(540, y, f"{line.amount:.2f} EUR")
        y -= 11
    pdf.drawString(57, y - 20, "Steuerfreie Umsätze gemäß § 4 Nr. 11 UStG")
    pdf.drawString(450, 40, f"Seite {page}")
    pdf.save()
    return out.getvalue()
