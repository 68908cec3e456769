"""Code lists shared by intake (which validates against them) and the web app (which offers them as
lists with German names): nationalities, languages and the city's districts (Sozialräume). One place,
so that the front desk can only pick what intake accepts and routing never depends on a typo.

Nationality (`nationality`, 2 or 3 capital letters):

- a country: its ISO 3166-1 alpha-2 code (pycountry's ISO 3166-1 table), e.g. BG, RO, SY;
- XK, Kosovo: ISO 3166-1 has not assigned Kosovo a code; XK is the user-assigned code the European
  Commission, Germany's Federal Foreign Office and the ICAO use for it (and intake's list of safe
  countries of origin names it, AsylG §29a Annex II);
- XXA, stateless (staatenlos), and XXX, unclear or unspecified nationality (ungeklärt): the codes of
  ICAO Doc 9303 (Machine Readable Travel Documents, part 3, section 5), which German travel documents
  for stateless persons carry. They have three letters, so they cannot be mistaken for a country, and
  the statistics count them apart, as Destatis' register statistics do ("staatenlos", "ungeklärt").

Languages: ISO 639-1 (two lower-case letters), from pycountry's ISO 639 table (entries with an
alpha-2 code). German names come from pycountry's gettext catalogues (`iso3166-1` and `iso639-3` in
`pycountry.LOCALES_DIR`, language `de`)."""

from __future__ import annotations

import gettext
import unicodedata
from functools import cache

import pycountry

STATELESS = "XXA"
UNCLEAR_NATIONALITY = "XXX"
KOSOVO = "XK"
#: nationality codes that are not ISO 3166-1 countries (see the module docstring)
SPECIAL_NATIONALITIES: dict[str, str] = {STATELESS: "staatenlos", UNCLEAR_NATIONALITY: "ungeklärt / ohne Angabe"}

#: Hamm's districts (Sozialräume) as the integration concept names them (seed 000: "Sozialraum
#: Stadt/Mitte", "Sozialräume Hamm-Westen und Hamm-Norden", "in den Sozialräumen Mitte, Norden, Westen
#: und Heessen", Bockum-Hövel, Uentrop ("Hammer Osten"), and the city's districts Herringen, Pelkum and
#: Rhynern), the ones the caseworker register (services/casework/data/caseworkers.json) and the demo
#: accounts (deploy/seed_users.json) serve. Intake accepts only these; casework assigns by them.
DISTRICTS: tuple[str, ...] = ("Bockum-Hövel", "Heessen", "Herringen", "Mitte", "Norden", "Pelkum", "Rhynern", "Uentrop", "Westen")


def _sort_key(name: str) -> str:
    return unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode().casefold()


@cache
def _german(domain: str) -> gettext.NullTranslations:
    return gettext.translation(domain, pycountry.LOCALES_DIR, languages=["de"], fallback=True)


@cache
def countries_de() -> dict[str, str]:
    """ISO 3166-1 alpha-2 code -> German name (plus Kosovo), sorted by the German name."""
    de = _german("iso3166-1")
    names = {c.alpha_2: de.gettext(c.name) for c in pycountry.countries}
    names[KOSOVO] = "Kosovo"
    return dict(sorted(names.items(), key=lambda kv: _sort_key(kv[1])))


@cache
def nationalities_de() -> dict[str, str]:
    """Every accepted nationality code -> German name: the countries, then stateless and unclear."""
    return {**countries_de(), **SPECIAL_NATIONALITIES}


@cache
def languages_de() -> dict[str, str]:
    """ISO 639-1 code -> German name, sorted by the German name."""
    de = _german("iso639-3")
    names = {lang.alpha_2: de.gettext(lang.name) for lang in pycountry.languages if hasattr(lang, "alpha_2")}
    return dict(sorted(names.items(), key=lambda kv: _sort_key(kv[1])))


def is_nationality(code: str) -> bool:
    return code in nationalities_de()


def is_language(code: str) -> bool:
    return code in languages_de()


def is_district(name: str) -> bool:
    return name in DISTRICTS
