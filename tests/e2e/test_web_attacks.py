"""The web application under attack, against the running stack (bench/faults/web_attacks.py, the same checks as
`python -m bench.faults.web_attacks`): pages and POST routes are enumerated from the app, so a new screen is
covered without touching this file."""

from __future__ import annotations

import pytest

from bench.faults.web_attacks import Figures, attack, web_routes
from tests.support.stack import RunningStack

pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
async def figures(stack: RunningStack) -> Figures:
    return await attack(stack)


class TestHeaders:
    def test_every_page_error_page_and_download_has_the_security_headers(self, figures: Figures) -> None:
        assert figures.pages_checked >= len([r for r in web_routes() if r.method == "GET" and r.roles is not None])
        assert {200, 403, 404, 405} <= set(figures.statuses)
        assert figures.headers_missing == []


class TestSessionCookie:
    def test_the_cookie_is_http_only_same_site_and_secure_behind_a_tls_proxy(self, figures: Figures) -> None:
        assert figures.cookie and all(figures.cookie.values()), figures.cookie


class TestCsrf:
    def test_every_post_route_refuses_a_missing_and_a_wrong_token(self, figures: Figures) -> None:
        assert figures.post_routes == len([r for r in web_routes() if r.method == "POST"]) > 40
        assert figures.csrf_not_refused == []
        assert figures.csrf_refusals == 2 * figures.post_routes


class TestSignInLock:
    def test_the_tenth_wrong_password_locks_the_account_with_a_german_message(self, figures: Figures) -> None:
        assert figures.account_attempts_until_lock == 10
        assert figures.locked_message_german

    def test_a_locked_account_is_refused_even_the_right_password(self, figures: Figures) -> None:
        assert figures.right_password_refused_while_locked

    def test_ten_wrong_passwords_from_one_address_lock_that_address(self, figures: Figures) -> None:
        assert figures.address_attempts_until_lock == 10

    def test_wrong_passwords_locks_and_refusals_are_audited(self, figures: Figures) -> None:
        assert figures.sign_in_audit.get("wrong_password", 0) == 18
        assert figures.sign_in_audit.get("locked", 0) == 2
        assert figures.sign_in_audit.get("refused_locked", 0) >= 1


class TestSessionFixation:
    def test_sign_in_issues_a_new_session_id_and_the_old_one_is_dead(self, figures: Figures) -> None:
        assert figures.fixation and all(figures.fixation.values()), figures.fixation
