"""Casework's pure rules: the phase transition table (seed 001), caseworker choice by district,
room and language (001, 000 caseload 1:190), and the referral step table (DOMAIN.md flow 4)."""

from __future__ import annotations

import pytest

from services.casework.domain import TRANSITIONS, CaseworkerSlot, Phase, advance_to, assignment_candidates, effective_cap, transition
from services.contracts.casework_workflows import ReferralState, apply_referral_step, referral_step_error
from services.kit.errors import Conflict


class TestPhaseTransitions:
    @pytest.mark.parametrize(("current", "target"), [
        (Phase.ENTRY, Phase.PLANNING), (Phase.PLANNING, Phase.INTEGRATION), (Phase.INTEGRATION, Phase.REVIEW),
        (Phase.REVIEW, Phase.INTEGRATION), (Phase.ENTRY, Phase.CLOSED), (Phase.REVIEW, Phase.CLOSED),
    ])
    def test_allowed_moves(self, current: Phase, target: Phase) -> None:
        assert transition(current, target) == target

    @pytest.mark.parametrize(("current", "target"), [
        (Phase.ENTRY, Phase.INTEGRATION), (Phase.PLANNING, Phase.REVIEW), (Phase.CLOSED, Phase.ENTRY), (Phase.CLOSED, Phase.CLOSED),
    ])
    def test_refused_moves(self, current: Phase, target: Phase) -> None:
        with pytest.raises(Conflict):
            transition(current, target)

    def test_every_open_phase_can_close_and_closed_is_final(self) -> None:
        assert all(Phase.CLOSED in TRANSITIONS[p] for p in Phase if p != Phase.CLOSED)
        assert TRANSITIONS[Phase.CLOSED] == frozenset()

    def test_advancing_moves_only_forward(self) -> None:
        assert advance_to(Phase.ENTRY, Phase.PLANNING) == Phase.PLANNING
        assert advance_to(Phase.REVIEW, Phase.INTEGRATION) is None
        assert advance_to(Phase.CLOSED, Phase.REVIEW) is None


def slot(name: str, districts=("Westen",), languages=("de",), caseload=0, cap=190, available=True) -> CaseworkerSlot:  # type: ignore[no-untyped-def]
    return CaseworkerSlot(name, tuple(districts), tuple(languages), caseload, cap, available)


class TestAssignmentChoice:
    def test_only_caseworkers_of_the_district_with_room_and_present(self) -> None:
        slots = [slot("a", caseload=190), slot("b", districts=("Mitte",)), slot("c", available=False), slot("d", caseload=10)]
        assert assignment_candidates(slots, "Westen", set()) == ["d"]

    def test_a_shared_language_wins_over_a_lower_caseload(self) -> None:
        slots = [slot("a", caseload=5), slot("b", languages=("de", "ar"), caseload=100)]
        assert assignment_candidates(slots, "Westen", {"ar"}) == ["b", "a"]

    def test_otherwise_the_relative_caseload_decides(self) -> None:
        slots = [slot("a", caseload=50, cap=190), slot("b", caseload=30, cap=95)]
        assert assignment_candidates(slots, "Westen", set()) == ["a", "b"]

    def test_all_full_gives_nobody(self) -> None:
        assert assignment_candidates([slot("a", caseload=3, cap=3)], "Westen", set()) == []

    def test_cap_is_190_per_fte_unless_set(self) -> None:
        assert effective_cap(0.75, 190, None) == 142
        assert effective_cap(1.0, 190, 20) == 20


class TestReferralSteps:
    def test_the_happy_path(self) -> None:
        state = ReferralState()
        for step, measure in [("acknowledged", None), ("appointment_booked", None), ("profiled", None),
                              ("measure_offered", "eq_plus_language"), ("placed_employment", None)]:
            assert referral_step_error(state, step, measure) is None
            state = apply_referral_step(state, step)
        assert state.closed
        assert referral_step_error(state, "no_show") == "the referral is closed"

    def test_nothing_before_the_acknowledgement(self) -> None:
        assert referral_step_error(ReferralState(), "appointment_booked") == "the referral must be acknowledged first"

    def test_an_appointment_is_needed_for_profiling_and_placement(self) -> None:
        state = ReferralState(acknowledged=True)
        assert referral_step_error(state, "profiled") == "no appointment has been booked"
        assert referral_step_error(state, "declined") is None

    def test_a_no_show_needs_a_new_appointment(self) -> None:
        state = apply_referral_step(ReferralState(acknowledged=True, appointment=True), "no_show")
        assert referral_step_error(state, "profiled") == "no appointment has been booked"

    def test_unknown_measures_and_double_acknowledgement_are_refused(self) -> None:
        state = ReferralState(acknowledged=True, appointment=True)
        assert "measure must be one of" in referral_step_error(state, "measure_offered", "yoga")
        assert referral_step_error(state, "acknowledged") == "already acknowledged"


class TestAdvancing:
    def test_a_review_does_not_skip_planning(self) -> None:
        assert advance_to(Phase.ENTRY, Phase.REVIEW) is None
        assert advance_to(Phase.INTEGRATION, Phase.REVIEW) == Phase.REVIEW
