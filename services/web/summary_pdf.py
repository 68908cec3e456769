"""The newcomer's documents as PDFs (issue 7; issue 14): the summary of the intake interview on one A4
page, and the invitation to the ABRA clearing appointment (one page per person with a booked appointment),
in the language the newcomer chose. The texts come from the same model as the HTML print views
(services/web/newcomer.py).

Text is set in DejaVu Sans, shipped with this package (`fonts/`, free licence in `LICENSE-DejaVu.txt`) so
that no system font is needed; it embeds as a TrueType subset and covers umlauts and ß, Romanian ș/ț/ă,
Cyrillic (Bulgarian, Ukrainian) and Arabic script with the Persian letters (پ چ ژ گ ک ی). reportlab lays
text out left to right and does not join Arabic letters, so a right-to-left paragraph is shaped first
(arabic-reshaper: the contextual letter forms), broken into lines that fit the width, and each line is
put into display order (python-bidi, the Unicode bidi algorithm with a right-to-left base direction)
and set right-aligned. Reordering line by line keeps the first words of a paragraph on its first line."""

from __future__ import annotations

import io
import re
from datetime import date
from functools import lru_cache
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from services.web import newcomer
from services.web.newcomer import FSI, PDI

FONT = "AnkommenSans"
FONT_BOLD = "AnkommenSans-Bold"
FONT_DIR = Path(__file__).resolve().parent / "fonts"
PDF_LANG = {"de": "de-DE", "ro": "ro-RO", "bg": "bg-BG", "ar": "ar", "fa": "fa", "uk": "uk-UA", "en": "en-GB"}


@lru_cache(maxsize=1)
def register_fonts() -> str:
    """Registers the text font family once per process and names the file it came from."""
    from reportlab.lib.fonts import addMapping
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.ttfonts import TTFont

    regular, bold = FONT_DIR / "DejaVuSans.ttf", FONT_DIR / "DejaVuSans-Bold.ttf"
    pdfmetrics.registerFont(TTFont(FONT, str(regular)))
    pdfmetrics.registerFont(TTFont(FONT_BOLD, str(bold)))
    for italic in (0, 1):
        addMapping(FONT, 0, italic, FONT)
        addMapping(FONT, 1, italic, FONT_BOLD)
    return regular.name


# ---- right to left --------------------------------------------------------------------------------


def _plain(text: str) -> str:
    return text.replace(FSI, "").replace(PDI, "")


def mirror_rtl(text: str) -> str:
    """Mirrors the brackets that the bidi algorithm puts at a right-to-left level (rule L4: "(" in an
    Arabic sentence is drawn as ")"). python-bidi's reordering leaves mirroring to the caller; its debug
    output (pinned version) gives the resolved level of each UTF-8 byte."""
    from bidi import get_display
    from bidi.mirror import MIRRORED

    info = get_display(text, base_dir="R", debug=True)
    levels = [int(n) for n in re.findall(r"Level\(\s*(\d+),?\s*\)", info.split("levels:", 1)[1].split("paragraphs:", 1)[0])]
    out, offset = [], 0
    for ch in text:
        level = levels[offset] if offset < len(levels) else 1
        out.append(MIRRORED.get(ch, ch) if level % 2 else ch)
        offset += len(ch.encode())
    return "".join(out)


def rtl_lines(text: str, font: str, size: float, width: float) -> list[str]:
    """A right-to-left paragraph as lines in display order: shaped, brackets mirrored, wrapped to
    `width`, each line reordered."""
    import arabic_reshaper
    from bidi import get_display
    from reportlab.pdfbase.pdfmetrics import stringWidth

    shaped = mirror_rtl(arabic_reshaper.reshape(text))
    lines: list[str] = []
    current = ""
    for word in shaped.split(" "):
        candidate = f"{current} {word}" if current else word
        if current and stringWidth(_plain(candidate), font, size) > width:
            lines.append(current)
            current = word
        else:
            current = candidate
    if current:
        lines.append(current)
    return [_plain(get_display(line, base_dir="R")) for line in lines]


#: a frame's padding on either side (reportlab's default Frame of a SimpleDocTemplate), plus a little slack
FRAME_PADDING = 6 * 2 + 2


class _Writer:
    """Builds paragraphs for one language: left to right as they are, right to left shaped and reordered
    into lines of at most `width` points (the space a paragraph gets inside its frame or table cell)."""

    def __init__(self, rtl: bool, width: float) -> None:
        self.rtl, self.width = rtl, width

    def para(self, text: str, style: Any, bullet: bool = False) -> Any:
        from reportlab.lib.enums import TA_RIGHT
        from reportlab.lib.styles import ParagraphStyle
        from reportlab.platypus import Paragraph

        if not self.rtl:
            return Paragraph(escape(("•\u00a0" if bullet else "") + text), style)
        right = ParagraphStyle(f"{style.name}-rtl", parent=style, alignment=TA_RIGHT)
        lines = rtl_lines(("•\u00a0" if bullet else "") + text, style.fontName, style.fontSize, self.width - style.leftIndent - style.rightIndent)
        return Paragraph("<br/>".join(escape(line) for line in lines), right)


def _styles() -> dict[str, Any]:
    from reportlab.lib import colors
    from reportlab.lib.styles import ParagraphStyle

    body = ParagraphStyle("body", fontName=FONT, fontSize=10.5, leading=14, spaceAfter=2.5)
    return {
        "body": body,
        "small": ParagraphStyle("small", parent=body, fontSize=9.5, leading=12.5, textColor=colors.HexColor("#333333")),
        "title": ParagraphStyle("title", parent=body, fontName=FONT_BOLD, fontSize=16, leading=20, spaceAfter=3),
        "heading": ParagraphStyle("heading", parent=body, fontName=FONT_BOLD, fontSize=13, leading=17, spaceBefore=8, spaceAfter=3),
        "person": ParagraphStyle("person", parent=body, fontName=FONT_BOLD, spaceBefore=4, spaceAfter=1),
        "item": ParagraphStyle("item", parent=body, leftIndent=10, rightIndent=10, spaceAfter=1.5),
        "strong": ParagraphStyle("strong", parent=body, fontName=FONT_BOLD, fontSize=12.5, leading=17),
    }


def _document(buf: io.BytesIO, title: str, subject: str, language: str) -> Any:
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.units import cm
    from reportlab.platypus import SimpleDocTemplate

    return SimpleDocTemplate(
        buf, pagesize=A4, title=title, author=newcomer.OFFICE, subject=subject, creator="ankommen",
        lang=PDF_LANG.get(language, "de-DE"), displayDocTitle=True,
        leftMargin=2 * cm, rightMargin=2 * cm, topMargin=1.5 * cm, bottomMargin=1.5 * cm,
    )


# ---- the summary ----------------------------------------------------------------------------------


def render(view: dict[str, Any], printed_on: date, language: str | None = None) -> bytes:
    """The summary on one A4 page (a household of four fits with room to spare)."""
    from reportlab.platypus import KeepTogether, Spacer

    register_fonts()
    m = newcomer.summary(view, language, printed_on)
    st = _styles()
    buf = io.BytesIO()
    doc = _document(buf, _plain(m.title), "Zusammenfassung des Erstgesprächs", m.lang)
    w = _Writer(m.dir == "rtl", doc.width - FRAME_PADDING)
    story: list[Any] = [w.para(m.title, st["title"]), w.para(f"{_plain(newcomer.OFFICE)} · {m.printed}", st["small"]),
                        w.para(m.household_heading, st["heading"])]
    story += [w.para(line, st["body"]) for line in m.members] or [w.para("–", st["body"])]
    if m.address:
        story.append(w.para(m.address, st["body"]))
    story.append(w.para(m.steps_heading, st["heading"]))
    for p in m.persons:
        story.append(KeepTogether([w.para(p.name, st["person"]), *(w.para(s, st["item"], bullet=True) for s in p.steps)]))
    story += [w.para(m.contact_heading, st["heading"]), *(w.para(line, st["body"]) for line in m.contact),
              Spacer(1, 6), w.para(m.keep_note, st["small"])]
    doc.build(story)
    return buf.getvalue()


# ---- the ABRA invitation --------------------------------------------------------------------------


def render_letter(view: dict[str, Any], place: str, printed_on: date, language: str | None = None,
                  reminders: frozenset[str] = frozenset()) -> bytes:
    """The invitation to the ABRA clearing appointment: one A4 page per person with a booked appointment."""
    from reportlab.lib import colors
    from reportlab.platypus import PageBreak, Table, TableStyle

    register_fonts()
    m = newcomer.letter(view, place, language, printed_on, reminders)
    st = _styles()
    buf = io.BytesIO()
    doc = _document(buf, _plain(m.title), "Einladung zum Clearinggespräch (ABRA)", m.lang)
    w = _Writer(m.dir == "rtl", doc.width - FRAME_PADDING)
    story: list[Any] = []
    for i, inv in enumerate(m.invitations):
        if i:
            story.append(PageBreak())
        story += [w.para(m.title, st["title"]), w.para(f"{_plain(newcomer.OFFICE)} · {m.printed}", st["small"]),
                  w.para(inv.greeting, st["body"]), *(w.para(line, st["body"]) for line in m.intro),
                  w.para(m.appointment_heading, st["heading"])]
        label_w, value_w = (doc.width - 12) * 0.25, (doc.width - 12) * 0.75
        vw = _Writer(w.rtl, value_w - FRAME_PADDING)
        rows = [(w.para(label, st["body"]) if not w.rtl else _Writer(True, label_w - FRAME_PADDING).para(label, st["body"]), vw.para(value, st["strong"]))
                for label, value in ((m.date_label, inv.date), (m.time_label, inv.time), (m.place_label, inv.place))]
        if w.rtl:  # labels on the right
            rows = [(value, label) for label, value in rows]
        table = Table(rows, colWidths=[value_w, label_w] if w.rtl else [label_w, value_w])
        table.setStyle(TableStyle([("BOX", (0, 0), (-1, -1), 1.5, colors.black), ("VALIGN", (0, 0), (-1, -1), "TOP"),
                                   ("TOPPADDING", (0, 0), (-1, -1), 4), ("BOTTOMPADDING", (0, 0), (-1, -1), 2)]))
        story += [table, w.para(m.bring_heading, st["heading"]), *(w.para(b, st["item"], bullet=True) for b in m.bring)]
        story += [w.para(n, st["body"]) for n in m.notes]
        story += [w.para(text, st["body"]) for text in (inv.deadline, inv.reminder) if text]
        story += [w.para(m.closing, st["body"]), w.para(newcomer.OFFICE, st["body"])]
    if not story:
        story.append(w.para(m.title, st["title"]))
    doc.build(story)
    return buf.getvalue()
