"""Texts for newcomers in their language (issue 14): gettext message catalogues kept as `.po` sources
next to the code that uses them (`<package>/locale/<lang>/LC_MESSAGES/<domain>.po`), compiled in memory
with Babel the first time a language is used, so that neither a build step nor committed `.mo` files
are needed and a fresh clone works. The source language of every message id is German; a missing
catalogue or message falls back to the German text.

The languages offered are those of the largest groups of newcomers in the seed documents (000
"Zuwanderung aus Südosteuropa": Bulgarian and Romanian; 002: refugees from Syria, Iraq, Iran and
Afghanistan, and since 2022 from Ukraine) plus English as a bridge language (default, setting-free:
add a language by adding its catalogue and an entry in LANGUAGES; see README "Sprachen")."""

from __future__ import annotations

import gettext
import io
from datetime import date, datetime
from functools import lru_cache
from pathlib import Path
from typing import Any

from babel.dates import format_date as _babel_date
from babel.dates import format_time as _babel_time
from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po

from services.contracts.workdays import BERLIN

DEFAULT = "de"
#: language code -> the language's own name (what the newcomer recognises on the picker)
LANGUAGES: dict[str, str] = {
    "de": "Deutsch",
    "ro": "Română",
    "bg": "Български",
    "ar": "العربية",
    "fa": "فارسی / دری",
    "uk": "Українська",
    "en": "English",
}
#: German names of the languages, for the clerk
GERMAN_NAMES: dict[str, str] = {
    "de": "Deutsch", "ro": "Rumänisch", "bg": "Bulgarisch", "ar": "Arabisch", "fa": "Farsi / Dari", "uk": "Ukrainisch", "en": "Englisch",
}
#: scripts written from right to left (Unicode bidi class R/AL)
RTL = frozenset({"ar", "fa"})
#: the Babel locale used for dates and times of each language (Dari speakers read Persian month names)
BABEL_LOCALE = {"de": "de_DE", "ro": "ro_RO", "bg": "bg_BG", "ar": "ar", "fa": "fa", "uk": "uk_UA", "en": "en_GB"}


def language_or_default(value: str | None) -> str:
    """The language code if it is one we offer, else German."""
    return value if value in LANGUAGES else DEFAULT


def direction(language: str) -> str:
    """`rtl` for Arabic and Farsi, `ltr` for the others (the HTML `dir` attribute)."""
    return "rtl" if language in RTL else "ltr"


def catalogue_path(locale_dir: Path, language: str, domain: str) -> Path:
    return locale_dir / language / "LC_MESSAGES" / f"{domain}.po"


@lru_cache(maxsize=64)
def translations(locale_dir: Path, domain: str, language: str) -> gettext.NullTranslations:
    """The compiled catalogue of one language (German: the message ids themselves)."""
    path = catalogue_path(locale_dir, language, domain)
    if language == DEFAULT or not path.exists():
        return gettext.NullTranslations()
    with path.open("rb") as f:
        catalogue = read_po(f, locale=language, domain=domain)
    compiled = io.BytesIO()
    write_mo(compiled, catalogue, use_fuzzy=False)
    compiled.seek(0)
    return gettext.GNUTranslations(compiled)


def _as_date(value: Any) -> date:
    if isinstance(value, datetime):
        return value.astimezone(BERLIN).date()
    return date.fromisoformat(value[:10]) if isinstance(value, str) else value


def _as_datetime(value: Any) -> datetime:
    return (datetime.fromisoformat(value) if isinstance(value, str) else value).astimezone(BERLIN)


def format_date(value: Any, language: str, form: str = "full") -> str:
    """A date with month name and year in the language's own form (Babel, CLDR `form`): 'full' with the
    weekday for appointments and deadlines, e.g. "Montag, 7. Dezember 2026", "luni, 7 decembrie 2026",
    "الاثنين، 7 ديسمبر 2026"; 'long' without it, e.g. for a date of birth."""
    return _babel_date(_as_date(value), form, locale=BABEL_LOCALE.get(language, "de_DE"))


def format_time(value: Any, language: str) -> str:
    """A clock time in Hamm's time zone (Europe/Berlin) in the language's own form."""
    return _babel_time(_as_datetime(value), "short", tzinfo=BERLIN, locale=BABEL_LOCALE.get(language, "de_DE"))
