"""The case page's vocabularies and texts: all 18 fields of action (000 §4) and every close reason,
partner and purpose casework accepts have German names; casework's reasons read in German at the right
field; a goal's revisions say what changed."""

from __future__ import annotations

import pytest

from services.casework.domain import CloseReason, GoalStatus, Responsible
from services.contracts.vocab import FieldOfAction, Partner, Purpose
from services.web.api import casework as cw


class TestVocabularies:
    def test_every_field_of_action_has_its_german_name(self) -> None:
        assert sorted(cw.FIELDS_OF_ACTION) == [f.value for f in FieldOfAction] == list(range(1, 19))
        assert cw.FIELDS_OF_ACTION[4] == "Praktische Unterstützung"
        options = cw._goal_fields({})[0].options
        assert options is not None and len(options) == 18 and options["18"] == "18 Interkulturelle Systementwicklung"

    @pytest.mark.parametrize(("labels", "vocabulary"), [
        (cw.CLOSE_REASONS, CloseReason), (cw.CONSENT_PARTNERS, Partner), (cw.PURPOSES, Purpose),
        (cw.GOAL_STATUS, GoalStatus), (cw.RESPONSIBLE, Responsible),
    ])
    def test_every_value_casework_accepts_has_a_german_label(self, labels: dict[str, str], vocabulary: type) -> None:
        assert set(labels) == {v.value for v in vocabulary}


class TestCaseworkReasons:
    @pytest.mark.parametrize(("reason", "german"), [
        ("the first contact cannot be in the future", "Der Erstkontakt kann nicht in der Zukunft liegen."),
        ("no active consent for this partner", "Für diesen Partner liegt keine wirksame Einwilligung vor."),
        ("a consent cannot be dated in the future", "Die Einwilligung kann nicht in der Zukunft datiert sein."),
        ("the client has to agree to the integration agreement", "Die Klientin / der Klient muss der Integrationsvereinbarung zustimmen."),
        ("the case is already closed", "Der Fall ist bereits abgeschlossen."),
        ("the caseworker has no room (caseload cap reached or on leave)", "Diese Fachkraft hat keinen freien Platz (Obergrenze erreicht oder abwesend)."),
    ])
    def test_each_reason_reads_in_german(self, reason: str, german: str) -> None:
        assert cw._german(reason) == german

    def test_a_referral_without_consent_still_asks_for_the_consent(self) -> None:
        assert "Bitte zuerst die Einwilligung erfassen" in cw._german("no documented consent (Einwilligung) for integration_point")

    def test_errors_outside_the_form_go_to_its_summary(self) -> None:
        fields = cw._forms([], [], {})["agreement_fields"]
        assert cw._at_fields({"agreed_by_client": "a", "goals": "b", "plan": "c"}, fields) == {"agreed_by_client": "a", "_": "b c"}


class TestRevisions:
    def test_each_revision_names_what_changed_against_the_one_before_newest_first(self) -> None:
        first = {"revision": 1, "at": "2026-11-20T09:00:00Z", "by": "caseworker4", "field_of_action": 3, "title": "Arbeit",
                 "target_date": "2027-09-30", "responsible": "client", "status": "open"}
        second = {**first, "revision": 2, "title": "Arbeit in Teilzeit", "status": "partly"}
        newest, oldest = cw._changes([first, second])
        assert newest["changes"] == [("Titel", "Arbeit", "Arbeit in Teilzeit"), ("Stand", "offen", "teilweise erreicht")]
        assert ("Handlungsfeld", None, "3 Arbeit") in oldest["changes"] and ("Zieldatum", None, "30.09.2027") in oldest["changes"]

    def test_a_move_to_another_field_and_person_is_named_with_their_labels(self) -> None:
        persons = cw._person_labels(["aaaaaaaa-0000-0000-0000-000000000001", "bbbbbbbb-0000-0000-0000-000000000002"])
        first = {"revision": 1, "at": "2026-11-20T09:00:00Z", "by": "caseworker4", "field_of_action": 3, "title": "Arbeit",
                 "target_date": "2027-09-30", "responsible": "client", "status": "open", "person_id": None}
        second = {**first, "revision": 2, "field_of_action": 5, "person_id": "bbbbbbbb-0000-0000-0000-000000000002"}
        newest, _ = cw._changes([first, second], persons)
        assert newest["changes"] == [("Handlungsfeld", "3 Arbeit", f"5 {cw.FIELDS_OF_ACTION[5]}"),
                                     ("Person", "ganzer Haushalt", "Person 2 (bbbbbbbb)")]

    def test_a_revision_kept_before_persons_were_recorded_does_not_claim_a_person_change(self) -> None:
        old = {"revision": 1, "at": "2026-11-20T09:00:00Z", "by": "cw", "field_of_action": 3, "title": "Arbeit",
               "target_date": "2027-09-30", "responsible": "client", "status": "open"}
        new = {**old, "revision": 2, "status": "partly", "person_id": None}
        newest, _ = cw._changes([old, new])
        assert newest["changes"] == [("Stand", "offen", "teilweise erreicht")]


class TestGoalPageFields:
    def test_field_of_action_and_person_are_offered_with_german_and_pseudonymous_labels(self) -> None:
        persons = cw._person_labels(["aaaaaaaa-0000-0000-0000-000000000001"])
        fields = {f.name: f for f in cw._goal_edit_fields(persons)}
        assert list(fields) == ["field_of_action", "title", "person_id", "target_date", "responsible", "status"]
        assert fields["field_of_action"].options == {str(k): f"{k} {v}" for k, v in cw.FIELDS_OF_ACTION.items()}
        assert len(fields["field_of_action"].options or {}) == 18
        assert fields["person_id"].options == {"aaaaaaaa-0000-0000-0000-000000000001": "Person 1 (aaaaaaaa)"} and fields["person_id"].optional

    def test_a_goal_for_the_whole_household_shows_no_person_selected(self) -> None:
        goal = {"field_of_action": 3, "title": "Arbeit", "person_id": None, "target_date": "2027-09-30", "responsible": "client", "status": "open"}
        assert cw._goal_values(goal, cw._goal_edit_fields({}))["person_id"] == ""


class TestCloseConfirmation:
    def test_only_the_reasons_casework_knows_pass(self) -> None:
        fields = cw._forms([], [], {})["close_fields"]
        assert cw._close_errors({"reason": ""}, fields) == {"reason": "Bitte wählen."}
        assert cw._close_errors({"reason": "bored"}, fields) == {"reason": "Bitte einen der angebotenen Gründe wählen."}
        assert cw._close_errors({"reason": "moved_away"}, fields) == {}

    def test_the_page_names_the_reason_in_german_what_closing_does_and_both_buttons(self) -> None:
        from services.web.api.routes import TEMPLATES

        case_id = "12345678-0000-0000-0000-000000000000"
        members = ["aaaaaaaa-0000-0000-0000-000000000001", "bbbbbbbb-0000-0000-0000-000000000002"]
        html = TEMPLATES.get_template("cw_close_confirm.html").render(
            case={"case_id": case_id, "phase": "integration", "district": "Mitte", "caseworker": "caseworker", "opened_at": "2026-11-01T09:00:00Z"},
            members=members, person_labels=cw._person_labels(members), reason="no_contact",
            open_referrals=[{"partner": "integration_point"}], csrf="tok", session=None, nav=[], role_labels={}, flash=None, **cw.LABELS)
        assert "Fall wirklich abschließen?" in html and "Fall 12345678" in html
        assert "Person 1 (aaaaaaaa), Person 2 (bbbbbbbb)" in html and "kein Kontakt mehr" in html
        assert "1 offene Überleitung (Integration Point) wird beendet." in html and "Überprüfungen des Integrationsplans enden" in html
        assert f'action="/faelle/{case_id}/abschluss"' in html and 'name="reason" value="no_contact"' in html and 'value="tok"' in html
        assert f'method="get" action="/faelle/{case_id}"' in html and ">Abbrechen</button>" in html
