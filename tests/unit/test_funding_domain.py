"""Pure decision rules of the funds (seed 000 "Härtefallfond", seed 002 §2/§5)."""

from __future__ import annotations

from datetime import date

import pytest

from services.funding.domain import add_months, deciders_required, majority, period_problem, quorum, screen
from services.funding.schemas import HardshipCriteria


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


# --- the discretionary fund's applicant portal (issue 14) -----------------------------------------

from services.funding.domain import (  # noqa: E402
    drawdown_problem,
    proof_problem,
    receipt_media_type,
    receipt_problem,
    review_problem,
    settlement,
)
from services.funding.schemas import ProofItem, ProofReview  # noqa: E402

MB = 1_000_000


class TestDrawdowns:
    def test_drawdowns_up_to_the_granted_amount_are_allowed(self) -> None:
        assert drawdown_problem(400_000, 0, 150_000) is None
        assert drawdown_problem(400_000, 150_000, 250_000) is None  # exactly the grant

    def test_a_drawdown_beyond_the_grant_is_refused_by_one_cent(self) -> None:
        assert "more than the 400000 cents granted" in (drawdown_problem(400_000, 150_000, 250_001) or "")

    def test_a_drawdown_must_be_positive(self) -> None:
        assert drawdown_problem(400_000, 0, 0) is not None


class TestSettlement:
    def test_unspent_paid_money_returns_and_undrawn_granted_money_is_released(self) -> None:
        assert settlement(400_000, 300_000, 250_000) == (50_000, 100_000)

    def test_nothing_to_give_back_when_everything_was_paid_and_spent(self) -> None:
        assert settlement(400_000, 400_000, 400_000) == (0, 0)

    @pytest.mark.parametrize(("granted", "paid", "spent"), [(100, 200, 0), (100, 50, 60), (100, 50, -1)])
    def test_impossible_figures_are_refused(self, granted: int, paid: int, spent: int) -> None:
        with pytest.raises(ValueError):
            settlement(granted, paid, spent)


class TestReceipts:
    PDF, PNG, JPEG = b"%PDF-1.7\n", b"\x89PNG\r\n\x1a\n\x00\x00", b"\xff\xd8\xff\xe0\x00\x10JFIF"

    def test_the_type_comes_from_the_magic_bytes(self) -> None:
        assert [receipt_media_type(h) for h in (self.PDF, self.PNG, self.JPEG)] == ["application/pdf", "image/png", "image/jpeg"]
        assert receipt_media_type(b"MZ\x90\x00") is None  # a Windows program named rechnung.pdf
        assert receipt_media_type(b"<html><script>") is None

    def test_an_exe_is_422_with_a_german_reason(self) -> None:
        assert receipt_problem(1000, b"MZ\x90\x00", 0, 5 * MB, 25 * MB) == (422, "Nur PDF-, PNG- oder JPEG-Dateien sind als Beleg erlaubt (der Inhalt ist keine solche Datei).")

    def test_too_large_is_413_each_and_in_total(self) -> None:
        assert receipt_problem(5 * MB + 1, self.PDF, 0, 5 * MB, 25 * MB) == (413, "Die Datei ist zu groß (höchstens 5 MB je Beleg).")
        assert receipt_problem(5 * MB, self.PDF, 0, 5 * MB, 25 * MB) is None
        assert receipt_problem(2 * MB, self.PDF, 24 * MB, 5 * MB, 25 * MB)[0] == 413  # type: ignore[index]

    def test_an_empty_file_is_refused(self) -> None:
        assert receipt_problem(0, b"", 0, 5 * MB, 25 * MB) == (422, "Die Datei ist leer.")


class TestProofOfUseRules:
    START = date(2026, 3, 1)

    def item(self, cents: int, on: date) -> ProofItem:
        return ProofItem(purpose="Honorar", amount_cents=cents, spent_on=on)

    def test_items_within_the_paid_amount_and_the_period_pass(self) -> None:
        assert proof_problem([self.item(100_000, date(2026, 3, 2)), self.item(50_000, date(2026, 4, 1))], 150_000, self.START, date(2026, 5, 1)) is None

    def test_items_adding_up_to_more_than_was_paid_are_refused_at_items(self) -> None:
        assert proof_problem([self.item(150_001, date(2026, 3, 2))], 150_000, self.START, date(2026, 5, 1))[0] == "items"  # type: ignore[index]

    def test_spending_before_the_start_or_in_the_future_names_the_item(self) -> None:
        assert proof_problem([self.item(1, date(2026, 3, 2)), self.item(1, date(2026, 2, 28))], 10, self.START, date(2026, 5, 1))[0] == "items.1.spent_on"  # type: ignore[index]
        assert proof_problem([self.item(1, date(2026, 5, 2))], 10, self.START, date(2026, 5, 1))[0] == "items.0.spent_on"  # type: ignore[index]

    def test_rework_needs_a_reason_acceptance_does_not(self) -> None:
        assert review_problem(ProofReview(decision="rework", reason="  ")) == ("reason", "a request for rework needs a reason")
        assert review_problem(ProofReview(decision="accept")) is None


def test_drawdowns_are_allowed_once_an_application_asking_for_them_is_approved() -> None:
    from services.funding.domain import drawdowns_allowed

    assert [drawdowns_allowed(True, s) for s in ("submitted", "in_round", "rejected", "approved", "paid")] == [False, False, False, True, True]
    assert drawdowns_allowed(False, "approved") is False
