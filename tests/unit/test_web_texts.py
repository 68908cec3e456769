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
