"""Pure decision rules of the funds (seed 000 "Härtefallfond", seed 002 §2/§5)."""

from __future__ import annotations

from datetime import date

import pytest

from services.funding.domain import HardshipCriteria, add_months, deciders_required, majority, period_problem, quorum, screen


def criteria(**kw: object) -> HardshipCriteria:
    return HardshipCriteria(**{"legal_entitlement_elsewhere": False, "caused_by_authority_error": False, "undermines_self_reliance": False, **kw})


class TestScreening:
    def test_eligible_when_no_criterion_speaks_against_it(self) -> None:
        assert screen(criteria()).outcome == "eligible"

    def test_a_legal_entitlement_elsewhere_redirects_to_the_responsible_office(self) -> None:
        s = screen(criteria(legal_entitlement_elsewhere=True, responsible_office="Jobcenter", caused_by_authority_error=True))
        assert (s.outcome, s.responsible_office) == ("redirected", "Jobcenter")

    def test_a_need_caused_by_another_authority_is_rejected_with_that_reason(self) -> None:
        assert screen(criteria(caused_by_authority_error=True)).reason == "caused_by_authority"

    def test_help_undermining_self_reliance_is_rejected(self) -> None:
        assert screen(criteria(undermines_self_reliance=True)).reason == "undermines_self_reliance"

    def test_a_redirect_needs_the_office(self) -> None:
        with pytest.raises(ValueError, match="responsible_office"):
            criteria(legal_entitlement_elsewhere=True)


class TestRules:
    @pytest.mark.parametrize(("end", "problem"), [(date(2026, 7, 1), None), (date(2026, 7, 2), "6 months"), (date(2025, 12, 31), "before")])
    def test_the_period_is_clearly_limited(self, end: date, problem: str | None) -> None:
        found = period_problem(date(2026, 1, 1), end, 6)
        assert (found is None) if problem is None else (problem in (found or ""))

    def test_two_deciders_above_1000_eur(self) -> None:
        assert [deciders_required(c, 100_000) for c in (100_000, 100_001)] == [1, 2]

    def test_quorum_is_half_of_the_members_rounded_up(self) -> None:
        assert [quorum(n, 0.5) for n in (7, 8, 1)] == [4, 4, 1]

    def test_majority_of_those_present_abstentions_count_against(self) -> None:
        assert majority(3, 1, 0) and not majority(2, 2, 0) and not majority(2, 0, 3) and majority(3, 0, 2)

    def test_add_months_clamps_to_the_month_end(self) -> None:
        assert add_months(date(2026, 11, 30), 3) == date(2027, 2, 28)
