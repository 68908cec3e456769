"""Newcomer communication in their language (issue 14), pure parts: the message catalogues are complete
(every message id of the code has a translation in every language, with the same placeholders), the
template files match the code, Arabic and Farsi are right to left, dates and times are written each
language's way, recorded names and places stay as they are, and the PDFs shape Arabic script."""

from __future__ import annotations

import re
import zlib
from datetime import UTC, date, datetime
from pathlib import Path

import pypdfium2 as pdfium
import pytest
from babel.messages.extract import extract_from_file
from babel.messages.pofile import read_po

from services.intake import communication
from services.kit import i18n
from services.web import newcomer, summary_pdf

#: (locale dir, domain, the source files whose `_()` calls are the message ids)
CATALOGUES = [
    (newcomer.LOCALE_DIR, newcomer.DOMAIN, [Path(newcomer.__file__)]),
    (communication.LOCALE_DIR, communication.DOMAIN, [Path(communication.__file__)]),
]
TRANSLATED = [lang for lang in i18n.LANGUAGES if lang != i18n.DEFAULT]
PLACEHOLDER = re.compile(r"%\((\w+)\)s")


def message_ids(sources: list[Path]) -> set[str]:
    return {msg for source in sources for _, msg, _, _ in extract_from_file("python", str(source), keywords={"_": None})}


def catalogue(locale_dir: Path, domain: str, language: str):  # noqa: ANN201 - babel Catalog
    with i18n.catalogue_path(locale_dir, language, domain).open("rb") as f:
        return read_po(f, locale=language)


class TestTheCatalogues:
    @pytest.mark.parametrize(("locale_dir", "domain", "sources"), CATALOGUES, ids=["web", "intake"])
    def test_the_template_holds_exactly_the_messages_of_the_code(self, locale_dir: Path, domain: str, sources: list[Path]) -> None:
        with (locale_dir / f"{domain}.pot").open("rb") as f:
            template = {m.id for m in read_po(f) if m.id}
        assert template == message_ids(sources), "run pybabel extract (README: Sprachen)"

    @pytest.mark.parametrize("language", TRANSLATED)
    @pytest.mark.parametrize(("locale_dir", "domain", "sources"), CATALOGUES, ids=["web", "intake"])
    def test_every_message_is_translated_with_the_same_placeholders(self, locale_dir: Path, domain: str, sources: list[Path], language: str) -> None:
        cat = catalogue(locale_dir, domain, language)
        ids = message_ids(sources)
        missing = sorted(i for i in ids if not (cat.get(i) and cat.get(i).string))
        assert missing == [], f"{language}: untranslated"
        fuzzy = sorted(i for i in ids if cat.get(i).fuzzy)
        assert fuzzy == [], f"{language}: fuzzy translations are not used"
        for i in ids:
            assert sorted(PLACEHOLDER.findall(cat.get(i).string)) == sorted(PLACEHOLDER.findall(i)), f"{language}: {i!r}"
            assert "%" not in PLACEHOLDER.sub("", cat.get(i).string), f"{language}: stray % in {i!r}"

    @pytest.mark.parametrize("language", TRANSLATED)
    def test_every_catalogue_is_marked_as_machine_made(self, language: str) -> None:
        for locale_dir, domain, _ in CATALOGUES:
            head = i18n.catalogue_path(locale_dir, language, domain).read_text(encoding="utf-8")[:400]
            assert "MACHINE TRANSLATION, pending review by a sworn translator" in head

    def test_a_catalogue_compiles_and_translates(self) -> None:
        ro = i18n.translations(newcomer.LOCALE_DIR, newcomer.DOMAIN, "ro")
        assert ro.gettext("Ihr Haushalt") == "Gospodăria dumneavoastră"
        assert i18n.translations(newcomer.LOCALE_DIR, newcomer.DOMAIN, "de").gettext("Ihr Haushalt") == "Ihr Haushalt"

    def test_farsi_uses_the_persian_letters_and_romanian_the_comma_below(self) -> None:
        fa = catalogue(newcomer.LOCALE_DIR, newcomer.DOMAIN, "fa")
        ro = catalogue(newcomer.LOCALE_DIR, newcomer.DOMAIN, "ro")
        assert not [m.id for m in fa if m.id and re.search("[\u064a\u0643]", m.string)], "Arabic yeh/kaf in Farsi"
        assert not [m.id for m in ro if m.id and re.search("[şţŞŢ]", m.string)], "cedilla instead of comma below"


class TestDirectionAndLanguage:
    @pytest.mark.parametrize(("language", "direction"),
                             [("ar", "rtl"), ("fa", "rtl"), ("de", "ltr"), ("ro", "ltr"), ("bg", "ltr"), ("uk", "ltr"), ("en", "ltr")])
    def test_arabic_and_farsi_are_right_to_left(self, language: str, direction: str) -> None:
        assert i18n.direction(language) == direction
        assert newcomer.Lang.of(language).dir == direction

    def test_an_unknown_language_falls_back_to_german(self) -> None:
        assert i18n.language_or_default("xx") == "de" and i18n.language_or_default(None) == "de"
        assert newcomer.Lang.of("tlh").code == "de"

    def test_every_offered_language_has_a_catalogue_in_web_and_intake(self) -> None:
        from services.intake.domain import LETTER_LANGUAGES

        assert tuple(i18n.LANGUAGES) == LETTER_LANGUAGES
        for language in TRANSLATED:
            for locale_dir, domain, _ in CATALOGUES:
                assert i18n.catalogue_path(locale_dir, language, domain).exists()


class TestDatesAndTimes:
    MONDAY = date(2026, 12, 7)
    #: 08:30 UTC is 09:30 in Hamm in winter
    AT = datetime(2026, 12, 7, 8, 30, tzinfo=UTC)

    @pytest.mark.parametrize(("language", "expected"), [
        ("de", "Montag, 7. Dezember 2026"), ("ro", "luni, 7 decembrie 2026"), ("bg", "понеделник, 7 декември 2026\u202fг."),
        ("uk", "понеділок, 7 грудня 2026\u202fр."), ("en", "Monday, 7 December 2026"), ("ar", "الاثنين، 7 ديسمبر 2026"), ("fa", "دوشنبه 7 دسامبر 2026"),
    ])
    def test_a_date_is_written_the_languages_way(self, language: str, expected: str) -> None:
        assert i18n.format_date(self.MONDAY, language) == expected

    def test_a_time_is_hamm_time_in_the_languages_form(self) -> None:
        assert i18n.format_time(self.AT, "de") == "09:30"
        assert i18n.format_time(self.AT.isoformat(), "uk") == "09:30"
        assert i18n.format_time(self.AT, "en") == "09:30"

    def test_a_date_of_birth_has_no_weekday(self) -> None:
        assert i18n.format_date("1990-01-01", "de", "long") == "1. Januar 1990"


VIEW = {
    "intake": {"intake_id": "3f2a9c1e-5b7d-4e21-9a0c-1d2e3f4a5b6c",
               "address": {"street": "Weststraße", "house_number": "12", "postcode": "59065", "city": "Hamm"}},
    "persons": [{"person_id": "p1", "given_name": "Ștefan", "family_name": "Bălănescu", "date_of_birth": "1990-01-01", "routes": ["abra_clearing"],
                 "registration": {"clearing_status": "pending", "appointment_at": "2026-12-07T08:30:00+00:00", "registration_deadline": "2026-12-17"}}],
    "appointment": "2026-12-07T08:30:00+00:00", "clearing": True, "casework": False,
}
PLACE = "Beratungsstelle ABRA, Kommunales Jobcenter Hamm"


class TestTheTexts:
    def test_the_arabic_summary_keeps_the_name_as_recorded_in_an_isolate(self) -> None:
        m = newcomer.summary(VIEW, "ar", date(2026, 12, 3))
        assert m.lang == "ar" and m.dir == "rtl" and m.title == "مرحبًا بك في Hamm – خطواتك القادمة"
        assert m.persons[0].name == "\u2068Ștefan Bălănescu\u2069"
        assert "\u2068الاثنين، 7 ديسمبر 2026\u2069" in m.appointment[0]

    def test_the_romanian_letter_names_date_time_and_the_place_as_recorded(self) -> None:
        m = newcomer.letter(VIEW, PLACE, "ro", date(2026, 12, 3), frozenset({"p1"}))
        (inv,) = m.invitations
        assert (inv.date, inv.time, inv.place) == ("luni, 7 decembrie 2026", "ora 09:30", PLACE)
        assert inv.greeting == "Bună ziua, Ștefan Bălănescu,"
        assert inv.reminder == "Cu o zi lucrătoare înainte de programare primiți un e-mail de reamintire."

    def test_the_letter_has_no_invitation_without_a_booked_appointment(self) -> None:
        waiting = {**VIEW, "persons": [{**VIEW["persons"][0], "registration": {"clearing_status": "pending", "appointment_at": None}}]}
        assert newcomer.letter(waiting, PLACE, "de", date(2026, 12, 3)).invitations == []
        assert newcomer.letter(VIEW, PLACE, "de", date(2026, 12, 3)).invitations[0].reminder is None


def pdf_text(pdf: bytes) -> str:
    doc = pdfium.PdfDocument(pdf)
    try:
        return " ".join(" ".join(doc[i].get_textpage().get_text_range() for i in range(len(doc))).split())
    finally:
        doc.close()


def unicode_targets(pdf: bytes) -> set[int]:
    """The code points the PDF's ToUnicode maps name (what each embedded glyph stands for)."""
    points: set[int] = set()
    for stream in re.findall(rb"stream\r?\n(.*?)endstream", pdf, re.S):
        try:
            data = zlib.decompressobj().decompress(stream)
        except zlib.error:
            data = stream
        if b"begincmap" in data:
            points |= {int(h, 16) for h in re.findall(rb"<[0-9A-Fa-f]{2,4}>\s*<([0-9A-Fa-f]{4})>", data)}
    return points


def presentation_forms(points: set[int]) -> set[int]:
    return {p for p in points if 0xFB50 <= p <= 0xFDFF or 0xFE70 <= p <= 0xFEFF}


class TestRightToLeftPdf:
    def test_the_arabic_letter_is_shaped_arabic_text(self) -> None:
        pdf = summary_pdf.render_letter(VIEW, PLACE, date(2026, 12, 3), "ar")
        text = pdf_text(pdf)
        assert "دعوة إلى مقابلة لدى ABRA" in text and "Ștefan Bălănescu" in text and PLACE.split(",")[0] in text
        forms = presentation_forms(unicode_targets(pdf))
        assert {0xFE94, 0xFEE4}.issubset(forms), "initial/medial/final letter forms (shaped), not isolated letters"
        assert b"/Lang (ar)" in pdf

    def test_the_farsi_summary_is_shaped_with_persian_letters(self) -> None:
        pdf = summary_pdf.render(VIEW, date(2026, 12, 3), "fa")
        assert "خانواده شما" in pdf_text(pdf)
        forms = presentation_forms(unicode_targets(pdf))
        assert forms & {0xFBFE, 0xFBFF, 0xFBFC, 0xFBFD}, "Persian yeh in its joined forms"

    def test_a_german_pdf_has_no_arabic_forms(self) -> None:
        assert presentation_forms(unicode_targets(summary_pdf.render(VIEW, date(2026, 12, 3), "de"))) == set()

    def test_brackets_in_an_arabic_sentence_are_mirrored_and_a_latin_word_stays_in_order(self) -> None:
        (line,) = summary_pdf.rtl_lines("في مكتب المواطنين (Bürgeramt)", summary_pdf.FONT, 11, 400)
        assert "(Bürgeramt)" in line  # drawn left to right: "(" on the left of the Latin word
        assert line.endswith("ﻲﻓ")  # the first Arabic word is drawn rightmost

    def test_a_long_arabic_paragraph_breaks_into_lines_that_each_fit(self) -> None:
        from reportlab.pdfbase.pdfmetrics import stringWidth

        summary_pdf.register_fonts()
        text = "قبل تسجيل عنوان سكنك، لديك مقابلة لدى ABRA، وهي مركز استشارات في Hamm. المقابلة مجانية. " * 3
        lines = summary_pdf.rtl_lines(text, summary_pdf.FONT, 11, 200)
        assert len(lines) > 3 and all(stringWidth(line, summary_pdf.FONT, 11) <= 200 for line in lines)
        assert lines[0].endswith("ﻞﺒﻗ")  # the paragraph begins on its first line, at the right

    @pytest.mark.parametrize("language", list(i18n.LANGUAGES))
    def test_a_family_of_four_fits_on_one_page_in_every_language(self, language: str) -> None:
        person = {**VIEW["persons"][0], "family_name": "Müller-Lüdenscheidt-Schwarzenbeck", "routes": ["abra_clearing", "school_side_entry"]}
        family = {**VIEW, "persons": [{**person, "given_name": f"Anna-Maria{i}", "person_id": f"p{i}"} for i in range(4)]}
        assert len(pdfium.PdfDocument(summary_pdf.render(family, date(2026, 12, 3), language))) == 1
        assert len(pdfium.PdfDocument(summary_pdf.render_letter(family, PLACE, date(2026, 12, 3), language))) == 4  # one invitation a page

    def test_every_letter_of_the_arabic_and_farsi_texts_has_a_glyph(self) -> None:
        import arabic_reshaper
        from reportlab.pdfbase import pdfmetrics

        summary_pdf.register_fonts()
        for language in ("ar", "fa"):
            texts = "".join(m.string for m in catalogue(newcomer.LOCALE_DIR, newcomer.DOMAIN, language) if m.id)
            shaped = set(arabic_reshaper.reshape(texts)) - {" "}
            for font in (summary_pdf.FONT, summary_pdf.FONT_BOLD):
                glyphs = pdfmetrics.getFont(font).face.charToGlyph
                assert sorted(hex(ord(c)) for c in shaped if ord(c) not in glyphs) == [], (language, font)


class TestPackaging:
    @pytest.mark.parametrize("package", ["services.web", "services.intake"])
    def test_the_catalogues_are_package_data(self, package: str) -> None:
        """An installed package (the production image: pip install .) carries the .po sources it compiles at first use."""
        import fnmatch
        import tomllib

        root = Path(__file__).resolve().parents[2]
        patterns = tomllib.loads((root / "pyproject.toml").read_text())["tool"]["setuptools"]["package-data"][package]
        base = root / package.replace(".", "/")
        files = [p.relative_to(base).as_posix() for p in (base / "locale").rglob("*") if p.suffix in (".po", ".pot")]
        assert len(files) == len(TRANSLATED) + 1
        assert [f for f in files if not any(fnmatch.fnmatch(f, pat) for pat in patterns)] == []
