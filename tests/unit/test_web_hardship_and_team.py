"""The hardship form's and the caseworker register's translation of what staff type and what the
services answer: German amounts in cents, each decision in the caseworker's words, and funding's and
casework's 422 locations at the form's fields."""

from __future__ import annotations

import pytest

from services.web.api import hardship_case as hc
from services.web.api import team
from services.web.backend import Answer

KNOWN = {"person_id", "amount", "purpose_category", "purpose", "period_start", "period_end", "justification", "responsible_office",
         "legal_entitlement_elsewhere", "caused_by_authority_error", "undermines_self_reliance"}


def refused(*detail: tuple[list, str]) -> Answer:
    return Answer("funding", 422, {"detail": [{"loc": loc, "msg": msg} for loc, msg in detail]})


class TestAmounts:
    @pytest.mark.parametrize(("text", "cents"), [("250", 25_000), ("1.250,50", 125_050), ("250,5", 25_050), ("1250", 125_000), ("250 €", 25_000)])
    def test_german_amounts_in_cents(self, text: str, cents: int) -> None:
        assert hc.cents(text) == cents

    @pytest.mark.parametrize("text", ["viel", "12,345", "1,2,3", "-5", "12.34"])
    def test_no_amount(self, text: str) -> None:
        assert hc.cents(text) is None


class TestDecisionInWords:
    def app(self, status: str, **kw: object) -> dict:
        return {"status": status, "amount_cents": 25_000, "deciders": [], "deciders_required": 2, "escalated": False, "reason": None,
                "responsible_office": None, **kw}

    @pytest.mark.parametrize(("app", "text"), [
        ({"status": "pending", "deciders": ["fundmanager"]}, "offen: die Geschäftsführung entscheidet (1 von 2 Entscheidungen)"),
        ({"status": "approved"}, "bewilligt: 250,00 €"),
        ({"status": "payment_ordered"}, "bewilligt: 250,00 €, Auszahlung angeordnet"),
        ({"status": "disbursed"}, "ausgezahlt: 250,00 €"),
        ({"status": "rejected", "reason": "caused_by_authority"}, "abgelehnt: Bedarf durch Fehler einer anderen Behörde verursacht"),
        ({"status": "redirected", "responsible_office": "Jobcenter Hamm"}, "an zuständige Stelle verwiesen: Jobcenter Hamm"),
        ({"status": "cancelled"}, "storniert"),
    ])
    def test_each_state(self, app: dict, text: str) -> None:
        assert hc.state_text(self.app(**app)) == text


class TestFundingsAnswersAtTheFields:
    def test_a_missing_confirmation_is_named_at_its_checkbox(self) -> None:
        errors = hc._api_errors(refused((["body", "criteria", "caused_by_authority_error"], "Field required")), KNOWN)
        assert errors["caused_by_authority_error"].startswith("Bitte bestätigen.")

    def test_the_criteria_models_own_check_is_shown_at_the_responsible_office(self) -> None:
        msg = "Value error, responsible_office is required when a legal entitlement exists elsewhere"
        assert hc._api_errors(refused((["body", "criteria"], msg)), KNOWN) == {
            "responsible_office": "Bitte die zuständige Stelle nennen oder bestätigen, dass kein Rechtsanspruch besteht."}

    def test_the_amount_in_cents_is_the_amount_field(self) -> None:
        assert set(hc._api_errors(refused((["body", "amount_cents"], "Input should be greater than 0")), KNOWN)) == {"amount"}

    def test_a_period_too_long_names_the_months(self) -> None:
        errors = hc._api_errors(refused((["body", "period_end"], "the period must be clearly limited to at most 6 months")), KNOWN)
        assert errors == {"period_end": "Der Zeitraum muss klar begrenzt sein: höchstens 6 Monate."}

    def test_a_refusal_without_a_field_goes_to_the_summary(self) -> None:
        answer = Answer("funding", 409, {"detail": "the case is closed", "code": "conflict"})
        assert hc._api_errors(answer, KNOWN) == {"_": "Der Fall ist abgeschlossen; ein Antrag ist nicht mehr möglich."}


class TestCaseworksAnswersAtTheRegistersFields:
    def test_a_list_item_is_shown_at_its_list_field(self) -> None:
        answer = Answer("casework", 422, {"detail": [{"loc": ["body", "languages", 1], "msg": "String should match pattern"}]})
        assert team._api_errors(answer, ("username", "districts", "languages", "fte")) == {
            "languages": "Bitte zweistellige Sprachcodes angeben, z. B. de, ar."}

    def test_a_registered_user_name_is_a_conflict_at_the_user_name(self) -> None:
        answer = Answer("casework", 409, {"detail": "a caseworker with this user name is already in the register", "code": "conflict", "field": "username"})
        assert team._api_errors(answer, ("username", "districts")) == {"username": "Diese Fachkraft ist bereits im Register."}

    def test_an_fte_is_read_with_a_decimal_comma(self) -> None:
        body, errors = team._register_body({"districts": "Westen, Mitte", "languages": "", "fte": "0,75", "cap": ""}, team.CHANGE_FIELDS)
        assert errors == {} and body == {"districts": ["Westen", "Mitte"], "languages": [], "fte": 0.75}
