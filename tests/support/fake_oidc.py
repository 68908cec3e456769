"""A tiny OIDC provider for tests (Keycloak-shaped tokens: roles in realm_access.roles): discovery,
authorize (signs in `next_user` without a form), token (authorization code with PKCE S256 checked,
refresh token) and JWKS, served by uvicorn on a free loopback port."""

from __future__ import annotations

import base64
import hashlib
import secrets
import threading
import time
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import jwt
import uvicorn
from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI, Form
from fastapi.responses import JSONResponse, RedirectResponse

from deploy.stack import free_port


@dataclass
class FakeOidc:
    client_id: str = "ankommen-web"
    audience: str = "ankommen"
    expires_in: int = 300
    next_user: tuple[str, list[str]] = ("op.meier", ["operator"])
    codes: dict[str, dict[str, Any]] = field(default_factory=dict)
    refreshes: int = 0
    port: int = 0

    def __post_init__(self) -> None:
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        jwk = jwt.algorithms.RSAAlgorithm.to_jwk(self.key.public_key(), as_dict=True)
        self.jwks = {"keys": [{**jwk, "kid": "k1", "use": "sig", "alg": "RS256"}]}

    @property
    def issuer(self) -> str:
        return f"http://127.0.0.1:{self.port}/realms/ankommen"

    def _sign(self, claims: dict[str, Any]) -> str:
        now = int(time.time())
        return jwt.encode({"iss": self.issuer, "iat": now, "exp": now + self.expires_in, **claims}, self.key, algorithm="RS256", headers={"kid": "k1"})

    def _tokens(self, user: str, roles: list[str], nonce: str | None) -> dict[str, Any]:
        access = self._sign({"aud": self.audience, "sub": user, "realm_access": {"roles": roles}, "azp": self.client_id})
        ident = self._sign({"aud": self.client_id, "sub": user, "name": f"Test {user}", **({"nonce": nonce} if nonce else {})})
        refresh = secrets.token_urlsafe(16)
        self.codes[f"refresh:{refresh}"] = {"user": user, "roles": roles}
        return {"access_token": access, "id_token": ident, "refresh_token": refresh, "token_type": "Bearer", "expires_in": self.expires_in}

    def app(self) -> FastAPI:
        app = FastAPI()
        base = "/realms/ankommen"

        @app.get(base + "/.well-known/openid-configuration")
        async def discovery() -> dict[str, Any]:
            return {
                "issuer": self.issuer, "authorization_endpoint": self.issuer + "/protocol/openid-connect/auth",
                "token_endpoint": self.issuer + "/protocol/openid-connect/token", "jwks_uri": self.issuer + "/protocol/openid-connect/certs",
            }

        @app.get(base + "/protocol/openid-connect/certs")
        async def certs() -> dict[str, Any]:
            return self.jwks

        @app.get(base + "/protocol/openid-connect/auth")
        async def authorize(
            response_type: str, client_id: str, redirect_uri: str, state: str, nonce: str, code_challenge: str, code_challenge_method: str, scope: str = ""
        ) -> RedirectResponse:
            assert response_type == "code" and client_id == self.client_id and code_challenge_method == "S256" and "openid" in scope
            code = secrets.token_urlsafe(16)
            user, roles = self.next_user
            self.codes[code] = {"challenge": code_challenge, "nonce": nonce, "redirect_uri": redirect_uri, "user": user, "roles": roles}
            return RedirectResponse(redirect_uri + "?" + urlencode({"code": code, "state": state}), status_code=302)

        @app.post(base + "/protocol/openid-connect/token")
        async def token(
            grant_type: str = Form(), client_id: str = Form(), code: str = Form(""), redirect_uri: str = Form(""),
            code_verifier: str = Form(""), refresh_token: str = Form(""),
        ) -> JSONResponse:
            if client_id != self.client_id:
                return JSONResponse({"error": "invalid_client"}, 401)
            if grant_type == "refresh_token":
                entry = self.codes.pop(f"refresh:{refresh_token}", None)
                if entry is None:
                    return JSONResponse({"error": "invalid_grant"}, 400)
                self.refreshes += 1
                return JSONResponse(self._tokens(entry["user"], entry["roles"], None))
            entry = self.codes.pop(code, None)
            challenge = base64.urlsafe_b64encode(hashlib.sha256(code_verifier.encode()).digest()).rstrip(b"=").decode()
            if entry is None or entry["redirect_uri"] != redirect_uri or not secrets.compare_digest(entry["challenge"], challenge):
                return JSONResponse({"error": "invalid_grant"}, 400)
            return JSONResponse(self._tokens(entry["user"], entry["roles"], entry["nonce"]))

        return app

    def start(self) -> None:
        self.port = free_port()
        self.server = uvicorn.Server(uvicorn.Config(self.app(), host="127.0.0.1", port=self.port, log_level="warning", lifespan="off"))
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("fake OIDC provider did not start")
            time.sleep(0.02)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(5)
