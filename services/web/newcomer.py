"""What the newcomer takes home, in their language (issue 14): the summary of the intake interview (issue 7)
and the invitation to the ABRA clearing appointment (000 "Projekt ABRA": BG/RO newcomers first have the
clearing interview, then register; §17 BMG: registration within two weeks of moving in). One text model
serves the HTML print views and the PDFs, so both say the same.

The texts are message ids (German, A2-level, short sentences) marked with `_()`; their translations are
the gettext catalogues in `locale/<lang>/LC_MESSAGES/newcomer.po` (services/kit/i18n.py compiles them).
Names, addresses and the appointment's place stay as recorded; dates and times are written the
language's way (Babel). In right-to-left languages every recorded value is wrapped in Unicode isolates
(FSI … PDI) so that a Latin name or a date does not reorder the sentence around it."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path
from typing import Any

from services.kit import i18n

LOCALE_DIR = Path(__file__).resolve().parent / "locale"
DOMAIN = "newcomer"
OFFICE = "Amt für Soziale Integration, Stadt Hamm"  # the office's name, as on its door
FSI, PDI = "\u2068", "\u2069"


def gettext(language: str) -> Callable[[str], str]:
    return i18n.translations(LOCALE_DIR, DOMAIN, language).gettext


@dataclass
class Lang:
    """The chosen language with its gettext and formatting of recorded values."""

    code: str
    _: Callable[[str], str] = field(repr=False)

    @classmethod
    def of(cls, code: str | None) -> Lang:
        code = i18n.language_or_default(code)
        return cls(code, gettext(code))

    @property
    def dir(self) -> str:
        return i18n.direction(self.code)

    @property
    def rtl(self) -> bool:
        return self.dir == "rtl"

    def keep(self, value: Any) -> str:
        """A recorded value (name, place, number) as it is, isolated in a right-to-left sentence."""
        text = str(value)
        return f"{FSI}{text}{PDI}" if self.rtl and text else text

    def date(self, value: Any, form: str = "full") -> str:
        return self.keep(i18n.format_date(value, self.code, form))

    def time(self, value: Any) -> str:
        return self.keep(i18n.format_time(value, self.code))


def name_of(person: dict[str, Any]) -> str:
    return f"{person.get('given_name') or ''} {person.get('family_name') or ''}".strip()


def address_of(intake: dict[str, Any]) -> str:
    a = intake.get("address") or {}
    street = f"{a.get('street') or ''} {a.get('house_number') or ''}".strip()
    town = f"{a.get('postcode') or ''} {a.get('city') or ''}".strip()
    return ", ".join(part for part in (street, town) if part)


def next_steps(person: dict[str, Any], lang: Lang) -> list[str]:
    """What happens next for one person, from intake's registration status (ABRA gate) and the routes."""
    _ = lang._
    reg = person.get("registration") or {}
    routes = person.get("routes") or []
    deadline = reg.get("registration_deadline")
    status = reg.get("clearing_status")
    steps: list[str] = []
    if status == "pending" and reg.get("appointment_at"):
        at = reg["appointment_at"]
        steps.append(" ".join((_("Ihr Termin bei ABRA (Gespräch vor der Anmeldung): %(date)s, %(time)s Uhr.") % {"date": lang.date(at), "time": lang.time(at)},
                               _("Bitte bringen Sie Ihren Ausweis oder Reisepass mit."))))
        if deadline:
            steps.append(_("Nach dem Gespräch melden Sie Ihren Wohnsitz im Bürgeramt an, spätestens bis %(date)s.") % {"date": lang.date(deadline)})
    elif status == "pending":
        steps.append(_("Ihr Termin bei ABRA (Gespräch vor der Anmeldung) wird gerade vereinbart. ABRA meldet sich bei Ihnen."))
        if deadline:
            steps.append(_("Nach dem Gespräch melden Sie Ihren Wohnsitz im Bürgeramt an, spätestens bis %(date)s.") % {"date": lang.date(deadline)})
    elif status == "not_appeared":
        steps.append(_("Bitte vereinbaren Sie einen neuen Termin bei ABRA. Erst nach dem Gespräch ist die Anmeldung möglich."))
        if deadline:
            steps.append(_("Die Frist für die Anmeldung endet am %(date)s.") % {"date": lang.date(deadline)})
    elif reg.get("allowed"):
        steps.append(_("Sie können Ihren Wohnsitz jetzt im Bürgeramt anmelden."))
    if "casework" in routes:
        steps.append(_("Eine Mitarbeiterin oder ein Mitarbeiter vom Sozialen Fallmanagement meldet sich in den nächsten Tagen bei Ihnen."))
    child = lang.keep(person.get("given_name")) if person.get("given_name") else _("Ihr Kind")
    if "daycare" in routes:
        steps.append(_("Für %(name)s wird ein Kita-Platz gesucht.") % {"name": child})
    if "school_side_entry" in routes:
        steps.append(_("Für %(name)s gibt es eine Beratung zum Schulbesuch (Seiteneinstieg).") % {"name": child})
    if "return_counselling" in routes:
        steps.append(_("Auf Wunsch bekommen Sie eine Rückkehrberatung."))
    if "youth_welfare" in routes:
        steps.append(_("Das Jugendamt ist für %(name)s zuständig und meldet sich bei Ihnen.") % {"name": child})
    return steps or [_("Sie bekommen Information und Beratung im Bürgeramt.")]


@dataclass
class PersonSteps:
    name: str
    steps: list[str]


@dataclass
class Summary:
    lang: str
    dir: str
    title: str
    printed: str
    household_heading: str
    members: list[str]
    address: str | None
    appointment_heading: str
    appointment: list[str]
    steps_heading: str
    persons: list[PersonSteps]
    contact_heading: str
    contact: list[str]
    keep_note: str


def summary(view: dict[str, Any], language: str | None, printed_on: date) -> Summary:
    """The summary of the intake interview (issue 7) in the chosen language."""
    lang = Lang.of(language)
    _ = lang._
    intake = view["intake"]
    persons = [p for p in view["persons"] if p.get("given_name") or p.get("family_name")]
    members = [
        _("%(name)s, geboren am %(date)s") % {"name": lang.keep(name_of(p)), "date": lang.date(p["date_of_birth"], "long")} if p.get("date_of_birth")
        else lang.keep(name_of(p))
        for p in persons
    ]
    address = address_of(intake)
    if view.get("appointment"):
        at = view["appointment"]
        appointment = [_("Ihr Termin bei ABRA (Gespräch vor der Anmeldung): %(date)s, %(time)s Uhr.") % {"date": lang.date(at), "time": lang.time(at)},
                       _("Bitte bringen Sie Ihren Ausweis oder Reisepass mit."),
                       _("Nach dem Gespräch können Sie Ihren Wohnsitz im Bürgeramt anmelden.")]
    elif view.get("clearing"):
        appointment = [_("Ihr Termin bei ABRA (Gespräch vor der Anmeldung) wird gerade vereinbart. ABRA meldet sich bei Ihnen.")]
    elif view.get("casework"):
        appointment = [_("Eine Mitarbeiterin oder ein Mitarbeiter vom Sozialen Fallmanagement meldet sich in den nächsten Tagen bei Ihnen.")]
    else:
        appointment = [_("Sie bekommen Information und Beratung im Bürgeramt.")]
    return Summary(
        lang=lang.code, dir=lang.dir,
        title=_("Willkommen in Hamm – Ihre nächsten Schritte"),
        printed=_("Stand: %(date)s") % {"date": lang.date(printed_on)},
        household_heading=_("Ihr Haushalt"), members=members,
        address=_("Adresse: %(address)s") % {"address": lang.keep(address)} if address else None,
        appointment_heading=_("Ihr Termin"), appointment=appointment,
        steps_heading=_("Was als Nächstes passiert"),
        persons=[PersonSteps(lang.keep(name_of(p)), next_steps(p, lang)) for p in persons],
        contact_heading=_("Kontakt"),
        contact=[lang.keep(OFFICE), _("Bitte nennen Sie bei Fragen diese Nummer: %(number)s") % {"number": lang.keep(str(intake["intake_id"])[:8])}],
        keep_note=_("Bitte heben Sie dieses Blatt auf. Bringen Sie es zu Ihren Terminen mit."),
    )


@dataclass
class Invitation:
    """One person's invitation to the ABRA clearing appointment."""

    greeting: str
    date: str
    time: str
    place: str
    deadline: str | None
    reminder: str | None = None


@dataclass
class Letter:
    lang: str
    dir: str
    title: str
    printed: str
    intro: list[str]
    appointment_heading: str
    date_label: str
    time_label: str
    place_label: str
    bring_heading: str
    bring: list[str]
    notes: list[str]
    closing: str
    invitations: list[Invitation]


def letter(view: dict[str, Any], place: str, language: str | None, printed_on: date, reminders: frozenset[str] = frozenset()) -> Letter:
    """The invitation to the ABRA clearing appointment, one per person with a booked appointment
    (000 "Projekt ABRA"): date, time, place (as recorded), what to bring, the registration deadline.
    `reminders`: person ids with consent to a reminder by e-mail (the letter says one will come)."""
    lang = Lang.of(language)
    _ = lang._
    invitations = []
    for p in view["persons"]:
        reg = p.get("registration") or {}
        if reg.get("clearing_status") != "pending" or not reg.get("appointment_at"):
            continue
        at, deadline = reg["appointment_at"], reg.get("registration_deadline")
        invitations.append(Invitation(
            greeting=_("Guten Tag %(name)s,") % {"name": lang.keep(name_of(p))},
            date=lang.date(at), time=_("%(time)s Uhr") % {"time": lang.time(at)}, place=lang.keep(place),
            deadline=(_("Nach dem Gespräch melden Sie Ihren Wohnsitz im Bürgeramt an, spätestens bis %(date)s.") % {"date": lang.date(deadline)}
                      if deadline else None),
            reminder=_("Am Werktag vor dem Termin bekommen Sie eine Erinnerung per E-Mail.") if p.get("person_id") in reminders else None,
        ))
    return Letter(
        lang=lang.code, dir=lang.dir,
        title=_("Einladung zum Gespräch bei ABRA"),
        printed=_("Stand: %(date)s") % {"date": lang.date(printed_on)},
        intro=[_("Willkommen in Hamm!"),
               _("Bevor Sie Ihren Wohnsitz anmelden, haben Sie ein Gespräch bei ABRA. ABRA ist eine Beratungsstelle in Hamm. Das Gespräch ist kostenlos.")],
        appointment_heading=_("Ihr Termin"), date_label=_("Datum"), time_label=_("Uhrzeit"), place_label=_("Ort"),
        bring_heading=_("Bitte bringen Sie mit:"),
        bring=[_("Ihren Ausweis oder Reisepass"), _("Ihren Mietvertrag oder die Wohnungsgeberbestätigung, wenn Sie sie haben"), _("dieses Schreiben")],
        notes=[_("Bitte kommen Sie pünktlich. Können Sie nicht kommen? Bitte sagen Sie ABRA vorher Bescheid.")],
        closing=_("Mit freundlichen Grüßen"),
        invitations=invitations,
    )
