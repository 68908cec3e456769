"""The handover of a person's details to the Integration Point (DOMAIN.md flow 4; 000 "Projekt
Integration Point": the partners agreed to hand over what the advisor needs, and on a change of legal
regime the counselling history). Intake owns names, contact and languages, so the advisor's screen asks
intake with the advisor's own token; intake checks, against casework's referrals and consent register
as their events announced them (ReferralMade / ReferralHandedOver / ReferralClosed, ConsentChanged),
that the referral is open and the person agreed to the data exchange with that partner
(`services.contracts.casework_workflows.may_hand_over`). Without that consent: ids only. Every read is
audit-logged, the refused ones too; no name reaches an event, span or log line."""

from __future__ import annotations

import uuid

from services.contracts.casework_workflows import INTEGRATION_POINT_DESK, may_hand_over
from services.contracts.events import ConsentChanged, ReferralClosed, ReferralHandedOver, ReferralMade
from services.intake import store, store_handover
from services.intake.runtime import IntakeRuntime
from services.intake.schemas_persons import HandoverLanguage, PersonHandover
from services.kit import telemetry
from services.kit.auth import Principal
from services.kit.broker import Delivery
from services.kit.errors import NotFound


async def on_referral_made(rt: IntakeRuntime, event: ReferralMade, delivery: Delivery) -> None:
    if await delivery.already_handled():
        return
    async with delivery.transaction() as tx:
        await store_handover.record_referral(
            tx.conn, event.referral_id, at=event.occurred_at, person_id=event.person_id, partner=event.partner.value, made=True
        )


async def on_referral_handed_over(rt: IntakeRuntime, event: ReferralHandedOver, delivery: Delivery) -> None:
    if await delivery.already_handled():
        return
    async with delivery.transaction() as tx:
        await store_handover.record_referral(tx.conn, event.referral_id, at=event.occurred_at, person_id=event.person_id, handed_to=event.to_partner.value)


async def on_referral_closed(rt: IntakeRuntime, event: ReferralClosed, delivery: Delivery) -> None:
    if await delivery.already_handled():
        return
    async with delivery.transaction() as tx:
        await store_handover.record_referral(tx.conn, event.referral_id, at=event.occurred_at, partner=event.partner.value, closed=True)


async def on_consent_changed(rt: IntakeRuntime, event: ConsentChanged, delivery: Delivery) -> None:
    if await delivery.already_handled():
        return
    async with delivery.transaction() as tx:
        await store_handover.record_consent_state(
            tx.conn, event.person_id, event.partner.value, event.purpose.value, event.given_on, event.withdrawn, event.occurred_at
        )


async def read_for_integration_point(rt: IntakeRuntime, principal: Principal, referral_id: uuid.UUID, allowed_roles: tuple[str, ...]) -> PersonHandover:
    """Name, date of birth, address (contact) and languages of the referred person if the referral is
    an open one to the Integration Point desk and the person agreed to the data exchange with it."""
    telemetry.mark(referral_id=referral_id)
    async with rt.db.begin() as conn:
        ref = await store_handover.handover_referral(conn, referral_id)
        if ref is None or ref.partner not in {p.value for p in INTEGRATION_POINT_DESK}:
            await rt.audit(conn, principal, allowed_roles, "read", "person_handover", referral_id, "not_found")
            raise NotFound("no such referral to the Integration Point")
        consents = await store_handover.active_partner_consents(conn, ref.person_id) if ref.person_id else set()
        allowed = ref.person_id is not None and may_hand_over(ref.partner, ref.open, consents)
        await rt.audit(conn, principal, allowed_roles, "read", "person_handover", referral_id, "ok" if allowed else "no_consent")
        if not allowed:
            return PersonHandover(referral_id=referral_id, person_id=ref.person_id, consent=False)
        person = await store.person_row(conn, ref.person_id)
        wrapped = (await store.wrapped_keys(conn, [ref.person_id])).get(ref.person_id)
    fields = (rt.open_person(person, wrapped) if person is not None else None) or {}
    address = fields.get("_address")
    if not fields:
        return PersonHandover(referral_id=referral_id, person_id=ref.person_id, consent=True)  # erased
    return PersonHandover(
        referral_id=referral_id, person_id=ref.person_id, consent=True, given_name=fields.get("given_name"), family_name=fields.get("family_name"),
        date_of_birth=fields.get("date_of_birth"), address=address, german_level=fields.get("german_level"),
        languages=[HandoverLanguage(code=lang["code"], level=lang.get("level")) for lang in fields.get("languages", [])],
    )
