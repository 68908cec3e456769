"""Casework's pure rules: the phase transition table (seed 001), caseworker choice by district,
room and language (001, 000 caseload 1:190), and the referral step table (DOMAIN.md flow 4)."""

from __future__ import annotations

from datetime import date

import pytest

from services.casework.domain import TRANSITIONS, CaseworkerSlot, Phase, advance_to, assignment_candidates, effective_cap, partner_scope, transition
from services.contracts.casework_workflows import (
    ReferralState,
    apply_referral_step,
    may_hand_over,
    meets_first_deadline,
    partner_process,
    referral_step_error,
    referral_step_input_error,
)
from services.contracts.vocab import Partner
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


class TestPartnerProcesses:
    """Each partner's own steps (issue 14; contracts PARTNER_PROCESSES)."""

    def test_every_partner_one_refers_to_has_a_process_and_a_recorder(self) -> None:
        for partner in Partner:
            process = partner_process(partner.value)
            if partner == Partner.SOCIAL_CASEWORK:
                assert process is None
                continue
            assert process is not None and process.recorder in ("ip_advisor", "referral_partner", "caseworker"), partner
            assert set(process.terminal) <= set(process.steps) and "declined" in process.terminal
            assert set(process.first_answer) <= set(process.steps) and set(process.dated) <= set(process.steps)

    def test_a_kita_answer_recorded_by_the_caseworker_is_the_acknowledgement(self) -> None:
        state = ReferralState()
        assert referral_step_error(state, "waiting_list", partner="daycare") is None
        state = apply_referral_step(state, "waiting_list", "daycare")
        assert state.acknowledged and not state.closed
        assert meets_first_deadline("daycare", "waiting_list") and not meets_first_deadline("integration_point", "waiting_list")
        state = apply_referral_step(state, "place_offered", "daycare")
        assert state.closed

    def test_a_partner_takes_only_its_own_steps(self) -> None:
        state = ReferralState(acknowledged=True, appointment=True)
        assert referral_step_error(state, "enrolled", partner="daycare") == "unknown step enrolled"
        assert referral_step_error(state, "place_offered", partner="language_course") == "unknown step place_offered"
        assert referral_step_input_error("daycare", "place_offered") == ("on", "the date is required for this step")
        assert referral_step_input_error("daycare", "place_offered", on=date(2027, 1, 1)) is None
        assert referral_step_input_error("language_course", "profiled")[0] == "step"  # type: ignore[index]
        assert referral_step_input_error("social_casework", "acknowledged")[0] == "partner"  # type: ignore[index]

    def test_a_signed_in_partner_acknowledges_first_and_a_school_place_needs_the_counselling(self) -> None:
        assert referral_step_error(ReferralState(), "enrolled", partner="language_course") == "the referral must be acknowledged first"
        assert referral_step_error(ReferralState(), "school_place_assigned", partner="school_side_entry") == "no appointment has been booked"

    def test_the_scope_of_a_partner_account(self) -> None:
        assert partner_scope(frozenset({"referral_partner"}), "language_course") == Partner.LANGUAGE_COURSE
        assert partner_scope(frozenset({"referral_partner"}), "nonsense") is None
        assert partner_scope(frozenset({"referral_partner"}), None) is None
        assert partner_scope(frozenset({"abra_coach"}), None) == Partner.ABRA
        assert partner_scope(frozenset({"caseworker"}), "language_course") is None


class TestHandoverConsent:
    def test_only_the_data_exchange_consent_for_the_partner_or_the_joint_desk_hands_over(self) -> None:
        assert may_hand_over("integration_point", True, {("integration_point", "data_exchange")})
        assert not may_hand_over("integration_point", True, {("integration_point", "referral")})
        assert not may_hand_over("integration_point", False, {("integration_point", "data_exchange")})
        assert may_hand_over("job_centre", True, {("integration_point", "data_exchange")})  # after the change of legal regime
        assert not may_hand_over("daycare", True, {("integration_point", "data_exchange")})
        assert not may_hand_over("integration_point", True, {("language_course", "data_exchange")})
