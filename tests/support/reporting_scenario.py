"""A quarter of contract events with known figures, for reporting tests (integration and e2e).
`abra_quarter(...)` returns the events and the KPI values they must produce for the quarter."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

from services.contracts import Event
from services.contracts.events import (
    ArrivalRecorded,
    ArrivalRetracted,
    CaseClosed,
    CaseOpened,
    ClearingClosed,
    ClearingCompleted,
    HardshipApproved,
    IntakeCompleted,
    PersonProfile,
    ReferralMade,
    ReferralStepRecorded,
)
from services.contracts.vocab import AgeGroup, Partner, Prospect, Purpose, ResidenceStatus, Sex


def _person() -> PersonProfile:
    return PersonProfile(person_id=uuid.uuid4(), adult=True, age_group=AgeGroup.AGE_25_44, sex=Sex.FEMALE, residence_status=ResidenceStatus.EU_FREE_MOVEMENT,
                         prospect=Prospect.GOOD, employable=True, german_level="none")


def abra_quarter(tenant: str, start: datetime, *, district: str = "Westen", with_intakes: bool = True,
                 with_cases: bool = True) -> tuple[list[Event], dict[str, int]]:
    """Events spread over the first weeks of the quarter starting at `start` (aware), plus two
    clearings in the week before (outside the quarter)."""
    ev: list[Event] = []
    at = lambda d: start + timedelta(days=d, hours=9)  # noqa: E731
    cid = lambda: uuid.uuid4()  # noqa: E731
    expected: dict[str, int] = {}
    if with_intakes:
        for i in range(6):
            intake = cid()
            ev.append(IntakeCompleted(tenant=tenant, correlation_id=intake, occurred_at=at(i), intake_id=intake, household_id=cid(), district=district,
                                      move_in_date=at(i).date(), persons=[_person(), _person()]))
        expected |= {"intakes_completed": 6, "persons_at_intake": 12}
    for i in range(7):
        c = cid()
        ev.append(ClearingCompleted(tenant=tenant, correlation_id=c, occurred_at=at(i), clearing_id=c, intake_id=cid(), household_id=cid(), person_id=cid(),
                                    district=district, completed_at=at(i), days_after_move_in=5, long_term_coaching=i < 5))
    for i in range(2):  # the week before the quarter: not counted
        c = cid()
        ev.append(ClearingCompleted(tenant=tenant, correlation_id=c, occurred_at=start - timedelta(days=3 + i), clearing_id=c, intake_id=cid(),
                                    household_id=cid(),
                                    person_id=cid(), district=district, completed_at=start - timedelta(days=3), days_after_move_in=5, long_term_coaching=False))
    c = cid()
    ev.append(ClearingClosed(tenant=tenant, correlation_id=c, occurred_at=at(8), clearing_id=c, intake_id=cid(), household_id=cid(), person_id=cid(),
                             district=district, outcome="not_appeared", closed_at=at(8)))
    expected |= {"clearings_held": 7, "clearings_not_appeared": 1}
    if with_cases:
        abra_cases = []
        for i in range(5):
            case = cid()
            members = [cid(), cid(), cid()]
            abra_cases.append((case, members))
            ev.append(CaseOpened(tenant=tenant, correlation_id=case, occurred_at=at(10 + i), case_id=case, household_id=cid(), programme="ABRA",
                                 district=district, member_ids=members))
        ev.append(CaseClosed(tenant=tenant, correlation_id=abra_cases[0][0], occurred_at=at(40), case_id=abra_cases[0][0], programme="ABRA", district=district,
                             reason="goals_achieved"))
        for case, members in abra_cases:
            ref = cid()
            ev.append(ReferralMade(tenant=tenant, correlation_id=ref, occurred_at=at(20), referral_id=ref, case_id=case, person_id=members[0],
                                   partner=Partner.JOB_CENTRE, purpose=Purpose.JOB_PLACEMENT, programme="ABRA", district=district))
            ev.append(ReferralStepRecorded(tenant=tenant, correlation_id=ref, occurred_at=at(30), referral_id=ref, case_id=case, person_id=members[0],
                                           partner=Partner.JOB_CENTRE, step="placed_employment", working_days_since_referral=8))
        sf_cases = []
        for i in range(6):
            case = cid()
            members = [cid(), cid()]
            sf_cases.append((case, members))
            ev.append(CaseOpened(tenant=tenant, correlation_id=case, occurred_at=at(12 + i), case_id=case, household_id=cid(),
                                 programme="Soziales Fallmanagement", district=district, member_ids=members))
        for n, (case, members) in enumerate(sf_cases):
            ref = cid()
            ev.append(ReferralMade(tenant=tenant, correlation_id=ref, occurred_at=at(21), referral_id=ref, case_id=case, person_id=members[0],
                                   partner=Partner.INTEGRATION_POINT, purpose=Purpose.REFERRAL, programme="Soziales Fallmanagement", district=district))
            if n < 5:
                ev.append(ReferralStepRecorded(tenant=tenant, correlation_id=ref, occurred_at=at(25), referral_id=ref, case_id=case, person_id=members[0],
                                               partner=Partner.INTEGRATION_POINT, step="measure_offered", measure="qualification",
                                               working_days_since_referral=3))
                step = "placed_training" if n < 3 else "placed_employment"
                ev.append(ReferralStepRecorded(tenant=tenant, correlation_id=ref, occurred_at=at(35), referral_id=ref, case_id=case, person_id=members[0],
                                               partner=Partner.INTEGRATION_POINT, step=step, working_days_since_referral=12))
        for case, _ in sf_cases[:5]:
            app = cid()
            ev.append(HardshipApproved(tenant=tenant, correlation_id=app, occurred_at=at(33), application_id=app, case_id=case, amount_cents=25_000,
                                       fiscal_year=start.year, deciders=["fundmanager"], working_days_to_decision=2))
        expected |= {
            "abra_families_in_coaching": 5, "abra_individuals_in_coaching": 15, "abra_placed_employment": 5, "cases_opened": 11, "cases_closed": 1,
            "cases_active": 11, "referrals_made": 11, "ip_referrals": 6, "ip_measures_offered": 5, "ip_placements": 5, "hardship_grants": 5,
            "hardship_granted_cents": 125_000,
        }
    return ev, expected


def arrivals(tenant: str, month: str) -> tuple[list[Event], dict[str, int]]:
    """12 arrival records in `month`, one of them retracted: SY 7, BG 3, RO 1 (after retraction)."""
    ev: list[Event] = []
    records = []
    for nat, count in (("SY", 7), ("BG", 3), ("RO", 2)):
        for i in range(count):
            rid = uuid.uuid4()
            records.append(rid)
            ev.append(ArrivalRecorded(tenant=tenant, correlation_id=rid, record_id=rid, month=month, district="Westen", nationality=nat,
                                      residence_status=ResidenceStatus.RECOGNISED_REFUGEE if nat == "SY" else ResidenceStatus.EU_FREE_MOVEMENT,
                                      sex=Sex.FEMALE if i % 2 else Sex.MALE, age_group=AgeGroup.AGE_25_44))
    ev.append(ArrivalRetracted(tenant=tenant, correlation_id=records[-1], record_id=records[-1]))
    return ev, {"SY": 7, "BG": 3, "RO": 1, "total": 11}


def quarter_start(d: date) -> datetime:
    return datetime(d.year, 3 * ((d.month - 1) // 3) + 1, 1, tzinfo=UTC)
