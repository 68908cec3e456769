"""The hardship approval's rules, decided once in contracts (DOMAIN.md flow 5): four eyes on the decision,
the payment order by a decider, the payout by a third person, cancellation before payout. Funding's API,
the workflow's update validators and the activity all ask `hardship_step_refusal`."""

from __future__ import annotations

import pytest

from services.contracts.funding_workflows import (
    HardshipCommand,
    HardshipState,
    Refusal,
    cancel_refusal,
    deciders_required,
    four_eyes_refusal,
    hardship_step_refusal,
    payment_order_refusal,
    third_person_refusal,
)

APPLICANT = "cw"


def state(status: str, *deciders: str) -> HardshipState:
    return HardshipState(status=status, deciders=list(deciders))


FOUR_EYES = [
    # actor, application state, expected refusal type (None: allowed)
    ("fm1", state("pending"), None),
    ("fm2", state("pending", "fm1"), None),  # the second decider above the threshold, a different person
    (APPLICANT, state("pending"), "Forbidden"),  # the applicant never decides
    (APPLICANT, state("approved", "fm1"), "Forbidden"),  # ... whatever the state
    ("fm1", state("pending", "fm1"), "Conflict"),  # the same person cannot be both deciders
    ("fm2", state("approved", "fm1"), "Conflict"),  # decided already
    ("fm1", state("approved", "fm1"), "Conflict"),
    ("fm1", state("rejected", "fm2"), "Conflict"),
    ("fm1", state("redirected"), "Conflict"),
]


class TestFourEyes:
    @pytest.mark.parametrize(("actor", "st", "expected"), FOUR_EYES)
    def test_table(self, actor: str, st: HardshipState, expected: str | None) -> None:
        refusal = four_eyes_refusal(actor, APPLICANT, st)
        assert (refusal.type if refusal else None) == expected

    def test_messages_the_api_and_the_web_rely_on(self) -> None:
        assert four_eyes_refusal(APPLICANT, APPLICANT, state("pending")) == Refusal(
            "Forbidden", "the applicant cannot decide their own application (four eyes)")
        assert four_eyes_refusal("fm1", APPLICANT, state("pending", "fm1")) == Refusal(
            "Conflict", "this decider has already decided; a second, different decider is needed")
        assert four_eyes_refusal("fm1", APPLICANT, state("approved", "fm2")) == Refusal("Conflict", "the application is approved, not pending")

    @pytest.mark.parametrize(("amount", "threshold", "required"), [(100_000, 100_000, 1), (100_001, 100_000, 2), (1, 100_000, 1), (150_000, 200_000, 1)])
    def test_two_deciders_above_the_threshold(self, amount: int, threshold: int, required: int) -> None:
        assert deciders_required(amount, threshold) == required


THIRD_PERSON = [
    ("po", state("payment_ordered", "fm1"), None),
    ("fm3", state("payment_ordered", "fm1", "fm2"), None),  # a fund manager who did not decide
    (APPLICANT, state("payment_ordered", "fm1"), "Forbidden"),
    ("fm1", state("payment_ordered", "fm1"), "Forbidden"),
    ("fm2", state("payment_ordered", "fm1", "fm2"), "Forbidden"),
    ("fm1", state("approved", "fm1"), "Forbidden"),  # who may pay out is checked before the state
    ("po", state("approved", "fm1"), "Conflict"),  # the payment must be ordered first
    ("po", state("pending"), "Conflict"),
    ("po", state("disbursed", "fm1"), "Conflict"),
]


class TestThirdPersonPayout:
    @pytest.mark.parametrize(("actor", "st", "expected"), THIRD_PERSON)
    def test_table(self, actor: str, st: HardshipState, expected: str | None) -> None:
        refusal = third_person_refusal(actor, APPLICANT, st)
        assert (refusal.type if refusal else None) == expected

    def test_message(self) -> None:
        assert third_person_refusal("fm1", APPLICANT, state("payment_ordered", "fm1")) == Refusal(
            "Forbidden", "the payout is recorded by a third person, neither applicant nor decider")


PAYMENT_ORDER = [
    ("fm1", state("approved", "fm1"), None),
    ("fm2", state("approved", "fm1", "fm2"), None),
    ("po", state("approved", "fm1"), "Forbidden"),
    ("fm1", state("pending", "fm1"), "Conflict"),
    ("fm1", state("payment_ordered", "fm1"), "Conflict"),
]

CANCEL = [("pending", None), ("approved", None), ("payment_ordered", None), ("disbursed", "Conflict"), ("rejected", "Conflict"), ("cancelled", "Conflict")]


class TestOtherSteps:
    @pytest.mark.parametrize(("actor", "st", "expected"), PAYMENT_ORDER)
    def test_payment_order_by_a_decider(self, actor: str, st: HardshipState, expected: str | None) -> None:
        refusal = payment_order_refusal(actor, st)
        assert (refusal.type if refusal else None) == expected

    @pytest.mark.parametrize(("status", "expected"), CANCEL)
    def test_cancel_before_payout(self, status: str, expected: str | None) -> None:
        refusal = cancel_refusal(state(status))
        assert (refusal.type if refusal else None) == expected


class TestOneEntryPoint:
    @pytest.mark.parametrize(("actor", "st", "expected"), FOUR_EYES)
    def test_decide_is_four_eyes(self, actor: str, st: HardshipState, expected: str | None) -> None:
        assert hardship_step_refusal(HardshipCommand(actor=actor, step="decide", decision="approve"), APPLICANT, st) == four_eyes_refusal(actor, APPLICANT, st)

    @pytest.mark.parametrize(("actor", "st", "expected"), THIRD_PERSON)
    def test_disburse_is_the_third_person_rule(self, actor: str, st: HardshipState, expected: str | None) -> None:
        assert hardship_step_refusal(HardshipCommand(actor=actor, step="disburse"), APPLICANT, st) == third_person_refusal(actor, APPLICANT, st)

    @pytest.mark.parametrize(("actor", "st", "expected"), PAYMENT_ORDER)
    def test_order_payment(self, actor: str, st: HardshipState, expected: str | None) -> None:
        assert hardship_step_refusal(HardshipCommand(actor=actor, step="order_payment"), APPLICANT, st) == payment_order_refusal(actor, st)

    @pytest.mark.parametrize(("status", "expected"), CANCEL)
    def test_cancel(self, status: str, expected: str | None) -> None:
        assert hardship_step_refusal(HardshipCommand(actor="fm1", step="cancel"), APPLICANT, state(status)) == cancel_refusal(state(status))


# --- the steering group's rules (contracts; the round's validators and the meeting's conclusion) ----------

from services.contracts.funding_workflows import (  # noqa: E402
    VoteCommand,
    meeting_tally,
    presence_refusal,
    proof_expected,
    proof_reclaimable,
    proof_reviewable,
    recused_from,
    vote_refusal,
)

APP, OTHER = "00000000-0000-0000-0000-000000000001", "00000000-0000-0000-0000-000000000002"
MEMBERS = ["s1", "s2", "s3", "s4"]


class TestSteeringGroup:
    @pytest.mark.parametrize(("member", "present", "expected"), [
        ("s1", {}, None), ("s2", {"s1": []}, None), ("x", {}, "Forbidden"), ("s1", {"s1": []}, "Conflict"),
    ])
    def test_presence(self, member: str, present: dict[str, list[str]], expected: str | None) -> None:
        refusal = presence_refusal(member, MEMBERS, present)
        assert (refusal.type if refusal else None) == expected

    @pytest.mark.parametrize(("member", "app", "votes", "expected"), [
        ("s1", APP, {}, None),
        ("s4", APP, {}, "Forbidden"),  # not registered as present
        ("s1", "00000000-0000-0000-0000-000000000009", {}, "Conflict"),  # not open in the round
        ("s2", APP, {}, "Forbidden"),  # recused: declared a conflict of interest
        ("s2", OTHER, {}, None),  # ... only from that application
        ("s1", APP, {APP: {"s1": "yes"}}, "Conflict"),  # voted already
    ])
    def test_vote(self, member: str, app: str, votes: dict[str, dict[str, str]], expected: str | None) -> None:
        present = {"s1": [], "s2": [APP], "s3": []}
        refusal = vote_refusal(VoteCommand(member=member, application_id=app, vote="yes"), present, [APP, OTHER], votes)
        assert (refusal.type if refusal else None) == expected

    def test_recused_from(self) -> None:
        assert recused_from({"s1": [], "s2": [APP], "s3": [APP, OTHER]}, APP) == ["s2", "s3"]

    @pytest.mark.parametrize(("present", "recused", "votes", "tally"), [
        (["s1", "s2", "s3"], [], {"s1": "yes", "s2": "yes"}, (2, 0, 1, [], True)),
        (["s1", "s2", "s3"], [], {"s1": "yes", "s2": "no"}, (1, 1, 1, [], False)),  # an abstention weighs like a no
        (["s1", "s2", "s3"], ["s3"], {"s1": "yes", "s2": "no", "s3": "yes"}, (1, 1, 0, ["s3"], False)),  # a recused vote does not count
        (["s1", "s2"], ["s4"], {"s1": "yes", "s4": "no"}, (1, 0, 1, [], False)),  # absent members neither vote nor are recused
        (["s1", "s2", "s3"], ["s2"], {"s1": "yes", "s3": "yes"}, (2, 0, 0, ["s2"], True)),
    ])
    def test_tally(self, present: list[str], recused: list[str], votes: dict[str, str], tally: tuple[object, ...]) -> None:
        assert tuple(meeting_tally(present, recused, votes)) == tally


class TestProofOfUseSteps:
    @pytest.mark.parametrize(("status", "expected", "reviewable", "reclaimable"), [
        ("approved", False, False, False), ("paid", True, False, False), ("proof_submitted", False, True, False),
        ("rework_requested", True, False, False), ("proof_accepted", False, False, True), ("settled", False, False, False),
    ])
    def test_which_step_a_status_allows(self, status: str, expected: bool, reviewable: bool, reclaimable: bool) -> None:
        assert (proof_expected(status), proof_reviewable(status), proof_reclaimable(status)) == (expected, reviewable, reclaimable)
