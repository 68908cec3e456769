"""The operator console shows the ops API's reasons in German; the navigation gives every role a page."""

from __future__ import annotations

import pytest

from services.kit.auth import Role
from services.web.api.routes import german_reason, safe_next
from services.web.navigation import ITEMS, ROLE_LABELS, items_for


class TestGermanReasons:
    @pytest.mark.parametrize(
        ("reason", "german"),
        [
            ("timer 1 overdue since 2026-11-21T06:19:00+00:00", "Zeitgeber 1 überfällig seit 2026-11-21 06:19"),
            ("activity send_report in attempt 4", "Aktivität send_report im 4. Versuch"),
            ("workflow task failing (attempt 3)", "Worker scheitert an der Workflow-Aufgabe (3. Versuch)"),
            ("workflow task not picked up since 2026-11-21T06:19:00.5+00:00", "kein Worker nimmt die Arbeit an, seit 2026-11-21 06:19"),
        ],
    )
    def test_each_reason_reads_in_german(self, reason: str, german: str) -> None:
        assert german_reason(reason) == german

    def test_an_unknown_reason_is_shown_as_it_is(self) -> None:
        assert german_reason("something new") == "something new"


class TestNavigation:
    @pytest.mark.parametrize("role", list(Role))
    def test_every_role_has_a_german_name_and_more_than_the_work_list(self, role: Role) -> None:
        assert ROLE_LABELS[role]
        assert len(items_for([role.value])) >= 2

    def test_paths_are_unique(self) -> None:
        assert len({i.path for i in ITEMS}) == len(ITEMS)


class TestRedirectTargets:
    @pytest.mark.parametrize("target", ["//evil.example/", "https://evil.example/", "/\\\\evil.example", "", None])
    def test_only_paths_on_this_site_are_followed(self, target: str | None) -> None:
        assert safe_next(target) == "/"

    def test_a_path_on_this_site_is_kept(self) -> None:
        assert safe_next("/arbeitsliste") == "/arbeitsliste"


class TestApiErrorsAtTheirField:
    """The intake API's 422 locations are mapped to the interview step and form field (issue 7)."""

    KNOWN = ("date_of_birth", "move_in_date", "status_since", "residence_status", "nationality")

    @pytest.mark.parametrize(
        ("loc", "msg", "where"),
        [
            (["body", "household", "persons", "3", "date_of_birth"], "the draft is incomplete: Value error, must not be in the future",
             ("person", 3, "date_of_birth", "Das Datum darf nicht in der Zukunft liegen.")),
            (["body", "household", "persons", 0], "Value error, status_since is required for residence_status tolerated",
             ("person", 0, "status_since", "Bei Duldung bitte angeben, seit wann sie besteht.")),
            (["body", "household", "persons", "2"], "Value error, move_in_date must not be before date_of_birth",
             ("person", 2, "move_in_date", "Das Zuzugsdatum liegt vor dem Geburtsdatum.")),
            (["body", "household", "address", "postcode"], "Value error, must be 5 digits", ("haushalt", None, "postcode", "Die Postleitzahl hat 5 Ziffern.")),
            (["body", "household", "district"], "Field required", ("haushalt", None, "district", "Bitte ausfüllen.")),
            (["body", "household", "persons"], "a household needs at least one adult (18 or older)",
             ("personen", None, None, "Zum Haushalt gehört mindestens eine volljährige Person.")),
            (["body", "household", "persons", "1", "consents", "0", "given_on"], "Value error, must not be in the future",
             ("einwilligungen", 1, "consents", "Das Datum darf nicht in der Zukunft liegen.")),
            (["body", "content", "household", "persons", 0, "nationality"],
             "Value error, is not an ISO 3166-1 alpha-2 country code (unknown country; XXA stateless, XXX unclear)",
             ("person", 0, "nationality", "Diesen Staat gibt es nicht. Bitte aus der Liste wählen (auch „staatenlos“ oder „ungeklärt“).")),
            (["body", "household", "persons", "0", "languages", "1", "code"], "Value error, is not an ISO 639-1 language code (unknown language)",
             ("person", 0, "languages", "Diese Sprache gibt es nicht. Bitte aus der Liste wählen.")),
            (["body", "content", "household", "district"], "Value error, is not a district (Sozialraum) of the city; one of: Mitte",
             ("haushalt", None, "district", "Bitte einen Sozialraum der Stadt aus der Liste wählen.")),
            (["body", "household", "persons", "2", "literate"], "literate is required from age 6",
             ("person", 2, "literate", "Bitte angeben, ob die Person lesen und schreiben kann (ab 6 Jahren).")),
            (["body", "household", "referred_to_youth_welfare"], "referred_to_youth_welfare is only for a household of minors only (unaccompanied minors)",
             ("haushalt", None, "referred_to_youth_welfare", "Die Verweisung an das Jugendamt gilt nur für Haushalte ohne volljährige Person.")),
        ],
    )
    def test_each_location_names_step_person_and_field(self, loc: list, msg: str, where: tuple) -> None:
        from services.web.api.common import locate

        e = locate(loc, msg, self.KNOWN)
        assert (e.step, e.person, e.field, e.message) == where

    def test_an_unknown_message_keeps_the_services_words(self) -> None:
        from services.web.api.common import german_message

        assert german_message("something odd") == "Die Angabe ist ungültig (something odd)."


class TestBarChart:
    def test_the_chart_is_an_image_named_by_its_title_and_escapes_labels(self) -> None:
        from services.web.api.reporting import bar_chart

        svg = str(bar_chart("Fälle <neu>", [("A & B", 3), ("C", 0)], "c1"))
        assert 'role="img"' in svg and 'aria-labelledby="c1-titel"' in svg
        assert "Fälle &lt;neu&gt;" in svg and "A &amp; B" in svg
        assert svg.count("<rect") == 2
