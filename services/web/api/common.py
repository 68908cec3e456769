"""Shared pieces of the role screens: German labels of the services' vocabularies, date formatting
in Europe/Berlin, and the translation of the APIs' 422 answers into German messages at form fields."""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field
from datetime import date, datetime
from typing import Any

from services.contracts.workdays import BERLIN
from services.web.api.routes import TEMPLATES, Denied, Gone
from services.web.backend import Answer

SEX = {"female": "weiblich", "male": "männlich", "diverse": "divers", "unspecified": "keine Angabe"}
RELATION = {"head": "Haushaltsvorstand", "partner": "Partner/in", "child": "Kind", "relative": "Verwandte/r", "other": "andere Person"}
GERMAN_LEVEL = {"none": "keine", "A1": "A1", "A2": "A2", "B1": "B1", "B2": "B2", "C1": "C1", "C2": "C2"}
CERTIFICATE = {
    "none": "kein Abschluss", "primary": "Grundschule", "lower_secondary": "Hauptschule oder vergleichbar",
    "secondary": "mittlerer Abschluss", "university_entrance": "Hochschulreife", "university_degree": "Hochschulabschluss",
}
HEALTH_INSURANCE = {
    "statutory": "gesetzlich", "private": "privat", "eu_card": "Europäische Krankenversicherungskarte",
    "asylum_seekers_benefits": "nach AsylbLG", "none": "keine", "unknown": "unbekannt",
}
RESIDENCE = {
    "eu_free_movement": "EU-Freizügigkeit", "asylum_seeker": "Aufenthaltsgestattung (Asylverfahren)",
    "recognised_refugee": "anerkannter Flüchtling / subsidiärer Schutz", "tolerated": "Duldung",
    "enforceably_obliged_to_leave": "vollziehbar ausreisepflichtig", "third_country_with_title": "Drittstaat mit Aufenthaltstitel",
    "german": "deutsche Staatsangehörigkeit",
}
ROUTES = {
    "abra_clearing": "ABRA-Clearing vor der Anmeldung", "casework": "Soziales Fallmanagement",
    "return_counselling": "Rückkehrberatung", "information": "Information und Weitervermittlung",
    "daycare": "Kita-Platz", "school_side_entry": "Schule (Seiteneinstieg)",
    "youth_welfare": "Jugendamt (Inobhutnahme unbegleiteter Minderjähriger)",
}
YES_NO = {"ja": "ja", "nein": "nein"}
#: consents offered in the interview: (partner, purpose) -> German label
CONSENTS = {
    "social_casework:counselling": "Soziales Fallmanagement – Beratung",
    "abra:counselling": "ABRA – Beratung",
    "integration_point:referral": "Integration Point – Überleitung",
    "job_centre:referral": "Jobcenter – Überleitung",
    "employment_agency:referral": "Agentur für Arbeit – Überleitung",
    "language_course:referral": "Sprachkursträger – Überleitung",
    "daycare:referral": "Kita – Überleitung",
    "school_side_entry:referral": "Schule (Seiteneinstieg) – Überleitung",
    "health:referral": "Gesundheitsamt – Überleitung",
    "migration_counselling:counselling": "Migrationsberatung – Beratung",
}
NEEDS = {"work": "Arbeit", "housing": "Wohnen", "health_insurance": "Krankenversicherung", "schooling": "Schulbesuch der Kinder"}
CLEARING_STATUS = {"pending": "offen", "cleared": "abgeschlossen", "not_appeared": "nicht erschienen", "cancelled": "storniert"}


def de_date(value: Any) -> str:
    if not value:
        return "–"
    if isinstance(value, str):
        try:
            value = date.fromisoformat(value[:10])
        except ValueError:
            return value
    return value.strftime("%d.%m.%Y")


def de_datetime(value: Any) -> str:
    if not value:
        return "–"
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.astimezone(BERLIN).strftime("%d.%m.%Y, %H:%M Uhr")


def de_time(value: Any) -> str:
    if isinstance(value, str):
        value = datetime.fromisoformat(value)
    return value.astimezone(BERLIN).strftime("%H:%M")


TEMPLATES.env.filters["de_date"] = de_date
TEMPLATES.env.filters["de_datetime"] = de_datetime
TEMPLATES.env.filters["de_time"] = de_time


def uuid_or_gone(value: str) -> uuid.UUID:
    try:
        return uuid.UUID(value)
    except ValueError:
        raise Gone() from None


def checked(answer: Answer, *ok: int) -> Any:
    """The body of an answer with an expected status; 403 -> refused page, 404 -> not found page."""
    if answer.status == 403:
        raise Denied()
    if answer.status == 404:
        raise Gone()
    if answer.status not in (ok or (200,)):
        raise ApiRefused(answer)
    return answer.body


class ApiRefused(Exception):
    def __init__(self, answer: Answer) -> None:
        super().__init__(f"{answer.service}: {answer.status}")
        self.answer = answer


# ---- 422 answers in German --------------------------------------------------------------------------

_MESSAGES: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"field required|missing", re.I), "Bitte ausfüllen."),
    (re.compile(r"at least 1 character", re.I), "Bitte ausfüllen."),
    (re.compile(r"must not be in the future", re.I), "Das Datum darf nicht in der Zukunft liegen."),
    (re.compile(r"must be 5 digits", re.I), "Die Postleitzahl hat 5 Ziffern."),
    (re.compile(r"unknown country", re.I), "Diesen Staat gibt es nicht. Bitte aus der Liste wählen (auch „staatenlos“ oder „ungeklärt“)."),
    (re.compile(r"alpha-2", re.I), "Bitte die Staatsangehörigkeit aus der Liste wählen."),
    (re.compile(r"unknown language", re.I), "Diese Sprache gibt es nicht. Bitte aus der Liste wählen."),
    (re.compile(r"ISO 639-1", re.I), "Bitte die Sprache aus der Liste wählen."),
    (re.compile(r"not a district", re.I), "Bitte einen Sozialraum der Stadt aus der Liste wählen."),
    (re.compile(r"literate is required", re.I), "Bitte angeben, ob die Person lesen und schreiben kann (ab 6 Jahren)."),
    (re.compile(r"able_to_work is required", re.I), "Bitte angeben, ob die Person erwerbsfähig ist (15 bis 64 Jahre)."),
    (re.compile(r"wants_registration is required", re.I), "Bitte angeben, ob die Person den Wohnsitz hier anmeldet."),
    (re.compile(r"referred_to_youth_welfare is only", re.I), "Die Verweisung an das Jugendamt gilt nur für Haushalte ohne volljährige Person."),
    (re.compile(r"unaccompanied minors", re.I), "Zum Haushalt gehört keine volljährige Person. Unbegleitete Minderjährige verweisen Sie an das Jugendamt "
     "(vorläufige Inobhutnahme, § 42a SGB VIII): im Schritt „Haushalt und Adresse“ „An das Jugendamt verwiesen“ ankreuzen."),
    (re.compile(r"valid date|date_from_datetime|date_parsing|input should be a valid date", re.I), "Bitte ein gültiges Datum angeben."),
    (re.compile(r"valid integer|int_parsing", re.I), "Bitte eine ganze Zahl angeben."),
    (re.compile(r"less than or equal", re.I), "Die Zahl ist zu groß."),
    (re.compile(r"greater than or equal", re.I), "Die Zahl darf nicht negativ sein."),
    (re.compile(r"should be '|input should be", re.I), "Bitte einen Wert aus der Liste wählen."),
    (re.compile(r"not allowed", re.I), "Enthält nicht erlaubte Zeichen (z. B. < > { })."),
    (re.compile(r"move_in_date must not be before", re.I), "Das Zuzugsdatum liegt vor dem Geburtsdatum."),
    (re.compile(r"status_since must not be before", re.I), "„Status seit“ liegt vor dem Geburtsdatum."),
    (re.compile(r"status_since is required", re.I), "Bei Duldung bitte angeben, seit wann sie besteht."),
    (re.compile(r"residence_status must be german", re.I), "Bei deutscher Staatsangehörigkeit ist der Status „deutsche Staatsangehörigkeit“."),
    (re.compile(r"residence_status german requires", re.I), "Der Status „deutsche Staatsangehörigkeit“ setzt den Ländercode DE voraus."),
    (re.compile(r"given_on must not be before", re.I), "Die Einwilligung liegt vor dem Geburtsdatum."),
    (re.compile(r"at least one adult", re.I), "Zum Haushalt gehört mindestens eine volljährige Person."),
    (re.compile(r"child must be younger", re.I), "Ein Kind muss jünger sein als Haushaltsvorstand und Partner/in."),
    (re.compile(r"at least 1 item", re.I), "Bitte mindestens eine Person erfassen."),
    # reporting: measures catalogue and the providers' figures
    (re.compile(r"must be a whole number", re.I), "Bitte eine ganze Zahl angeben."),
    (re.compile(r"must not be negative", re.I), "Die Zahl darf nicht negativ sein."),
    (re.compile(r"must be at most", re.I), "Die Zahl ist zu groß."),
    (re.compile(r"does not report", re.I), "Diese Kennzahl meldet die Maßnahme nicht."),
    (re.compile(r"reports no figures", re.I), "Für diese Maßnahme sind keine Kennzahlen festgelegt."),
    (re.compile(r"has not begun", re.I), "Dieses Quartal hat noch nicht begonnen."),
    (re.compile(r"unknown (figures|KPIs)", re.I), "Bitte nur Kennzahlen aus der Liste wählen."),
    (re.compile(r"fields of action are 1\.\.18", re.I), "Handlungsfelder sind 1 bis 18."),
    (re.compile(r"a funder is a name", re.I), "Fördergeber bitte mit 1 bis 100 Zeichen angeben."),
    (re.compile(r"not one of your measures", re.I), "Diese Maßnahme gehört nicht zu Ihrem Träger."),
)


def german_message(msg: str) -> str:
    msg = re.sub(r"^the draft is incomplete: ", "", msg)
    for pattern, german in _MESSAGES:
        if pattern.search(msg):
            return german
    return f"Die Angabe ist ungültig ({msg})."


@dataclass
class FieldError:
    step: str  # haushalt | personen | person | einwilligungen | pruefen
    person: int | None
    field: str | None
    message: str


@dataclass
class Errors:
    items: list[FieldError] = field(default_factory=list)

    def at(self, step: str, person: int | None = None) -> dict[str, str]:
        return {e.field or "_": e.message for e in self.items if e.step == step and e.person == person}


def locate(loc: list[Any], msg: str, known: tuple[str, ...]) -> FieldError:
    """Maps an API error location (`["body", "household", "persons", 0, "date_of_birth"]`) to the
    interview step and form field that hold it; a model-level error names its field in the message."""
    parts = [p for p in loc if p not in ("body", "content")]
    message = german_message(msg)
    if parts[:1] != ["household"]:
        return FieldError("pruefen", None, None, message)
    rest = parts[1:]
    if not rest:
        return FieldError("personen", None, None, message)
    if rest[0] in ("district", "referred_to_youth_welfare"):
        return FieldError("haushalt", None, str(rest[0]), message)
    if rest[0] == "address":
        return FieldError("haushalt", None, str(rest[1]) if len(rest) > 1 else "street", message)
    if rest[0] == "persons":
        if len(rest) < 2 or not isinstance(rest[1], int) and not str(rest[1]).isdigit():
            return FieldError("personen", None, None, message)
        index = int(rest[1])
        name = str(rest[2]) if len(rest) > 2 else None
        if name == "consents" or (name is None and "consents" in msg):
            return FieldError("einwilligungen", index, "consents", message)
        if name is None:
            found = [(m.start(), k) for k in known if (m := re.search(rf"\b{k}\b", msg))]
            name = min(found)[1] if found else None  # the field the message names first
        return FieldError("person", index, name, message)
    return FieldError("pruefen", None, None, message)


def errors_of(body: Any, known: tuple[str, ...]) -> Errors:
    out = Errors()
    detail = body.get("detail") if isinstance(body, dict) else None
    if isinstance(detail, list):
        for d in detail:
            out.items.append(locate(list(d.get("loc", [])), str(d.get("msg", "")), known))
    else:
        out.items.append(FieldError("pruefen", None, None, german_message(str(detail or body))))
    return out
