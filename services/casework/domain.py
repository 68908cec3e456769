"""Cases of Soziales Fallmanagement and ABRA coaching (seed 001, four phases; DOMAIN.md flows 3 and 4).
Pure rules, no I/O. The rules a workflow also applies live in services.contracts.casework_workflows
next to their data and are re-exported here (first_contact_error, referral_step_input_error, ...)."""

from __future__ import annotations

import enum
import uuid
from dataclasses import dataclass
from datetime import date, timedelta
from typing import Any

from services.contracts.casework_workflows import (
    GOAL_RESULTS,
    PartnerProcess,
    first_contact_error,
    referral_step_input_error,
)
from services.contracts.vocab import FieldOfAction, Partner, Purpose
from services.kit.errors import Conflict, Invalid

__all__ = ["first_contact_error", "referral_step_input_error"]  # the contracts' rules, re-exported

PROGRAMME_SOCIAL_CASEWORK = "Soziales Fallmanagement"
PROGRAMME_ABRA = "ABRA"
_CASE_NAMESPACE = uuid.UUID("6f0c5c1e-4b7a-4c1e-9a57-2d0f7f1c3a01")


class Phase(enum.StrEnum):
    """The four phases of seed 001 plus closed; wire values as in CasePhaseChanged."""

    ENTRY = "entry"
    PLANNING = "planning"
    INTEGRATION = "integration"
    REVIEW = "implementation_review"
    CLOSED = "closed"


#: Seed 001: Einstieg -> Integrationsplanung -> Integration in die Regelsysteme -> Umsetzung und
#: Überprüfung; a review may send the case back to integration work; every open phase may close.
TRANSITIONS: dict[Phase, frozenset[Phase]] = {
    Phase.ENTRY: frozenset({Phase.PLANNING, Phase.CLOSED}),
    Phase.PLANNING: frozenset({Phase.INTEGRATION, Phase.CLOSED}),
    Phase.INTEGRATION: frozenset({Phase.REVIEW, Phase.CLOSED}),
    Phase.REVIEW: frozenset({Phase.INTEGRATION, Phase.CLOSED}),
    Phase.CLOSED: frozenset(),
}


def transition(current: Phase, target: Phase) -> Phase:
    """The phase after moving from `current` to `target`; refuses moves the table does not allow."""
    if target not in TRANSITIONS[current]:
        raise Conflict(f"a case in phase {current} cannot move to {target}", field="phase")
    return target


def advance_to(current: Phase, target: Phase) -> Phase | None:
    """The next phase when an event implies it (first contact -> planning, plan agreed -> integration,
    a review -> implementation and review), if the table allows that move from `current`; None when
    the case is already there or beyond, or the move would skip a phase."""
    order = [Phase.ENTRY, Phase.PLANNING, Phase.INTEGRATION, Phase.REVIEW]
    if target not in TRANSITIONS[current] or target not in order or order.index(current) >= order.index(target):
        return None
    return target


class CloseReason(enum.StrEnum):
    GOALS_ACHIEVED = "goals_achieved"  # goals achieved / client independent
    MOVED_AWAY = "moved_away"
    NO_LONGER_ELIGIBLE = "no_longer_eligible"
    NO_CONTACT = "no_contact"


class Responsible(enum.StrEnum):
    CLIENT = "client"
    CASEWORKER = "caseworker"
    PARTNER = "partner"


class GoalStatus(enum.StrEnum):
    OPEN = "open"
    ACHIEVED = "achieved"
    PARTLY = "partly"
    NOT_ACHIEVED = "not_achieved"
    DROPPED = "dropped"


def case_id_for_intake(intake_id: uuid.UUID) -> uuid.UUID:
    """The case an intake opens has an id derived from the intake id, so a redelivered event finds
    the same case and the same workflows (still a pseudonym: both are random UUIDs)."""
    return uuid.uuid5(_CASE_NAMESPACE, str(intake_id))


def case_id_for_clearing(clearing_id: uuid.UUID) -> uuid.UUID:
    """ABRA coaching opened from a clearing: one case per clearing, whichever clearing event arrives first."""
    return uuid.uuid5(_CASE_NAMESPACE, f"clearing:{clearing_id}")


# --- caseworker assignment (001 "feste Zuständigkeit nach Sozialraum"; 000 caseload 1:190) ----------


@dataclass(frozen=True)
class CaseworkerSlot:
    username: str
    districts: tuple[str, ...]
    languages: tuple[str, ...]
    caseload: int
    cap: int
    available: bool


def effective_cap(fte: float, cap_per_fte: int, explicit: int | None) -> int:
    """Caseload cap: an explicit cap set by the team lead, otherwise `cap_per_fte` (default 190, 000) x FTE."""
    return explicit if explicit is not None else int(round(cap_per_fte * fte))


def assignment_candidates(slots: list[CaseworkerSlot], district: str, languages: set[str]) -> list[str]:
    """Caseworkers of the district with room, best first: a shared language with the household
    first, then the lowest relative caseload, then the name (stable)."""
    fitting = [s for s in slots if s.available and district in s.districts and s.caseload < s.cap]
    return [
        s.username
        for s in sorted(fitting, key=lambda s: (not (languages & set(s.languages)), s.caseload / max(s.cap, 1), s.username))
    ]


# --- consent (SGB X §67b: purpose-bound, per partner) -------------------------------------------------

#: The Integration Point is the joint desk of employment agency, job centre and city (000): a referral
#: of an employable adult to any of them is a referral to the Integration Point's advisors.
INTEGRATION_POINT_PARTNERS = frozenset({Partner.INTEGRATION_POINT, Partner.EMPLOYMENT_AGENCY, Partner.JOB_CENTRE})


#: Who answers a referral to which partner on the partner screen: a `referral_partner` account for the
#: partner in its `partner` claim (deploy/seed_users.json); ABRA's coaches, who already sign in, for ABRA
#: (default; the recorder per partner is services.contracts.casework_workflows.PARTNER_PROCESSES).
ABRA_ROLES = frozenset({"abra_coach", "abra_lead"})


def partner_scope(roles: frozenset[str], partner_claim: str | None) -> Partner | None:
    """The partner whose referrals the caller answers on the partner screen (None: none)."""
    if "referral_partner" in roles and partner_claim:
        try:
            return Partner(partner_claim)
        except ValueError:
            return None
    if roles & ABRA_ROLES:
        return Partner.ABRA
    return None


def consent_missing_reason(partner: Partner, purpose: Purpose) -> str:
    return (
        f"Keine dokumentierte Einwilligung für {partner.value} zum Zweck {purpose.value}: "
        "ohne Einwilligung der Person ist keine Vermittlung möglich."
    )


def contact_date_error(contact_on: date, today: date) -> str | None:
    """A further contact with the client (visit, office, phone) for the timeline (002 §4.1 Laufzettel)
    cannot be in the future; this record keeps the day of tolerance it always had (tomorrow is
    accepted), unlike the first contact (first_contact_error)."""
    return "a contact cannot be in the future" if contact_on > today + timedelta(days=1) else None


def consent_date_error(given_on: date, today: date) -> str | None:
    """A documented consent (SGB X §67b) is dated on or before the day it is recorded."""
    return "a consent cannot be dated in the future" if given_on > today else None


def check_review_goals(goals: list[dict[str, Any]], goal_ids: set[uuid.UUID]) -> None:
    """The review's per-goal results (001 phase 4): each for a goal of the case's plan, each one of
    GOAL_RESULTS (achieved, partly, not_achieved, dropped); 422 at the first wrong entry."""
    for i, g in enumerate(goals):
        try:
            gid = uuid.UUID(str(g.get("goal_id")))
        except ValueError as exc:
            raise Invalid("not a goal id", field=f"goals.{i}.goal_id") from exc
        if gid not in goal_ids:
            raise Invalid("no such goal in this case's plan", field=f"goals.{i}.goal_id")
        if g.get("result") not in GOAL_RESULTS:
            raise Invalid("result must be achieved, partly, not_achieved or dropped", field=f"goals.{i}.result")


def count_results(results: list[str]) -> dict[str, int]:
    """ReviewCompleted's counts per result (001 phase 4), every result of GOAL_RESULTS present."""
    counts = dict.fromkeys(GOAL_RESULTS, 0)
    for result in results:
        counts[result] += 1
    return counts


def review_overdue(due_on: date, escalated: bool, today: date, escalate_after_days: int) -> bool:
    """A review on the work list is overdue once escalated or `escalate_after_days` after its due date (setting, default 14)."""
    return escalated or due_on + timedelta(days=escalate_after_days) <= today


def leave_assignment(on_leave: bool, substitute: str | None, username: str, previous_substitute: str | None) -> tuple[str, str, str] | None:
    """(reason, caseworker, previous) of the CaseAssigned a leave change causes for each open case:
    the substitute takes over during the leave, the caseworker again when it ends; None: no change
    (the caseload itself stays with the absent caseworker, 001 "feste Zuständigkeit")."""
    if on_leave and substitute:
        return "substitution", substitute, username
    if not on_leave and previous_substitute:
        return "substitution_ended", username, previous_substitute
    return None


def goal_snapshot(goal: dict[str, Any]) -> dict[str, Any]:
    """A goal's revision as kept (001 phase 2/3: every adjustment stays visible)."""
    person_id = goal["person_id"]
    return dict(field_of_action=goal["field_of_action"], title=goal["title"], target_date=str(goal["target_date"]), responsible=goal["responsible"],
                status=goal["status"], person_id=str(person_id) if person_id is not None else None)


#: A placement in training or employment achieves the plan's work goal (field of action 3; DOMAIN.md flow 4).
PLACEMENTS = ("placed_training", "placed_employment")
WORK_FIELD = FieldOfAction.WORK.value
CLOSED_GOAL_STATUSES = (GoalStatus.ACHIEVED.value, GoalStatus.DROPPED.value)


def referral_step_changes(
    process: PartnerProcess, step: str, *, measure: str | None, on: date | None, recorded_on: date, acknowledged_on: date | None,
) -> dict[str, Any]:
    """The referral's columns after a partner step (the partner's table, PARTNER_PROCESSES; DOMAIN.md
    flow 4): the latest step; the acknowledgement date on the first acknowledging step; the appointment
    (the step's date, else the day of the record), the measure offered, or the start of a place or
    course; a terminal step closes the referral with the step as its outcome."""
    values: dict[str, Any] = {"latest_step": step}
    if acknowledges(process, step) and acknowledged_on is None:
        values["acknowledged_on"] = recorded_on
    if step == "appointment_booked":
        values["appointment_on"] = on or recorded_on
    elif step == "measure_offered":
        values["measure"] = measure
    elif step in process.dated:
        values["outcome_on"] = on
    if step in process.terminal:
        values.update(status="closed", outcome=step)
    return values


def acknowledges(process: PartnerProcess, step: str) -> bool:
    """The step acknowledges the referral: the acknowledgement itself, or any answer where the caseworker records it."""
    return step == "acknowledged" or process.answer_acknowledges


def case_texts_erasable(members_not_erased: int) -> bool:
    """Whether an erasure also shreds the case-level free texts (contact notes, the resource check's
    answers, household goals). GDPR Art. 17(1) gives the person the erasure of the data "concerning him
    or her": their own goals and their referrals' notes go at once. A case-level text of a household
    case concerns every member; while a member who is not erased remains, it is still needed for their
    casework (Art. 17(3)(b): a task in the public interest; SGB X §84(2): erase social data when no
    longer needed for the task) and stays. It goes with the last member's erasure, so in a one-person
    case at once. The seeds (000-004) and DOMAIN.md name no retention rule beyond "erasure on request or
    after a retention period" (DOMAIN.md "Data protection")."""
    return members_not_erased == 0
