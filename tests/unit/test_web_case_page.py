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
