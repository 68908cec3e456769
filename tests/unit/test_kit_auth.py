"""The kit's token check without a server: a correctly signed local token is accepted; one without `exp`
(it would never expire), `iat` or `sub` is not; nor an HS256 token when only OIDC is configured (alg
confusion with the provider's public key); and a refused request's audit names the route's record type."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time

import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from services.kit.audit import route_record, route_record_id
from services.kit.auth import Authenticator, UserDirectory
from services.kit.errors import Unauthorized
from services.kit.settings import PlatformSettings

SECRET = "s" * 48


def b64(b: bytes) -> str:
    return base64.urlsafe_b64encode(b).rstrip(b"=").decode()


def local() -> Authenticator:
    return Authenticator(PlatformSettings(auth_secret=SECRET), UserDirectory([]))


def claims(**change: object) -> dict[str, object]:
    now = int(time.time())
    c: dict[str, object] = {"iss": "ankommen", "aud": "ankommen", "sub": "frontdesk", "roles": ["front_desk"], "iat": now, "exp": now + 60}
    c.update(change)
    return {k: v for k, v in c.items() if v is not None}


class TestLocalTokens:
    def test_a_correctly_signed_token_is_accepted(self) -> None:
        principal = local().authenticate(jwt.encode(claims(), SECRET, algorithm="HS256"))
        assert principal.username == "frontdesk" and principal.roles == {"front_desk"}

    @pytest.mark.parametrize("missing", ["exp", "iat", "sub"])
    def test_a_token_without_a_required_claim_is_refused(self, missing: str) -> None:
        with pytest.raises(Unauthorized):
            local().authenticate(jwt.encode(claims(**{missing: None}), SECRET, algorithm="HS256"))


class TestOidcOnly:
    def test_an_hs256_token_signed_with_the_providers_public_key_is_refused(self) -> None:
        key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        pem = key.public_key().public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        settings = PlatformSettings(auth_secret="", oidc_issuer="https://sso.example", oidc_jwks_url="https://sso.example/certs", oidc_audience="ankommen")
        signing_input = f"{b64(json.dumps({'alg': 'HS256', 'typ': 'JWT'}).encode())}.{b64(json.dumps(claims(iss='https://sso.example')).encode())}"
        token = f"{signing_input}.{b64(hmac.new(pem, signing_input.encode(), hashlib.sha256).digest())}"
        with pytest.raises(Unauthorized):
            Authenticator(settings, UserDirectory([])).authenticate(token)


class TestRefusalRecord:
    def test_the_record_type_is_the_routes_literal_path(self) -> None:
        assert route_record("/measures/{id}/receipts/{receipt_id}") == "measures.receipts"
        assert route_record("/ops/dead-letters/{entry}/replay") == "ops.dead-letters.replay"
        assert route_record_id({"number": 30, "period": "2024-Q3"}) == "30:2024-Q3"
        assert route_record_id({}) is None
