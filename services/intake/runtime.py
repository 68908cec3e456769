"""What intake's handlers and activities take from the runtime beyond the kit's: the keyring and the
search index's keyed hash (both from the master key, made once per process), the routing thresholds and
the registration deadline from the settings, and a person's sealed fields opened or indexed with them."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import sqlalchemy as sa

from services.intake import domain_matching
from services.intake.crypto import BlindIndex, Keyring, KeyUnavailable
from services.intake.domain import registration_deadline as deadline_after
from services.intake.domain_routing import RoutingRules
from services.kit.service import Runtime


def keyring(rt: Runtime) -> Keyring:
    if "keyring" not in rt.extras:
        rt.extras["keyring"] = Keyring(rt.settings.master_key)
    return rt.extras["keyring"]


def blind_index(rt: Runtime) -> BlindIndex:
    if "blind_index" not in rt.extras:
        rt.extras["blind_index"] = keyring(rt).blind_index()
    return rt.extras["blind_index"]


def routing_rules(rt: Runtime) -> RoutingRules:
    s = rt.settings
    return RoutingRules(frozenset(s.good_prospect_countries), frozenset(s.safe_countries_of_origin), s.tolerated_years)


def registration_deadline(rt: Runtime, move_in: date) -> date:
    """Registration of residence is due within two weeks of moving in (§17 BMG; setting)."""
    return deadline_after(move_in, rt.settings.registration_deadline_days)


def open_person(rt: Runtime, row: sa.Row, wrapped: bytes | None) -> dict[str, Any] | None:
    """The person's personal fields, or None if the person was erased."""
    if row.sealed is None:
        return None
    ring = keyring(rt)
    try:
        return ring.open(ring.unwrap(wrapped), row.id, row.sealed)
    except KeyUnavailable:
        return None


def search_rows(rt: Runtime, person_id: uuid.UUID, household_id: uuid.UUID, fields: dict[str, Any]) -> list[dict[str, Any]]:
    """The person's rows of the search index (domain_matching.index_terms, as keyed hashes)."""
    index = blind_index(rt)
    terms = domain_matching.index_terms(str(fields.get("given_name") or ""), str(fields.get("family_name") or ""), fields.get("date_of_birth"))
    return [dict(token=index.token(kind, value), person_id=person_id, household_id=household_id) for kind, value in sorted(terms)]
