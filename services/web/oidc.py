"""Sign-in with OIDC (e.g. Keycloak): authorization code flow with PKCE (RFC 7636, S256), state and
nonce checked, tokens kept in the server-side session and refreshed with the refresh token. The access
token is verified like the services verify it (kit Authenticator: JWKS, issuer, audience, roles claim),
so the web application shows exactly the roles the services will accept."""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from typing import Any
from urllib.parse import urlencode

import httpx
import jwt

from services.kit.auth import Authenticator, Principal, UserDirectory
from services.kit.errors import Unauthorized
from services.kit.settings import PlatformSettings
from services.web.sessions import Session
from services.web.settings import WebSettings


class OidcError(Exception):
    pass


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def pkce_pair() -> tuple[str, str]:
    verifier = _b64(secrets.token_bytes(48))
    return verifier, _b64(hashlib.sha256(verifier.encode()).digest())


class Oidc:
    def __init__(self, settings: WebSettings, platform: PlatformSettings, http: httpx.AsyncClient) -> None:
        if not platform.oidc_issuer:
            raise ValueError("WEB_SIGN_IN=oidc needs ANKOMMEN_OIDC_ISSUER")
        self.settings = settings
        self.platform = platform
        self.http = http
        self.discovery_url = settings.oidc_discovery_url or platform.oidc_issuer.rstrip("/") + "/.well-known/openid-configuration"
        self._meta: dict[str, Any] | None = None
        self._jwks: jwt.PyJWKClient | None = None
        self._auth = Authenticator(platform, UserDirectory([]))

    async def metadata(self) -> dict[str, Any]:
        if self._meta is None:
            r = await self.http.get(self.discovery_url)
            r.raise_for_status()
            self._meta = r.json()
            self._jwks = jwt.PyJWKClient(self.platform.oidc_jwks_url or self._meta["jwks_uri"])
            if self._auth._jwks is None:
                self._auth._jwks = self._jwks
        return self._meta

    async def authorization_url(self, session: Session) -> str:
        meta = await self.metadata()
        verifier, challenge = pkce_pair()
        session.oidc = {"state": secrets.token_urlsafe(24), "nonce": secrets.token_urlsafe(24), "verifier": verifier}
        query = {
            "response_type": "code", "client_id": self.settings.oidc_client_id, "redirect_uri": self.settings.oidc_redirect_url,
            "scope": self.settings.oidc_scopes, "state": session.oidc["state"], "nonce": session.oidc["nonce"],
            "code_challenge": challenge, "code_challenge_method": "S256",
        }
        return meta["authorization_endpoint"] + "?" + urlencode(query)

    async def _token_request(self, data: dict[str, str]) -> dict[str, Any]:
        meta = await self.metadata()
        data = {**data, "client_id": self.settings.oidc_client_id}
        if self.settings.oidc_client_secret:
            data["client_secret"] = self.settings.oidc_client_secret
        r = await self.http.post(meta["token_endpoint"], data=data)
        if r.status_code != 200:
            raise OidcError(f"token endpoint answered {r.status_code}")
        return r.json()

    async def finish(self, session: Session, code: str, state: str) -> tuple[Principal, dict[str, Any]]:
        """The callback: state must match, the ID token's nonce must match, the access token must be one
        the services accept."""
        expected = session.oidc
        session.oidc = {}
        if not expected or not secrets.compare_digest(expected.get("state", ""), state):
            raise OidcError("state does not match")
        tokens = await self._token_request(
            {"grant_type": "authorization_code", "code": code, "redirect_uri": self.settings.oidc_redirect_url, "code_verifier": expected["verifier"]}
        )
        id_token = tokens.get("id_token")
        if not id_token:
            raise OidcError("no ID token")
        assert self._jwks is not None
        try:
            key = self._jwks.get_signing_key_from_jwt(id_token)
            id_claims = jwt.decode(id_token, key.key, algorithms=["RS256", "ES256"], audience=self.settings.oidc_client_id, issuer=self.platform.oidc_issuer)
        except jwt.PyJWTError as exc:
            raise OidcError("ID token invalid") from exc
        if not secrets.compare_digest(str(id_claims.get("nonce", "")), expected["nonce"]):
            raise OidcError("nonce does not match")
        principal = self.principal(tokens["access_token"])
        return principal, {**tokens, "id_claims": id_claims}

    def principal(self, access_token: str) -> Principal:
        try:
            return self._auth.authenticate(access_token)
        except Unauthorized as exc:
            raise OidcError(exc.message) from exc

    async def refresh(self, session: Session) -> bool:
        if not session.refresh_token:
            return False
        try:
            tokens = await self._token_request({"grant_type": "refresh_token", "refresh_token": session.refresh_token})
            principal = self.principal(tokens["access_token"])
        except (OidcError, httpx.HTTPError, KeyError):
            return False
        session.token = tokens["access_token"]
        session.refresh_token = tokens.get("refresh_token", session.refresh_token)
        session.token_expires = time.time() + int(tokens.get("expires_in", 300))
        session.roles = sorted(principal.roles)
        return True
