"""Sign-in to the web application with OIDC (authorization code flow with PKCE) against a small fake
provider with Keycloak-shaped tokens, sessions in real Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from services.kit.settings import PlatformSettings
from services.web.app import create_app
from services.web.settings import WebSettings
from tests.support.fake_oidc import FakeOidc

WEB = "http://web.test"


@pytest.fixture(scope="module")
def provider() -> Iterator[FakeOidc]:
    p = FakeOidc()
    p.start()
    yield p
    p.stop()


@pytest.fixture
async def web(provider: FakeOidc, redis_url: str) -> AsyncIterator[httpx.AsyncClient]:
    settings = WebSettings(sign_in="oidc", oidc_client_id=provider.client_id, oidc_redirect_url=f"{WEB}/anmelden/oidc/rueckruf")
    platform = PlatformSettings(
        redis_url=redis_url, oidc_issuer=provider.issuer, oidc_audience=provider.audience, oidc_roles_claim="realm_access.roles"
    )
    app = create_app(settings, platform)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url=WEB) as client:
            yield client


async def authorize(web: httpx.AsyncClient) -> str:
    """Starts the flow in `web`'s session and lets the provider answer; returns the callback path."""
    start = await web.get("/anmelden/oidc")
    assert start.status_code == 303
    location = start.headers["location"]
    query = parse_qs(urlsplit(location).query)
    assert query["code_challenge_method"] == ["S256"] and query["code_challenge"][0] and query["nonce"][0]
    async with httpx.AsyncClient() as browser:
        answer = await browser.get(location)
    assert answer.status_code == 302
    callback = answer.headers["location"]
    assert callback.startswith(WEB + "/anmelden/oidc/rueckruf?")
    return callback.removeprefix(WEB)


class TestOidcSignIn:
    async def test_the_sign_in_page_offers_the_city_account(self, web: httpx.AsyncClient) -> None:
        r = await web.get("/anmelden")
        assert r.status_code == 200 and 'href="/anmelden/oidc"' in r.text and 'name="password"' not in r.text

    async def test_a_user_signs_in_with_the_roles_of_the_provider(self, web: httpx.AsyncClient, provider: FakeOidc) -> None:
        provider.next_user = ("op.meier", ["operator", "not_an_ankommen_role"])
        r = await web.get(await authorize(web))
        assert r.status_code == 303 and r.headers["location"] == "/"
        start = await web.get("/")
        assert start.status_code == 200
        assert "Test op.meier" in start.text and "Betrieb (IT)" in start.text and "Hängende Vorgänge" in start.text

    async def test_a_callback_from_another_session_is_refused(self, web: httpx.AsyncClient, provider: FakeOidc) -> None:
        callback = await authorize(web)
        async with httpx.AsyncClient(transport=web._transport, base_url=WEB) as other:  # type: ignore[attr-defined]
            r = await other.get(callback)
            assert r.status_code == 400 and "Die Anmeldung ist fehlgeschlagen" in r.text
            assert (await other.get("/")).status_code == 303

    async def test_a_forged_state_is_refused(self, web: httpx.AsyncClient) -> None:
        callback = await authorize(web)
        code = parse_qs(urlsplit(callback).query)["code"][0]
        r = await web.get("/anmelden/oidc/rueckruf", params={"code": code, "state": "forged"})
        assert r.status_code == 400
        assert (await web.get("/")).status_code == 303

    async def test_a_short_lived_access_token_is_refreshed(self, web: httpx.AsyncClient, provider: FakeOidc) -> None:
        provider.next_user = ("cw.schulz", ["caseworker"])
        provider.expires_in = 20  # shorter than the 30 s margin: the next page refreshes it
        try:
            await web.get(await authorize(web))
            before = provider.refreshes
            r = await web.get("/")
        finally:
            provider.expires_in = 300
        assert r.status_code == 200 and "Integrationskoordination" in r.text
        assert provider.refreshes == before + 1


class TestCookieOverHttps:
    async def test_over_https_the_session_cookie_is_secure_and_host_bound(self, redis_url: str) -> None:
        app = create_app(WebSettings(), PlatformSettings(redis_url=redis_url))
        async with app.router.lifespan_context(app):
            async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="https://web.test") as client:
                r = await client.get("/anmelden")
        cookie = r.headers["set-cookie"]
        assert cookie.startswith("__Host-ankommen_sitzung=")
        assert "Secure" in cookie and "HttpOnly" in cookie and "Path=/" in cookie and "Domain" not in cookie
        assert r.headers["content-security-policy"].startswith("default-src 'self'")
        assert r.headers["x-frame-options"] == "DENY" and r.headers["cache-control"] == "no-store"
