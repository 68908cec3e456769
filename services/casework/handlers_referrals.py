"""Casework's consent register (SGB X §67b: purpose-bound, per partner) and referrals (DOMAIN.md flow
4): referring with documented consent, withdrawal cancelling referrals, the handover after a change of
legal regime (000 "Projekt Integration Point"). Load (store) -> decide (domain) -> save (store) -> emit."""

from __future__ import annotations

import uuid
from datetime import date

import sqlalchemy as sa

from services.casework import store, store_referrals
from services.casework.domain import INTEGRATION_POINT_PARTNERS, consent_missing_reason
from services.casework.handlers_assign import SYSTEM, envelope
from services.casework.handlers_plans import open_case_row
from services.casework.handlers_workflows import signal, start_referral_workflow
from services.casework.runtime import CaseworkRuntime
from services.casework.schemas import ReferralIn
from services.contracts.casework_workflows import partner_process, referral_workflow_id
from services.contracts.events import ConsentChanged, ReferralClosed, ReferralHandedOver, ReferralMade, ReferralStepRecorded
from services.contracts.vocab import Partner, Purpose
from services.contracts.workdays import city_today, working_days_between
from services.kit.alerts import resolve_alerts
from services.kit.auth import Principal
from services.kit.db import utc_now
from services.kit.errors import Conflict, Invalid
from services.kit.outbox import Tx
from workflows.referral import Referral

# --- consents ---------------------------------------------------------------------------------------------


async def consent_changed(rt: CaseworkRuntime, tx: Tx, person_id: uuid.UUID, partner: str, purpose: str) -> None:
    """Announces the register's state of one consent (ConsentChanged), for intake's handover check."""
    row = await store_referrals.consent(tx.conn, person_id, partner, purpose)
    if row is not None:
        await tx.emit(ConsentChanged(**envelope(rt, person_id), person_id=person_id, partner=Partner(partner), purpose=Purpose(purpose),
                                     given_on=row.given_on, withdrawn=row.withdrawn_at is not None))


async def record_consent(rt: CaseworkRuntime, principal: Principal, case_id: uuid.UUID, person_id: uuid.UUID, partner: Partner, purpose: Purpose,
                         given_on: date) -> None:
    async with rt.outbox.transaction() as tx:
        if await store.get_member(tx.conn, case_id, person_id) is None:
            raise Invalid("the person is not a member of this case", field="person_id")
        await store_referrals.save_consent(tx.conn, person_id, partner.value, purpose.value, given_on, source="caseworker", recorded_by=principal.username)
        await store.note(tx.conn, case_id, "consent_given", principal.username, person_id=person_id, partner=partner.value, purpose=purpose.value,
                         given_on=given_on)
        await consent_changed(rt, tx, person_id, partner.value, purpose.value)


async def withdraw_consent(
    rt: CaseworkRuntime, principal: Principal, case_id: uuid.UUID, person_id: uuid.UUID, partner: Partner, purpose: Purpose | None,
) -> int:
    """Withdrawal ends the consent and cancels the person's open referrals to that partner
    (ReferralClosed outcome consent_withdrawn, SGB X §67b)."""
    async with rt.outbox.transaction() as tx:
        if await store.get_member(tx.conn, case_id, person_id) is None:
            raise Invalid("the person is not a member of this case", field="person_id")
        ended = await store_referrals.withdraw_consents(tx.conn, person_id, partner.value, purpose.value if purpose else None)
        if not ended:
            raise Invalid("no active consent for this partner", field="partner")
        for ended_purpose in ended:
            await consent_changed(rt, tx, person_id, partner.value, ended_purpose)
        await store.note(tx.conn, case_id, "consent_withdrawn", principal.username, person_id=person_id, partner=partner.value,
                         purpose=purpose.value if purpose else None)
        rows = await store_referrals.open_referrals_of_person(tx.conn, person_id, partner.value, purpose.value if purpose else None)
        cancelled = await cancel_referrals(rt, tx, rows, "consent_withdrawn", principal.username)
    for referral_id in cancelled:
        await signal(rt, referral_workflow_id(referral_id), Referral.cancel)
    return len(cancelled)


# --- referrals (flow 4) -----------------------------------------------------------------------------------


async def cancel_referrals(rt: CaseworkRuntime, tx: Tx, rows: list[sa.Row], outcome: str, actor: str) -> list[uuid.UUID]:
    """Closes these open referrals with `outcome` (consent_withdrawn, case_closed); returns their ids (their workflows are told after the commit)."""
    for r in rows:
        await store_referrals.update_referral(tx.conn, r.id, status="closed", outcome=outcome)
        await store.note(tx.conn, r.case_id, "referral_closed", actor, referral_id=r.id, partner=r.partner, outcome=outcome)
        await tx.emit(ReferralClosed(**envelope(rt, r.id), referral_id=r.id, case_id=r.case_id, partner=Partner(r.partner), outcome=outcome))
        await resolve_alerts(tx.conn, rt.tables, subject_id=r.id, by=actor)
    return [r.id for r in rows]


async def make_referral(rt: CaseworkRuntime, principal: Principal, case_id: uuid.UUID, ref: ReferralIn) -> uuid.UUID:
    """Refers a member to a partner, only with the person's documented consent for that partner and
    purpose (422 otherwise); Integration Point referrals only for employable persons (000)."""
    referral_id = uuid.uuid4()
    async with rt.outbox.transaction() as tx:
        case = await open_case_row(tx, case_id)
        member = await store.get_member(tx.conn, case_id, ref.person_id)
        if member is None or not member.active:
            raise Invalid("the person is not a member of this case", field="person_id")
        if partner_process(ref.partner.value) is None:
            raise Invalid(f"no referrals are made to {ref.partner.value}", field="partner")
        if ref.partner in INTEGRATION_POINT_PARTNERS and not member.employable:
            raise Invalid("only employable persons (15-64, able to work) are referred to the Integration Point", field="person_id")
        if await store_referrals.active_consent(tx.conn, ref.person_id, ref.partner.value, ref.purpose.value) is None:
            raise Invalid(consent_missing_reason(ref.partner, ref.purpose), field="partner")
        dup = await store_referrals.open_referral_to(tx.conn, ref.person_id, ref.partner.value)
        if dup is not None:
            raise Conflict(f"an open referral to this partner exists: {dup.id}", field="partner")
        await store_referrals.insert_referral(
            tx.conn, id=referral_id, case_id=case_id, person_id=ref.person_id, partner=ref.partner.value, purpose=ref.purpose.value, status="open",
            made_on=city_today(), made_at=utc_now(), note=ref.note,
        )
        await store.note(tx.conn, case_id, "referral_made", principal.username, referral_id=referral_id, partner=ref.partner.value, purpose=ref.purpose.value)
        await tx.emit(ReferralMade(
            **envelope(rt, referral_id), referral_id=referral_id, case_id=case_id, person_id=ref.person_id, partner=ref.partner,
            purpose=ref.purpose, programme=case.programme, district=case.district,
        ))
        row = await store_referrals.get_referral(tx.conn, referral_id)
    await start_referral_workflow(rt, row)
    return referral_id


async def hand_over(rt: CaseworkRuntime, tx: Tx, case_id: uuid.UUID, person_id: uuid.UUID, causation_id: uuid.UUID) -> list[uuid.UUID]:
    """Change of legal regime (asylum recognised): the person's open employment agency referrals go to
    the job centre with their history, running measures kept (000 "Projekt Integration Point": SGB III -> SGB II)."""
    rows = await store_referrals.open_referrals_of_person(tx.conn, person_id, Partner.EMPLOYMENT_AGENCY.value)
    today = city_today()
    for r in rows:
        await store_referrals.update_referral(tx.conn, r.id, partner=Partner.JOB_CENTRE.value, handed_over_from=Partner.EMPLOYMENT_AGENCY.value)
        await store.note(tx.conn, case_id, "referral_handed_over", SYSTEM, referral_id=r.id, from_partner="employment_agency", to_partner="job_centre",
                         measure=r.measure)
        env = envelope(rt, r.id, causation_id)
        await tx.emit(ReferralStepRecorded(
            **env, referral_id=r.id, case_id=case_id, person_id=person_id, partner=Partner.JOB_CENTRE, step="handed_over",
            measure=r.measure, working_days_since_referral=working_days_between(r.made_on, today),
        ))
        await tx.emit(ReferralHandedOver(**env, referral_id=r.id, case_id=case_id, person_id=person_id, from_partner=Partner.EMPLOYMENT_AGENCY,
                                         to_partner=Partner.JOB_CENTRE))
    return [r.id for r in rows]
