"""The benchmarks' intake payloads pass the intake interview's rules and take the path each benchmark
measures (a bench whose every POST got a 422 measured nothing for a while)."""

from __future__ import annotations

from datetime import date

import pytest

from bench import intake_clearing, intake_pipeline
from services.contracts.vocab import Route
from services.intake.domain import check_household
from services.intake.domain_routing import RoutingRules, derive
from services.intake.schemas import IntakeIn
from services.intake.settings import IntakeSettings

RULES_SETTINGS = IntakeSettings()


def _routes(payload: dict) -> list[set[Route]]:
    s = RULES_SETTINGS
    rules = RoutingRules(frozenset(s.good_prospect_countries), frozenset(s.safe_countries_of_origin), s.tolerated_years)
    body = IntakeIn.model_validate(payload)
    check_household(body.household, date.today())
    return [set(derive(p, date.today(), rules).routes) for p in body.household.persons]


class TestBenchPayloadsAreValidAndTakeTheirPath:
    @pytest.mark.parametrize("i", range(12))
    def test_the_pipeline_household_opens_a_case(self, i: int) -> None:
        assert any(Route.CASEWORK in r for r in _routes(intake_pipeline.household(i)))

    @pytest.mark.parametrize("i", range(12))
    def test_the_clearing_bench_abra_household_takes_the_clearing_route(self, i: int) -> None:
        payload, abra_persons = intake_clearing.household(i, True)
        routes = _routes(payload)
        assert abra_persons == len(routes) and all(Route.ABRA_CLEARING in r for r in routes)

    @pytest.mark.parametrize("i", range(12))
    def test_the_clearing_bench_other_household_opens_a_case(self, i: int) -> None:
        payload, abra_persons = intake_clearing.household(i, False)
        assert abra_persons == 0 and any(Route.CASEWORK in r for r in _routes(payload))
