"""The newcomer's summary as a PDF (issue 7: "print/download a short German summary for the newcomer with
the booked ABRA appointment or the caseworker contact"): one A4 page in plain German with the household's
persons and, for each, what happens next: the ABRA clearing appointment and the registration deadline
(§17 BMG: two weeks after moving in; 000 "Projekt ABRA": BG/RO register only after the clearing), the
caseworker who will get in touch (000 "Soziales Fallmanagement"), or that registration may proceed.

The page is built from the same view model as the HTML print view (`front_desk.household_view`).
Text is set in DejaVu Sans, shipped with this package (`fonts/`, free licence in `LICENSE-DejaVu.txt`) so
that no system font is needed; it embeds as a TrueType subset and covers umlauts and ß, the Romanian
ș/ț/ă and Bulgarian Cyrillic of newcomers' names (reportlab's bundled Vera font lacks the last two)."""

from __future__ import annotations

import io
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from services.contracts.workdays import BERLIN

TITLE = "Willkommen in Hamm – Ihre nächsten Schritte"
OFFICE = "Amt für Soziale Integration"
FONT = "AnkommenSans"
FONT_BOLD = "AnkommenSans-Bold"
FONT_DIR = Path(__file__).resolve().parent / "fonts"
WEEKDAYS = ("Montag", "Dienstag", "Mittwoch", "Donnerstag", "Freitag", "Samstag", "Sonntag")
#: further routes, addressed by given name (a child's place is arranged with the parents)
ROUTE_NOTES = {
    "daycare": "Für {name} wird ein Kita-Platz gesucht.",
    "school_side_entry": "Für {name} gibt es eine Beratung zum Schulbesuch (Seiteneinstieg).",
    "return_counselling": "Auf Wunsch erhalten Sie eine Rückkehrberatung.",
    "youth_welfare": "Das Jugendamt ist für {name} zuständig (Inobhutnahme, § 42a SGB VIII) und meldet sich.",
}


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


# ---- texts ----------------------------------------------------------------------------------------


def _as_datetime(value: Any) -> datetime:
    return (datetime.fromisoformat(value) if isinstance(value, str) else value).astimezone(BERLIN)


def _as_date(value: Any) -> date:
    return date.fromisoformat(value[:10]) if isinstance(value, str) else value


def long_date(value: Any) -> str:
    d = _as_date(value)
    return f"{WEEKDAYS[d.weekday()]}, {d:%d.%m.%Y}"


def long_datetime(value: Any) -> str:
    at = _as_datetime(value)
    return f"{WEEKDAYS[at.weekday()]}, {at:%d.%m.%Y}, {at:%H:%M}\u00a0Uhr"


def next_steps(person: dict[str, Any]) -> list[str]:
    """What happens next for one person, in plain German, from intake's registration status (ABRA gate)
    and the person's routes."""
    reg = person.get("registration") or {}
    routes = person.get("routes") or []
    deadline = reg.get("registration_deadline")
    status = reg.get("clearing_status")
    steps: list[str] = []
    if status == "pending" and reg.get("appointment_at"):
        steps.append(f"Termin bei ABRA (Gespräch vor der Anmeldung): {long_datetime(reg['appointment_at'])}. "
                     "Bitte bringen Sie Ihren Ausweis oder Pass mit.")
        if deadline:
            steps.append(f"Nach dem Gespräch melden Sie Ihren Wohnsitz im Bürgeramt an, spätestens bis {long_date(deadline)}.")
    elif status == "pending":
        steps.append("Ihr Termin bei ABRA (Gespräch vor der Anmeldung) wird gerade vereinbart. ABRA meldet sich bei Ihnen.")
        if deadline:
            steps.append(f"Anmeldung des Wohnsitzes im Bürgeramt nach dem Gespräch, spätestens bis {long_date(deadline)}.")
    elif status == "not_appeared":
        steps.append("Bitte vereinbaren Sie einen neuen Termin bei ABRA. Erst nach dem Gespräch ist die Anmeldung möglich.")
        if deadline:
            steps.append(f"Anmeldefrist: {long_date(deadline)}.")
    elif reg.get("allowed"):
        steps.append("Sie können Ihren Wohnsitz jetzt im Bürgeramt anmelden.")
    if "casework" in routes:
        steps.append("Ihre Fallmanagerin / Ihr Fallmanager vom Sozialen Fallmanagement meldet sich in den nächsten Tagen bei Ihnen.")
    steps.extend(ROUTE_NOTES[r].format(name=person.get("given_name") or "Ihr Kind") for r in routes if r in ROUTE_NOTES)
    return steps


def _name(person: dict[str, Any]) -> str:
    return f"{person.get('given_name') or ''} {person.get('family_name') or ''}".strip()


def _address(intake: dict[str, Any]) -> str:
    a = intake.get("address") or {}
    street = f"{a.get('street') or ''} {a.get('house_number') or ''}".strip()
    town = f"{a.get('postcode') or ''} {a.get('city') or ''}".strip()
    return ", ".join(part for part in (street, town) if part)


# ---- the page -------------------------------------------------------------------------------------


def render(view: dict[str, Any], printed_on: date) -> bytes:
    """One A4 page (a household of four fits with room to spare)."""
    from reportlab.lib import colors
    from reportlab.lib.pagesizes import A4
    from reportlab.lib.styles import ParagraphStyle
    from reportlab.lib.units import cm
    from reportlab.platypus import KeepTogether, ListFlowable, ListItem, Paragraph, SimpleDocTemplate, Spacer

    register_fonts()
    body = ParagraphStyle("body", fontName=FONT, fontSize=11, leading=14.5, spaceAfter=3)
    small = ParagraphStyle("small", parent=body, fontSize=9.5, leading=12, textColor=colors.HexColor("#333333"))
    title = ParagraphStyle("title", parent=body, fontName=FONT_BOLD, fontSize=18, leading=22, spaceAfter=4)
    heading = ParagraphStyle("heading", parent=body, fontName=FONT_BOLD, fontSize=13, leading=16, spaceBefore=10, spaceAfter=4)
    person_style = ParagraphStyle("person", parent=body, fontName=FONT_BOLD, spaceBefore=6, spaceAfter=2)

    intake = view["intake"]
    persons = [p for p in view["persons"] if p.get("given_name") or p.get("family_name")]
    story: list[Any] = [
        Paragraph(escape(TITLE), title),
        Paragraph(escape(f"{OFFICE} · Gedruckt am {printed_on:%d.%m.%Y}"), small),
        Paragraph("Ihr Haushalt", heading),
    ]
    members = [escape(_name(p)) + (f", geboren {_as_date(p['date_of_birth']):%d.%m.%Y}" if p.get("date_of_birth") else "") for p in persons]
    story.append(Paragraph("<br/>".join(members) or "–", body))
    if address := _address(intake):
        story.append(Paragraph(escape(f"Adresse: {address}"), body))
    story.append(Paragraph("Was als Nächstes passiert", heading))
    for p in persons:
        steps = next_steps(p) or ["Sie erhalten Information und Beratung im Bürgeramt."]
        items = ListFlowable([ListItem(Paragraph(escape(s), body), leftIndent=14, value="•") for s in steps],
                             bulletType="bullet", bulletFontName=FONT, leftIndent=14)
        story.append(KeepTogether([Paragraph(escape(_name(p)), person_style), items]))
    story += [
        Paragraph("Kontakt", heading),
        Paragraph(escape(f"{OFFICE}, Bürgeramt Hamm"), body),
        Paragraph(f"Bitte geben Sie bei Fragen diese Nummer an: <b>{escape(str(intake['intake_id'])[:8])}</b>", body),
        Spacer(1, 0.2 * cm),
        Paragraph("Bitte bewahren Sie dieses Blatt auf und bringen Sie es zu Ihren Terminen mit.", small),
    ]
    buf = io.BytesIO()
    doc = SimpleDocTemplate(
        buf, pagesize=A4, title=TITLE, author=OFFICE, subject="Zusammenfassung des Erstgesprächs", creator="ankommen",
        lang="de-DE", displayDocTitle=True,
        leftMargin=2 * cm, rightMargin=2 * cm, topMargin=1.8 * cm, bottomMargin=1.8 * cm,
    )
    doc.build(story)
    return buf.getvalue()

