"""The tables of the credit note, drawn directly with ReportLab.

xhtml2pdf lays every table cell out as a paragraph in a keep-in-frame box
with a dozen style commands: about 0.7 ms a cell, 7 ms a booking, and the
bookings are nearly all of a statement; the information block and the
summary took a third of the rest. So the letter (its frames, the texts,
"Seite x von y") stays in the template, and the template marks the tables
with two tags of this application:

    <pdf:bookings date="Datum" policy="Vers.-Nr." ...></pdf:bookings>
    <pdf:keyvalue kind="summary total" label="Gesamt" value="1.234,56 €"
                  note=""></pdf:keyvalue>

The texts are the attributes, translated and formatted in the template; the
bookings themselves come from `rendering()`. For <pdf:bookings> this module
puts a `BookingsTable` into the story: laid out once in Python (each cell's
text wrapped to its column as the HTML cell wrapped it), split between rows
at the end of a page with the heading repeated, each page's part drawn as
one text object. <pdf:keyvalue> is one `KeyValueRow`. They look as the
template's CSS made the HTML tables look: the same columns, fonts, colours,
paddings and rules, every word in the same place (to a hundredth of a pt).

xhtml2pdf finds a tag's class by name in its parser module, which is where
`install()` puts `pisaTagPDFBOOKINGS` and `pisaTagPDFKEYVALUE`.
"""
from __future__ import annotations

import contextvars
from bisect import bisect_right
from contextlib import contextmanager

from reportlab.lib import colors
from reportlab.lib.fonts import tt2ps
from reportlab.lib.units import mm
from reportlab.pdfbase.pdfmetrics import getAscent, stringWidth
from reportlab.platypus.flowables import Flowable

#: The columns: (attribute of <pdf:bookings> naming the heading, width in mm,
#: alignment). The widths are those of the HTML table: 175 mm, the frame.
COLUMNS = (
    ("date", 16, "LEFT"),
    ("policy", 23, "LEFT"),
    ("customer", 24, "LEFT"),
    ("product", 27, "LEFT"),
    ("kind", 22, "LEFT"),
    ("basis", 20, "RIGHT"),
    ("rate", 14, "RIGHT"),
    ("level", 9, "CENTER"),
    ("amount", 20, "RIGHT"),
)
FONT_SIZE = 7.0
TEXT_SIZE = 6.5                    # the booking text under the product
LINE_HEIGHT = 1.5                  # xhtml2pdf's default line-height, 150 %
INK = "#222222"
ACCENT = "#1f3f66"
NEGATIVE = "#a01818"
MUTED = "#666666"
RULE = "#c8ced6"
RULE_WIDTH = 0.3
SQUARE_CAP = 2                     # as xhtml2pdf draws a solid border
#: (top, right, bottom, left) in pt, as the template's CSS had them
HEAD_PADDING = (3, 2, 2, 2)
CELL_PADDING = (2.5, 2, 1.5, 2)
#: the text styles, indexes into `Layout.styles`
HEADING, CELL, NEGATIVE_AMOUNT, BOOKING_TEXT = range(4)

#: The bookings of the statement being rendered: set by `rendering()`.
_current = contextvars.ContextVar("statement_pdf_bookings", default=None)


@contextmanager
def rendering(rows):
    """Make `rows` (see `build_table`) the bookings that <pdf:bookings>
    draws in the documents rendered inside."""
    token = _current.set(rows)
    try:
        yield
    finally:
        _current.reset(token)


def wrap(text: str, font: str, size: float, width: float, measure=stringWidth) -> list[str]:
    """`text` broken into lines no wider than `width`: between words, and
    inside a word only where the word alone is wider (CSS overflow-wrap:
    break-word, as the template had it). `measure(text, font, size)` is
    ReportLab's stringWidth or a memo of it."""
    if measure(text, font, size) <= width:
        return [text]
    space = measure(" ", font, size)
    lines, line, used = [], "", 0.0
    for word in text.split():
        wide = measure(word, font, size)
        if line and used + space + wide <= width:
            line, used = f"{line} {word}", used + space + wide
            continue
        if line:
            lines.append(line)
        while wide > width and len(word) > 1:        # a word wider than the column
            cut = len(word) - 1
            while cut > 1 and measure(word[:cut], font, size) > width:
                cut -= 1
            lines.append(word[:cut])
            word = word[cut:]
            wide = measure(word, font, size)
        line, used = word, wide
    if line:
        lines.append(line)
    return lines or [""]


class Row:
    """A row, laid out: its height, and each line of text it draws as
    (x from the table's left, baseline down from the row's top, style, text)."""

    __slots__ = ("height", "texts")

    def __init__(self, height: float, texts: list[tuple]):
        self.height = height
        self.texts = texts


class Layout:
    """Columns (widths in pt, alignments) and text styles, (font, size,
    colour) each, and rows laid out in them as xhtml2pdf lays out a table
    row whose cells' text is `size` pt: every line 150 % of that high, its
    baseline the ascent of its font at that size below the line's top."""

    def __init__(self, widths, aligns, styles, size: float = FONT_SIZE):
        self.widths = list(widths)
        self.lefts = [sum(self.widths[:i]) for i in range(len(self.widths))]
        self.width = sum(self.widths)
        self.aligns = list(aligns)
        self.styles = styles
        self.leading = size * LINE_HEIGHT
        self.baselines = [getAscent(font, size) for font, _size, _colour in styles]
        self._measured: dict[tuple, float] = {}

    def measure(self, text: str, font: str, size: float) -> float:
        """stringWidth, remembered: a statement's dates, kinds, products and
        rates repeat from row to row."""
        key = (text, font, size)
        width = self._measured.get(key)
        if width is None:
            width = self._measured[key] = stringWidth(text, font, size)
        return width

    def row(self, cells, padding) -> Row:
        """`cells`: per column its runs of text as (style, text), each run
        wrapped to the column and set under the one before."""
        top, right, bottom, left = padding
        height, texts = top, []
        for column, runs in enumerate(cells):
            room = self.widths[column] - left - right
            x0 = self.lefts[column] + left
            align = self.aligns[column]
            y = top
            for style, text in runs:
                if not text:
                    continue
                font, size, _colour = self.styles[style]
                baseline = self.baselines[style]
                for line in wrap(text, font, size, room, self.measure):
                    x = x0
                    if align != "LEFT":
                        spare = room - self.measure(line, font, size)
                        x += spare if align == "RIGHT" else spare / 2
                    texts.append((x, y + baseline, style, line))
                    y += self.leading
            height = max(height, y)
        return Row(height + bottom, texts)


def bookings_layout(font: str, bold: str) -> Layout:
    ink = colors.HexColor(INK)
    # (font, size, colour) by HEADING, CELL, NEGATIVE_AMOUNT, BOOKING_TEXT
    styles = [(bold, FONT_SIZE, colors.white), (font, FONT_SIZE, ink),
              (font, FONT_SIZE, colors.HexColor(NEGATIVE)),
              (font, TEXT_SIZE, colors.HexColor(MUTED))]
    return Layout([width * mm for _name, width, _align in COLUMNS],
                  [align for _name, _width, align in COLUMNS], styles)


def _draw_texts(canvas, layout: Layout, rows, top: float) -> None:
    """The rows' text as one text object, the first row's top at `top`."""
    text = canvas.beginText()
    current = None
    for row in rows:
        for x, down, style, line in row.texts:
            if style != current:
                font, size, colour = layout.styles[style]
                text.setFont(font, size, layout.leading)
                text.setFillColor(colour)
                current = style
            text.setTextOrigin(x, top - down)
            text._textOut(line)         # textOut less moving the cursor: no width
        top -= row.height
    canvas.drawText(text)


class BookingsTable(Flowable):
    """The heading and rows[start:end] of a laid out table. It splits
    between rows, with the heading on top of every part."""

    def __init__(self, layout: Layout, head: Row, rows: list[Row], tops: list[float],
                 start: int = 0, end: int | None = None):
        super().__init__()
        self.layout, self.head, self.rows, self.tops = layout, head, rows, tops
        self.start = start
        self.end = len(rows) if end is None else end
        self.width = layout.width
        self.height = head.height + tops[self.end] - tops[self.start]
        self.hAlign = "LEFT"

    @classmethod
    def of(cls, layout: Layout, head: Row, rows: list[Row]) -> BookingsTable:
        tops = [0.0]                   # tops[i]: the height of rows[:i]
        for row in rows:
            tops.append(tops[-1] + row.height)
        return cls(layout, head, rows, tops)

    def wrap(self, avail_width, avail_height):
        return self.width, self.height

    def split(self, avail_width, avail_height):
        room = avail_height - self.head.height
        if room <= 0:
            return []
        # after the last row that ends within the room
        end = bisect_right(self.tops, self.tops[self.start] + room + 1e-6,
                           self.start, self.end + 1) - 1
        if end <= self.start:
            return []
        if end >= self.end:
            return [self]
        return [type(self)(self.layout, self.head, self.rows, self.tops, self.start, end),
                type(self)(self.layout, self.head, self.rows, self.tops, end, self.end)]

    def draw(self):
        canvas, layout, head = self.canv, self.layout, self.head
        if _counting_pages(canvas):
            return
        width, top = layout.width, self.height
        canvas.saveState()
        canvas.setFillColor(colors.HexColor(ACCENT))
        canvas.rect(0, top - head.height, width, head.height, stroke=0, fill=1)
        body = self.rows[self.start:self.end]
        _draw_texts(canvas, layout, (head, *body), top)
        rules, bottom = [], top - head.height
        for row in body:
            bottom -= row.height
            rules.append((0, bottom, width, bottom))
        canvas.setStrokeColor(colors.HexColor(RULE))
        canvas.setLineWidth(RULE_WIDTH)
        canvas.setLineCap(SQUARE_CAP)
        canvas.lines(rules)
        canvas.restoreState()


def _counting_pages(canvas) -> bool:
    """Whether this is the first of the two passes xhtml2pdf makes for
    "Seite x von y": the one that only counts the pages. Its canvas is
    thrown away, and a part of the table is as high drawn or not.

    xhtml2pdf's page count (PmlPageCount) says it is satisfied after the
    first pass and sets its `second_round` then; ReportLab saves the canvas
    of the pass after which every such flowable is satisfied, so a pass
    with `second_round` still False is never the one saved."""
    doc = getattr(canvas, "_doctemplate", None)
    return any(getattr(flowable, "second_round", True) is False
               for flowable in getattr(doc, "_indexingFlowables", ()))


def build_table(headings: list[str], rows, font: str, bold: str) -> BookingsTable:
    """The table of a heading row and one row per booking, in `font` and
    its `bold` face (ReportLab names).

    `rows` holds per booking its nine cells as text, formatted, except the
    product, which is (product, booking text), and the amount, which is
    (text, whether negative)."""
    layout = bookings_layout(font, bold)
    head = layout.row([[(HEADING, text)] for text in headings], HEAD_PADDING)
    laid = []
    for date, policy, customer, (product, text), kind, basis, rate, level, (
            amount, negative) in rows:
        laid.append(layout.row(
            [[(CELL, date)], [(CELL, policy)], [(CELL, customer)],
             [(CELL, product), (BOOKING_TEXT, text)], [(CELL, kind)], [(CELL, basis)],
             [(CELL, rate)], [(CELL, level)],
             [(NEGATIVE_AMOUNT if negative else CELL, amount)]], CELL_PADDING))
    return BookingsTable.of(layout, head, laid)


#: <pdf:keyvalue kind="..."> rows: the columns (label, value) in mm, the indent
#: in mm, the text size, the padding (top, right, bottom, left) and the
#: colours of label and value, as the template's CSS had the HTML tables
KEY_VALUE_KINDS = {
    "info": {"widths": (40, 33), "indent": 0, "size": 8.0, "padding": (1, 0, 1.5, 0),
             "colours": ("#555555", INK)},
    "summary": {"widths": (68, 32), "indent": 75, "size": 8.5,
                "padding": (2.5, 3, 1.5, 3), "colours": (INK, INK)},
}
#: what the further words of `kind` change: bold, size, colours, background,
#: rule above (width, colour)
KEY_VALUE_VARIANTS = {
    "total": {"bold": True, "rule": (0.8, ACCENT)},
    "payout": {"bold": True, "size": 9.5, "background": "#e8edf3"},
    "reserve": {"colours": ("#555555", "#555555"), "rule": (RULE_WIDTH, RULE)},
}
#: the note under a label (the payout's IBAN)
NOTE_SIZE, NOTE_COLOUR = 7.0, "#444444"
LABEL, VALUE, NOTE = range(3)


class KeyValueRow(Flowable):
    """A row of a two-column table of labels and values (the information
    block, the summary): xhtml2pdf takes about 0.7 ms for each cell of an
    HTML table, this a few hundredths."""

    def __init__(self, layout: Layout, row: Row, indent: float, background=None,
                 rule=None):
        super().__init__()
        self.layout, self.row, self.indent = layout, row, indent
        self.background, self.rule = background, rule
        self.width = indent + layout.width
        self.height = row.height

    def wrap(self, avail_width, avail_height):
        return self.width, self.height

    def draw(self):
        canvas, layout = self.canv, self.layout
        if _counting_pages(canvas):
            return
        canvas.saveState()
        canvas.translate(self.indent, 0)
        if self.background is not None:
            canvas.setFillColor(self.background)
            canvas.rect(0, 0, layout.width, self.height, stroke=0, fill=1)
        _draw_texts(canvas, layout, [self.row], self.height)
        if self.rule is not None:
            width, colour = self.rule
            canvas.setStrokeColor(colour)
            canvas.setLineWidth(width)
            canvas.setLineCap(SQUARE_CAP)
            canvas.line(0, self.height, layout.width, self.height)
        canvas.restoreState()


def key_value_row(kind: str, label: str, note: str, value: str, font: str,
                  bold: str) -> KeyValueRow:
    """The row of `kind` ("summary", "summary total", "info", ...): the
    label, the note under it (may be empty) and the value."""
    base, *variants = kind.split()
    style = dict(KEY_VALUE_KINDS[base])
    for variant in variants:
        style.update(KEY_VALUE_VARIANTS[variant])
    face = bold if style.get("bold") else font
    size = style["size"]
    label_colour, value_colour = (colors.HexColor(c) for c in style["colours"])
    styles = [(face, size, label_colour), (face, size, value_colour),
              (font, NOTE_SIZE, colors.HexColor(NOTE_COLOUR))]
    layout = Layout([width * mm for width in style["widths"]], ("LEFT", "RIGHT"), styles,
                    size)
    row = layout.row([[(LABEL, label), (NOTE, note)], [(VALUE, value)]], style["padding"])
    rule = style.get("rule")
    return KeyValueRow(layout, row, style["indent"] * mm,
                       colors.HexColor(style["background"]) if "background" in style
                       else None,
                       (rule[0], colors.HexColor(rule[1])) if rule else None)


def install() -> None:
    """Teach this process's xhtml2pdf the <pdf:bookings> tag (idempotent)."""
    from xhtml2pdf import parser
    from xhtml2pdf.tags import pisaTag

    if getattr(parser, "pisaTagPDFKEYVALUE", None) is not None:
        return

    class pisaTagPDFBOOKINGS(pisaTag):
        """<pdf:bookings date=".." ...></pdf:bookings>: the bookings table."""

        def start(self, c) -> None:
            rows = _current.get()
            if rows is None:
                raise RuntimeError("<pdf:bookings> outside statement_pdf_table.rendering()")
            # the font of the text around the tag, and its bold face
            font = tt2ps(c.frag.fontName, 0, 0)
            bold = tt2ps(c.frag.fontName, 1, 0)
            headings = [self.node.getAttribute(name) or "" for name, _w, _a in COLUMNS]
            c.addPara()
            c.addStory(build_table(headings, rows, font, bold))

    class pisaTagPDFKEYVALUE(pisaTag):
        """<pdf:keyvalue kind=".." label=".." note=".." value=".."></pdf:keyvalue>:
        a row of labels and values (KEY_VALUE_KINDS)."""

        def start(self, c) -> None:
            attribute = self.node.getAttribute
            c.addPara()
            c.addStory(key_value_row(
                attribute("kind") or "summary", attribute("label") or "",
                attribute("note") or "", attribute("value") or "",
                tt2ps(c.frag.fontName, 0, 0), tt2ps(c.frag.fontName, 1, 0)))

    parser.pisaTagPDFBOOKINGS = pisaTagPDFBOOKINGS
    parser.pisaTagPDFKEYVALUE = pisaTagPDFKEYVALUE
