"""Intake's runtime: the kit's Runtime typed by IntakeSettings, with what intake needs for its whole life
beyond it: the keyring and the search index's keyed hash (both from the master key, made once per
process), the routing thresholds and the registration deadline from the settings, and a person's sealed
fields opened or indexed with them. The composition root (app.py) builds it (ServiceSpec.runtime)."""

from __future__ import annotations

import asyncio
import uuid
from dataclasses import dataclass
from datetime import date
from functools import cached_property
from typing import Annotated, Any

import sqlalchemy as sa
from fastapi import Depends

from services.intake import domain_matching
from services.intake.crypto import BlindIndex, Keyring, KeyUnavailable
from services.intake.domain import registration_deadline as deadline_after
from services.intake.domain_routing import RoutingRules
from services.intake.settings import IntakeSettings
from services.kit.runtime import Runtime
from services.kit.runtime_dep import runtime_of


@dataclass
class IntakeRuntime(Runtime[IntakeSettings]):
    @cached_property
    def keyring(self) -> Keyring:
        """Wraps the data keys with the master key (crypto.py); made at the start, so a missing key fails it."""
        return Keyring(self.settings.master_key)

    @cached_property
    def clearings_committed(self) -> asyncio.Event:
        """Set after a transaction that started clearings commits: wakes the starter of their workflows."""
        return asyncio.Event()

    @cached_property
    def blind_index(self) -> BlindIndex:
        return self.keyring.blind_index()

    @property
    def routing_rules(self) -> RoutingRules:
        s = self.settings
        return RoutingRules(frozenset(s.good_prospect_countries), frozenset(s.safe_countries_of_origin), s.tolerated_years)

    def registration_deadline(self, move_in: date) -> date:
        """Registration of residence is due within two weeks of moving in (§17 BMG; setting)."""
        return deadline_after(move_in, self.settings.registration_deadline_days)

    def open_person(self, row: sa.Row, wrapped: bytes | None) -> dict[str, Any] | None:
        """The person's personal fields, or None if the person was erased."""
        if row.sealed is None:
            return None
        try:
            return self.keyring.open(self.keyring.unwrap(wrapped), row.id, row.sealed)
        except KeyUnavailable:
            return None

    def search_rows(self, person_id: uuid.UUID, household_id: uuid.UUID, fields: dict[str, Any]) -> list[dict[str, Any]]:
        """The person's rows of the search index (domain_matching.index_terms, as keyed hashes)."""
        terms = domain_matching.index_terms(str(fields.get("given_name") or ""), str(fields.get("family_name") or ""), fields.get("date_of_birth"))
        return [dict(token=self.blind_index.token(kind, value), person_id=person_id, household_id=household_id) for kind, value in sorted(terms)]


#: A route's runtime: intake's own.
IntakeRuntimeDep = Annotated[IntakeRuntime, Depends(runtime_of)]
