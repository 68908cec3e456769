"""The newcomer's summary PDF (issue 7), rendered from a fixed view model and read back with pdfium:
German text with umlauts and ß, the ABRA appointment and the registration deadline per person, one A4
page for a family of four, and title and language in the document (the other languages and right to
left: tests/unit/test_newcomer_languages.py)."""

from __future__ import annotations

from datetime import date
from typing import Any

import pypdfium2 as pdfium
import pytest

from services.web import newcomer, summary_pdf

PRINTED = date(2026, 11, 23)
INTAKE = {"intake_id": "3f2a9c1e-5b7d-4e21-9a0c-1d2e3f4a5b6c", "district": "Westen",
          "address": {"street": "Weststraße", "house_number": "12", "postcode": "59065", "city": "Hamm"}}
#: Monday 30.11.2026, 10:00 in Berlin; the §17 BMG deadline two weeks after moving in
APPOINTMENT = "2026-11-30T09:00:00+00:00"
DEADLINE = "2026-12-04"
GERMAN = newcomer.Lang.of("de")


def pending(appointment: str | None = APPOINTMENT) -> dict[str, Any]:
    return {"allowed": False, "clearing_status": "pending", "appointment_at": appointment, "registration_deadline": DEADLINE,
            "reason": "Keine Anmeldung: ABRA-Clearing ausstehend"}


def person(given: str, family: str, born: str, routes: list[str], registration: dict[str, Any]) -> dict[str, Any]:
    return {"person_id": f"id-{given}", "given_name": given, "family_name": family, "date_of_birth": born, "routes": routes,
            "registration": registration}


FAMILY = [
    person("Jürgen", "Großmann", "1985-03-02", ["abra_clearing"], pending()),
    person("Ștefania", "Țurcanu-Größ", "1987-07-14", ["abra_clearing"], pending()),
    person("Elena", "Großmann", "2023-01-09", ["abra_clearing", "daycare"], pending(None)),
    person("Georgi", "Großmann", "2016-05-30", ["abra_clearing", "school_side_entry"], pending()),
]


def read(pdf: bytes) -> tuple[int, str, dict[str, str]]:
    doc = pdfium.PdfDocument(pdf)
    try:
        text = "\n".join(doc[i].get_textpage().get_text_range() for i in range(len(doc)))
        return len(doc), " ".join(text.split()), doc.get_metadata_dict()
    finally:
        doc.close()


class TestTheSummaryOfAFamilyOfFour:
    def test_it_is_one_page(self) -> None:
        pages, _, _ = read(summary_pdf.render({"intake": INTAKE, "persons": FAMILY}, PRINTED))
        assert pages == 1

    def test_it_is_one_page_when_every_person_has_the_most_steps_routing_gives(self) -> None:
        """routing.routes: one of ABRA clearing / casework / return counselling / information, plus a child's route."""
        busy = [person(f"Anna-Maria{i}", "Müller-Lüdenscheidt-Schwarzenbeck", "2012-01-01", ["abra_clearing", "school_side_entry"], pending())
                for i in range(4)]
        pages, text, _ = read(summary_pdf.render({"intake": INTAKE, "persons": busy}, PRINTED))
        assert pages == 1 and text.count("Beratung zum Schulbesuch") == 4

    def test_it_reads_in_german_with_umlauts_and_sharp_s(self) -> None:
        _, text, _ = read(summary_pdf.render({"intake": INTAKE, "persons": FAMILY}, PRINTED))
        assert "Willkommen in Hamm – Ihre nächsten Schritte" in text
        assert "Was als Nächstes passiert" in text and "Stand: Montag, 23. November 2026" in text
        assert "Jürgen Großmann, geboren am 2. März 1985" in text and "Ștefania Țurcanu-Größ" in text
        assert "Adresse: Weststraße 12, 59065 Hamm" in text

    def test_it_names_the_appointment_and_the_registration_deadline(self) -> None:
        _, text, _ = read(summary_pdf.render({"intake": INTAKE, "persons": FAMILY}, PRINTED))
        assert text.count("Ihr Termin bei ABRA (Gespräch vor der Anmeldung): Montag, 30. November 2026, 10:00 Uhr.") == 3
        assert text.count("spätestens bis Freitag, 4. Dezember 2026.") == 4
        assert "Ihr Termin bei ABRA (Gespräch vor der Anmeldung) wird gerade vereinbart." in text
        assert "Für Elena wird ein Kita-Platz gesucht." in text
        assert "Für Georgi gibt es eine Beratung zum Schulbesuch (Seiteneinstieg)." in text

    def test_it_ends_with_the_office_and_the_reference_number(self) -> None:
        _, text, _ = read(summary_pdf.render({"intake": INTAKE, "persons": FAMILY}, PRINTED))
        assert "Kontakt Amt für Soziale Integration, Stadt Hamm" in text
        assert "Bitte nennen Sie bei Fragen diese Nummer: 3f2a9c1e" in text

    def test_it_carries_its_title_and_language(self) -> None:
        pdf = summary_pdf.render({"intake": INTAKE, "persons": FAMILY}, PRINTED)
        _, _, meta = read(pdf)
        assert pdf.startswith(b"%PDF-")
        assert meta["Title"] == "Willkommen in Hamm – Ihre nächsten Schritte" and meta["Author"] == "Amt für Soziale Integration, Stadt Hamm"
        assert b"/Lang (de-DE)" in pdf and b"/DisplayDocTitle true" in pdf

    def test_a_person_whose_data_was_erased_is_left_out(self) -> None:
        erased = {"person_id": "id-x", "given_name": None, "family_name": None, "routes": ["abra_clearing"], "registration": pending()}
        _, text, _ = read(summary_pdf.render({"intake": INTAKE, "persons": [FAMILY[0], erased]}, PRINTED))
        assert text.count("Termin bei ABRA") == 1 and "None" not in text


class TestNextSteps:
    def test_a_booked_clearing_gives_the_appointment_then_the_deadline(self) -> None:
        steps = newcomer.next_steps(FAMILY[0], GERMAN)
        assert steps == ["Ihr Termin bei ABRA (Gespräch vor der Anmeldung): Montag, 30. November 2026, 10:00 Uhr. "
                         "Bitte bringen Sie Ihren Ausweis oder Reisepass mit.",
                         "Nach dem Gespräch melden Sie Ihren Wohnsitz im Bürgeramt an, spätestens bis Freitag, 4. Dezember 2026."]

    def test_a_missed_clearing_asks_for_a_new_appointment(self) -> None:
        missed = person("Radu", "Popescu", "1990-01-01", ["abra_clearing"], {**pending(), "clearing_status": "not_appeared"})
        assert newcomer.next_steps(missed, GERMAN) == ["Bitte vereinbaren Sie einen neuen Termin bei ABRA. Erst nach dem Gespräch ist die Anmeldung möglich.",
                                                      "Die Frist für die Anmeldung endet am Freitag, 4. Dezember 2026."]

    def test_a_cleared_person_may_register(self) -> None:
        cleared = person("Radu", "Popescu", "1990-01-01", ["abra_clearing"], {**pending(), "clearing_status": "cleared", "allowed": True})
        assert newcomer.next_steps(cleared, GERMAN) == ["Sie können Ihren Wohnsitz jetzt im Bürgeramt anmelden."]

    def test_a_refugee_in_casework_hears_from_the_caseworker(self) -> None:
        refugee = person("Amal", "Haddad", "1992-04-04", ["casework"], {"allowed": True, "clearing_status": None})
        assert newcomer.next_steps(refugee, GERMAN) == [
            "Sie können Ihren Wohnsitz jetzt im Bürgeramt anmelden.",
            "Eine Mitarbeiterin oder ein Mitarbeiter vom Sozialen Fallmanagement meldet sich in den nächsten Tagen bei Ihnen."]


class TestTheShippedFont:
    """The font ships with the package (no system font in the embedded default); newcomers' names in
    Romanian and Bulgarian (Cyrillic) spelling must not print as empty boxes."""

    @pytest.mark.parametrize("name", ["Ștefania Țurcanu", "Mădălina Brâncuși", "Иван Петров", "Jürgen Großmann", "Çağla Öztürk"])
    def test_every_letter_of_a_name_has_a_glyph(self, name: str) -> None:
        from reportlab.pdfbase import pdfmetrics

        assert summary_pdf.register_fonts() == "DejaVuSans.ttf"
        for font in (summary_pdf.FONT, summary_pdf.FONT_BOLD):
            glyphs = pdfmetrics.getFont(font).face.charToGlyph
            assert [c for c in name if c != " " and ord(c) not in glyphs] == [], font

    def test_a_cyrillic_name_is_in_the_text_of_the_page(self) -> None:
        bulgarian = [person("Иван", "Петров", "1980-01-01", ["abra_clearing"], pending())]
        _, text, _ = read(summary_pdf.render({"intake": INTAKE, "persons": bulgarian}, PRINTED))
        assert "Иван Петров" in text
