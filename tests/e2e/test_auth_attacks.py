"""Token forgeries on every route of the four services, against the running stack (bench/faults/auth_attacks.py,
the short form of `python -m bench.faults.auth_attacks`): routes are enumerated from the apps, so a route added
later is attacked too. Forgeries are refused before any handler runs, so all of them on all routes is cheap."""

from __future__ import annotations

import pytest

from bench.faults.auth_attacks import Report, attack, service_routes
from services.kit.migrations import SERVICES
from tests.support.stack import RunningStack

pytestmark = pytest.mark.stack


@pytest.fixture(scope="module")
async def report(stack: RunningStack) -> Report:
    return await attack(stack)


class TestEveryRouteIsAttacked:
    def test_routes_of_every_service_are_enumerated_from_the_apps(self) -> None:
        routes = service_routes()
        assert {r.service for r in routes} == set(SERVICES)
        assert any(r.path == "/ops/dead-letters" for r in routes) and any(r.path == "/measures/{number}/figures/{period}" for r in routes)

    def test_every_forgery_is_tried_on_every_protected_route(self, report: Report) -> None:
        tried: dict[str, set[str]] = {}
        for o in report.outcomes:
            tried.setdefault(o.attempt.forgery, set()).add(str(o.attempt.route))
        assert len(tried["alg none"]) == len(tried["no token"]) == len(tried["expired"]) == report.routes > 100
        assert {"wrong key", "RS256 header, HMAC of the local secret", "HS256 signed with an RSA public key", "other issuer (another city)",
                "no exp (never expires)", "another role", "another tenant (org1)", "another tenant (provider1)"} <= set(tried)


class TestNoForgeryGetsIn:
    def test_no_forged_token_or_foreign_account_gets_a_2xx(self, report: Report) -> None:
        assert not report.accepted, [f"{o.attempt.route} [{o.attempt.forgery}] -> {o.status}" for o in report.accepted]

    def test_forgeries_get_401_other_roles_403_other_tenants_403_or_404(self, report: Report) -> None:
        assert not report.unexpected, [f"{o.attempt.route} [{o.attempt.forgery}] -> {o.status}" for o in report.unexpected][:20]

    def test_a_token_without_exp_is_refused(self, report: Report) -> None:
        assert {o.status for o in report.outcomes if o.attempt.forgery == "no exp (never expires)"} == {401}


class TestEveryRefusalIsAudited:
    def test_each_403_has_its_audit_row_with_actor_role_and_the_routes_record_type(self, report: Report) -> None:
        assert len(report.forbidden) > 100
        assert report.audited_403 == len(report.forbidden), report.unaudited[:20]
