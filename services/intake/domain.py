"""Intake's rules of the intake interview (DOMAIN.md flow 1; seed 000 §3.1, 001 "Adressaten",
"Zielgruppe"): pure functions (no I/O). Rules across fields and persons answer 422 naming the field;
the routing rules are `domain_routing.py`, the clearing and registration dates `domain_clearing.py`,
the person search's normalisation `domain_matching.py`."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta
from typing import Any

from pydantic import ValidationError

from services.contracts.workdays import BERLIN, add_working_days, closed_day_reason, closed_days_between, end_of_working_day, is_working_day
from services.intake.schemas import HouseholdIn, IntakeIn, PersonIn, Relation
from services.kit.errors import Conflict, Invalid


def age_on(born: date, day: date) -> int:
    """Age in completed years on `day` (a birthday counts from its day; DOMAIN.md flow 1 derives by age)."""
    return day.year - born.year - ((day.month, day.day) < (born.month, born.day))


UNACCOMPANIED_MINORS = (
    "a household needs at least one adult (18 or older); minors without an adult are unaccompanied minors: "
    "refer them to the youth welfare office (referred_to_youth_welfare, §42a SGB VIII)"
)


def check_household(household: HouseholdIn, today: date) -> None:
    """Rules across persons; raise Invalid naming the fields (422):

    - at least one adult per household (000 §3.1: the intake interview is held with the adults
      responsible); a household of minors only is unaccompanied minors, whom the youth welfare office
      takes into care (vorläufige Inobhutnahme unbegleiteter ausländischer Minderjähriger, §42a SGB
      VIII): such an intake is valid only as referred there (`referred_to_youth_welfare`), and only
      for minors only;
    - a child is younger than the adults responsible for it (head, partner);
    - what follows from the birth date (default, DOMAIN.md flow 1): literacy is asked from age 6
      (younger children do not read yet), the ability to work (SGB II §8) for ages 15-64 only (the
      span of employability, §7 SGB II); registering residence here has no default (it decides the
      ABRA clearing, 000 "Kommunales Voranmeldeverfahren"), so it must be answered."""
    adults = [p for p in household.persons if age_on(p.date_of_birth, today) >= 18]
    if household.referred_to_youth_welfare and adults:
        raise Invalid("referred_to_youth_welfare is only for a household of minors only (unaccompanied minors)", field="household.referred_to_youth_welfare")
    if not adults and not household.referred_to_youth_welfare:
        raise Invalid(UNACCOMPANIED_MINORS, field="household.persons")
    responsible = [p for p in household.persons if p.relation in (Relation.HEAD, Relation.PARTNER)]
    for i, p in enumerate(household.persons):
        if p.relation == Relation.CHILD and any(p.date_of_birth <= r.date_of_birth for r in responsible):
            raise Invalid("a child must be younger than the adults responsible (head, partner)", field=f"household.persons.{i}.date_of_birth")
    errors = person_answers_missing(household.persons, today)
    if errors:
        raise Invalid(errors[0][1], field=errors[0][0], errors=errors)


def person_answers_missing(persons: list[PersonIn], today: date) -> list[tuple[str, str]]:
    """The questions each person must have answered, by age (see check_household): (field, message)."""
    out: list[tuple[str, str]] = []
    for i, p in enumerate(persons):
        age = age_on(p.date_of_birth, today)
        if age >= 6 and p.literate is None:
            out.append((f"household.persons.{i}.literate", "literate is required from age 6"))
        if 15 <= age <= 64 and p.able_to_work is None:
            out.append((f"household.persons.{i}.able_to_work", "able_to_work is required for persons aged 15 to 64"))
        if p.wants_registration is None:
            out.append((f"household.persons.{i}.wants_registration", "wants_registration is required"))
    return out


#: error types a draft may have: what is not there yet (validated again on completion)
_INCOMPLETE = frozenset({"missing"})
#: what a person needs to be added to a draft: who it is (DOMAIN.md flow 1, default)
DRAFT_PERSON_REQUIRED = ("given_name", "family_name", "date_of_birth")


def draft_problems(content: dict) -> list[tuple[list[Any], str, str]]:
    """What is wrong in an unfinished intake (a draft): every value that is present and invalid (a
    postcode "59A", a district not of the city, "zwölf" years of schooling, an unknown country), and a
    person without a name or birth date. What is merely missing is allowed until completion (an empty
    household, an address without a street), as are rules across fields and persons. Returns
    (loc, msg, type) in FastAPI's shape, `loc` starting at "content"."""
    out: list[tuple[list[Any], str, str]] = []
    household = content.get("household") if isinstance(content, dict) else None
    if household is None:
        return out
    try:
        IntakeIn.model_validate(content)
    except ValidationError as exc:
        for e in exc.errors(include_input=False, include_url=False):
            loc = list(e["loc"])
            if e["type"] in _INCOMPLETE or (loc == ["household", "persons"] and e["type"] == "too_short"):
                continue
            if e["type"] == "value_error" and len(loc) <= 3 and loc[:2] == ["household", "persons"]:
                continue  # a rule across a person's fields (model validator): checked on completion
            out.append((["content", *loc], e["msg"], e["type"]))
    persons = household.get("persons") if isinstance(household, dict) else None
    for i, p in enumerate(persons if isinstance(persons, list) else []):
        for name in DRAFT_PERSON_REQUIRED:
            if isinstance(p, dict) and p.get(name) in (None, ""):
                out.append((["content", "household", "persons", i, name], "Field required", "missing"))
    return out


#: fields of a person whose change changes the person's statistics record (ArrivalRecorded, 002 §4.1)
STATISTICS_FIELDS = frozenset({"nationality", "residence_status", "sex", "date_of_birth", "move_in_date"})
#: fields of a person the search index holds terms of (domain_matching.index_terms)
SEARCH_FIELDS = frozenset({"given_name", "family_name", "date_of_birth"})


def changed_fields(old: dict[str, Any], new: dict[str, Any]) -> set[str]:
    """The names of the sealed fields a correction changes (IntakeCorrected names them, never their values)."""
    return {k for k in set(old) | set(new) if old.get(k) != new.get(k)}


def statistics_changed(diff: set[str], district_changed: bool) -> bool:
    """A correction retracts the person's statistics record and records a new one when a field the record
    holds changed (002 §4.1: unlinkable arrival records with month, district, nationality, status, sex, age group)."""
    return bool(diff & STATISTICS_FIELDS) or district_changed


def check_person_ids(person_ids: list[Any], known: set[Any]) -> None:
    """A correction names stored persons of the intake only, each once (None adds a person); 422 otherwise."""
    for i, pid in enumerate(person_ids):
        if pid is not None and pid not in known:
            raise Invalid("unknown person_id for this intake", field=f"household.persons.{i}.person_id")
    named = [p for p in person_ids if p is not None]
    if len(set(named)) != len(named):
        raise Invalid("a person_id appears twice", field="household.persons")


def draft_display(content: dict[str, Any]) -> tuple[int, str | None, list[str]]:
    """(person count, district, names) of a draft's content for the front desk's list (DOMAIN.md flow 1,
    drafts); the content is whatever the form held, so every part may be missing or malformed."""
    household = content.get("household") if isinstance(content.get("household"), dict) else {}
    people = [p for p in household.get("persons") or [] if isinstance(p, dict)] if isinstance(household.get("persons"), list) else []
    names = [" ".join(str(p.get(k) or "").strip() for k in ("given_name", "family_name")).strip() for p in people]
    district = household.get("district")
    return len(people), district if isinstance(district, str) and district else None, [n for n in names if n]


# ---- newcomer communication: letter language and reminders by e-mail (issue 14) --------------------

#: letter languages offered to newcomers (services/kit/i18n.py LANGUAGES; German is the source text)
LETTER_LANGUAGES = ("de", "ro", "bg", "ar", "fa", "uk", "en")
DEFAULT_LETTER_LANGUAGE = "de"

def reminder_due_at(appointment_at: datetime, hour: int) -> datetime:
    """When the reminder of a clearing appointment is sent: at `hour` o'clock (Berlin) on the working
    day (NRW) before the appointment's day (issue 14; default, settings INTAKE_REMINDER_HOUR)."""
    day = appointment_at.astimezone(BERLIN).date() - timedelta(days=1)
    while not is_working_day(day):
        day -= timedelta(days=1)
    return datetime.combine(day, time(hour), tzinfo=BERLIN)


def reminder_to_send(*, consent: bool, has_address: bool, clearing_status: str, appointment_at: datetime | None,
                     already_sent: bool, now: datetime, hour: int) -> bool:
    """A reminder goes out once per appointment, only with consent and an address, for a clearing still
    pending, from the due time until the appointment begins (late, e.g. booked the day before, is still
    useful; after the appointment it is not). Issue 14."""
    if not (consent and has_address) or already_sent or clearing_status != "pending" or appointment_at is None:
        return False
    return reminder_due_at(appointment_at, hour) <= now < appointment_at

# ---- registration of residence (§17 BMG) and the ABRA clearing's dates ------------------------------


def registration_deadline(move_in: date, days: int) -> date:
    """Registration of residence is due within two weeks of moving in (§17 Abs. 1 BMG; DOMAIN.md flow 2;
    default, setting INTAKE_REGISTRATION_DEADLINE_DAYS = 14)."""
    return move_in + timedelta(days=days)


def clearing_reminder_day(move_in: date, days: int) -> date:
    """The ABRA team is reminded on day 10 after moving in if not cleared (DOMAIN.md flow 2; default,
    setting INTAKE_CLEARING_REMINDER_DAYS)."""
    return move_in + timedelta(days=days)


def registration_missed(deadline: date, registered_on: date | None, today: date) -> bool:
    """The registration deadline counts as missed from the start of the deadline day (DOMAIN.md flow 2:
    "at day 14 the registration deadline is marked missed"; the clearing workflow marks it at 00:00 of
    move-in + 14 days), unless the person was registered before it: a person registered before day 14
    is never marked missed, one registered later stays marked (the registration was late)."""
    if registered_on is not None and registered_on < deadline:
        return False
    return today >= deadline


def may_register(clearing_status: str | None) -> bool:
    """The Bürgeramt registers a newcomer from Bulgaria or Romania only after the ABRA clearing (000
    "Projekt ABRA", "Kommunales Voranmeldeverfahren"): no clearing, a completed (cleared) or a cancelled
    one (the route was corrected away) lets registration proceed; a pending or not-appeared one blocks it."""
    return clearing_status in (None, "cleared", "cancelled")



def check_registration(registered_on: date, move_in: date | None, clearing_status: str | None, cleared_on: date | None) -> None:
    """Raises Invalid (422, field registered_on) or Conflict (409) unless a registration on
    `registered_on` (not in the future: RegistrationIn) can be recorded: not before moving in (§17 BMG:
    registration follows moving in), and for a clearing person only once the clearing completed, on or
    after its day (`may_register`; 000 "Projekt ABRA")."""
    if move_in is not None and registered_on < move_in:
        raise Invalid(f"must not be before the move-in date {move_in.isoformat()}", field="registered_on")
    if not may_register(clearing_status):
        raise Conflict("registration waits for the ABRA clearing (not completed)", field="registered_on")
    if cleared_on is not None and registered_on < cleared_on:
        raise Invalid(f"must not be before the ABRA clearing completed on {cleared_on.isoformat()}", field="registered_on")


# ---- the ABRA clearing (DOMAIN.md flow 2; 000 "Projekt ABRA") -------------------------------------

#: a clearing's status while it waits for its interview (then cleared, not_appeared or cancelled)
CLEARING_PENDING = "pending"


def closed_slot_problems(starts: list[datetime]) -> list[tuple[str, str]]:
    """Clearing slots are published on working days only (DOMAIN.md flow 2: appointments within N working
    days, NRW): (field, reason) for each slot on a weekend or an NRW public holiday (`closed_day_reason`)."""
    return [(f"slots.{i}.starts_at", reason) for i, at in enumerate(starts) if (reason := closed_day_reason(at.astimezone(BERLIN).date()))]


def booking_window(not_before: datetime, working_days: int) -> tuple[datetime, list[date]]:
    """The end of the booking window (end of the N-th working day after `not_before`, NRW; DOMAIN.md flow
    2: "an appointment within N working days") and the closed days within it, where no slot is booked
    (slots published before slots were checked)."""
    first = not_before.astimezone(BERLIN).date()
    last_day = add_working_days(first, working_days)
    return end_of_working_day(last_day), closed_days_between(first, last_day)


def gives_back_slot(outcome: str, appointment_at: datetime | None, at: datetime) -> bool:
    """A cancelled clearing frees its booked place when the appointment is still ahead (DOMAIN.md flow 2;
    default we chose: a no-show's place is used up)."""
    return outcome == "cancelled" and appointment_at is not None and appointment_at > at


def reminder_alert_key(clearing_id: uuid.UUID, dates_correction_no: int | None, deadline: date) -> str:
    """The day-10 reminder is raised once per clearing and deadline (DOMAIN.md flow 2): a corrected
    move-in date reminds again, naming the new deadline."""
    first = f"clearing-reminder-day10-{clearing_id}"
    return first if dates_correction_no is None else f"{first}-{deadline.isoformat()}"


# ---- the registration gate (000 "Projekt ABRA"; §17 BMG) ------------------------------------------


@dataclass(frozen=True)
class GateAnswer:
    allowed: bool
    reason: str  # for the front desk (German)
    deadline_missed: bool


def _at(at: datetime) -> str:
    return at.astimezone(BERLIN).strftime("%d.%m.%Y %H:%M")


def _day(day: date) -> str:
    return day.strftime("%d.%m.%Y")


def registration_gate(
    *, clearing_status: str | None, appointment_at: datetime | None, marked_missed: bool, deadline: date | None, registered_on: date | None, today: date
) -> GateAnswer:
    """May registration of residence proceed now, and if not, why and until when (000 "Projekt ABRA": BG/RO
    only after the clearing, `may_register`; §17 BMG deadline). `clearing_status` None: no clearing;
    `marked_missed`: the clearing's workflow marked the deadline missed. A registration the front desk
    recorded is shown with its date; the deadline counts as missed only without a registration before it
    (`registration_missed`), or as the clearing marked it while nothing is registered."""
    missed = deadline is not None and registration_missed(deadline, registered_on, today)
    missed = bool(missed or (marked_missed and registered_on is None))
    late = " (nach Ablauf der Anmeldefrist)" if missed else ""
    frist = f" Anmeldefrist {_day(deadline)}{' (Frist versäumt)' if missed else ''}." if deadline else ""
    allowed = registered_on is not None or may_register(clearing_status)
    if registered_on is not None:
        reason = f"Anmeldung erfolgt am {_day(registered_on)}{late}."
    elif clearing_status is None or clearing_status == "cancelled":
        reason = f"Anmeldung möglich: keine Voranmeldung (ABRA-Clearing) erforderlich.{frist}"
    elif clearing_status == "cleared":
        reason = f"Anmeldung möglich: ABRA-Clearing abgeschlossen.{frist}"
    elif clearing_status == "not_appeared":
        reason = (
            "Keine Anmeldung: ABRA-Clearing geschlossen, Termine nicht wahrgenommen. Bitte neuen Clearing-Termin bei ABRA vereinbaren "
            f"(Anmeldefrist {_day(deadline) if deadline else ''})."
        )
    else:
        appointment = f"Termin {_at(appointment_at)}" if appointment_at else "Termin wird vergeben"
        flag = " (Frist versäumt)" if missed else ""
        reason = f"Keine Anmeldung: ABRA-Clearing ausstehend, {appointment}, Anmeldefrist {_day(deadline) if deadline else ''}{flag}."
    return GateAnswer(allowed=allowed, reason=reason, deadline_missed=missed)
