"""The catalogue screens' mapping of form text to the reporting API's JSON and of its 422 answers back
to form fields (services/web/api/reporting_catalogue.py): the web app checks nothing itself."""

from __future__ import annotations

from services.web.api.reporting_catalogue import FORM_FIELDS, _field_errors, _number


def test_whole_numbers_become_numbers_and_anything_else_goes_to_the_api_as_typed() -> None:
    assert [_number(v) for v in ("12", " 7 ", "-2", "250.000", "zwölf", "", "2,5")] == [12, 7, -2, 250000, "zwölf", "", "2,5"]


def test_an_error_at_a_figure_key_lands_at_that_field_in_german() -> None:
    body = {"detail": [
        {"loc": ["body", "values", "participants"], "msg": "must be a whole number"},
        {"loc": ["body", "values", "families_reached"], "msg": "must not be negative"},
        {"loc": ["path", "period"], "msg": "2099-Q1 has not begun; figures are reported for the current or a past quarter"},
    ]}
    assert _field_errors(body, ("participants", "families_reached", "values")) == {
        "participants": "Bitte eine ganze Zahl angeben.", "families_reached": "Die Zahl darf nicht negativ sein.",
        "_": "Dieses Quartal hat noch nicht begonnen.",
    }


def test_catalogue_errors_land_at_their_fields() -> None:
    body = {"detail": [
        {"loc": ["body", "third_party_eur"], "msg": "Input should be a valid integer, unable to parse string as an integer"},
        {"loc": ["body", "fields_of_action", 0], "msg": "Input should be a valid integer"},
        {"loc": ["body", "name"], "msg": "String should have at least 1 character"},
    ]}
    assert _field_errors(body, FORM_FIELDS) == {
        "third_party_eur": "Bitte eine ganze Zahl angeben.", "fields_of_action": "Bitte eine ganze Zahl angeben.", "name": "Bitte ausfüllen.",
    }
