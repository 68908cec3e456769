"""The applicant portal's pure helpers: euro amounts as organisations type them, and funding's 422
locations and reasons at the form's fields in German."""

from __future__ import annotations

import pytest

from services.web.api.portal import _field_of, api_errors, german, parse_euro
from services.web.backend import Answer


@pytest.mark.parametrize(("text", "cents"), [
    ("1.234,56", 123_456), ("1234,5", 123_450), ("1234", 123_400), ("1234.56", 123_456), ("3.500", 350_000),
    (" 500 € ", 50_000), ("0,99", 99),
])
def test_euro_amounts_in_german_and_plain_notation(text: str, cents: int) -> None:
    assert parse_euro(text) == cents


@pytest.mark.parametrize("text", ["", "zwölf", "1,234,5", "-5", "1.2.3,4", "12,345"])
def test_what_is_no_amount(text: str) -> None:
    assert parse_euro(text) is None


@pytest.mark.parametrize(("loc", "field"), [
    (["body", "guidelines", "new_approach"], "new_approach"),
    (["body", "budget_lines", 1, "amount_cents"], "line_amount_1"),
    (["body", "amount_cents"], "line_amount_0"),
    (["body", "items", 2, "spent_on"], "item_date_2"),
    (["body", "items"], "item_purpose_0"),
    (["body", "receipt_ids", 0], "belege"),
    (["body", "contact_email"], "contact_email"),
])
def test_api_locations_land_at_the_form_fields(loc: list[object], field: str) -> None:
    assert _field_of(loc) == field


def test_refusals_are_german_and_german_reasons_pass_through() -> None:
    answer = Answer("funding", 422, {"detail": [
        {"loc": ["body", "items"], "msg": "the items add up to 5 cents, more than the 4 cents paid out"},
        {"loc": ["body", "file"], "msg": "Die Datei ist zu groß (höchstens 5 MB je Beleg)."},
    ]})
    assert api_errors(answer) == {"item_purpose_0": "Die Ausgaben sind zusammen höher als der ausgezahlte Betrag.",
                                  "file": "Die Datei ist zu groß (höchstens 5 MB je Beleg)."}
    assert german("String should match pattern '^[^@]+$'") == "Bitte eine gültige E-Mail-Adresse angeben."
