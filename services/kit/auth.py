"""Authentication and roles.

Embedded default: local users from a users file (argon2 password hashes, optional API tokens stored
as SHA-256 hashes) and short-lived HS256 tokens signed with the stack's secret. Production: OIDC
bearer tokens (e.g. Keycloak) verified against the issuer's JWKS, with the same role names in a claim.
Every HTTP endpoint but health and the token endpoint requires a user with a role.
"""

from __future__ import annotations

import enum
import hashlib
import json
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import jwt
from argon2 import PasswordHasher
from argon2.exceptions import VerificationError
from fastapi import APIRouter, Depends, Request
from fastapi.security import OAuth2PasswordBearer, OAuth2PasswordRequestForm
from pydantic import BaseModel

from services.kit import audit
from services.kit.errors import ErrorBody, Forbidden, TooManyAttempts, Unauthorized
from services.kit.settings import PlatformSettings
from services.kit.signin_guard import SignInGuard


class Role(enum.StrEnum):
    """The roles of DOMAIN.md "Who uses it"."""

    FRONT_DESK = "front_desk"
    ABRA_COACH = "abra_coach"
    ABRA_LEAD = "abra_lead"
    CASEWORKER = "caseworker"
    TEAM_LEAD = "team_lead"
    IP_ADVISOR = "ip_advisor"
    FUND_MANAGER = "fund_manager"
    STEERING_MEMBER = "steering_member"
    REPORTING_OFFICER = "reporting_officer"
    OPERATOR = "operator"
    PAYMENT_OFFICER = "payment_officer"  # records hardship payouts (payment order and payout separated)
    FUND_APPLICANT = "fund_applicant"  # an organisation's account applying to the discretionary fund
    MEASURE_PROVIDER = "measure_provider"  # a provider (Träger) reporting its measures' figures; scoped by the `provider` claim
    DATA_PROTECTION_OFFICER = "data_protection_officer"  # searches the audit logs, answers access requests (Art. 15 DSGVO)
    REFERRAL_PARTNER = "referral_partner"  # a partner organisation's staff (claim `partner`: which one) answering referrals


@dataclass(frozen=True)
class User:
    username: str
    roles: tuple[str, ...]
    display_name: str = ""
    districts: tuple[str, ...] = ()
    provider: str | None = None  # the provider (Träger, 000 §7) a measure_provider account reports for
    password_hash: str | None = None
    api_token_hashes: tuple[str, ...] = ()
    partner: str | None = None  # for referral_partner accounts: the partner organisation (vocab.Partner)


@dataclass(frozen=True)
class Principal:
    """The authenticated caller of a request."""

    username: str
    roles: frozenset[str]
    districts: tuple[str, ...] = ()
    claims: dict[str, Any] = field(default_factory=dict, compare=False, hash=False)
    partner: str | None = None  # the `partner` claim of a referral_partner account

    @property
    def provider(self) -> str | None:
        """The provider (Träger) this account reports for: the token's `provider` claim."""
        value = self.claims.get("provider")
        return value if isinstance(value, str) and value.strip() else None

    def has(self, *roles: str) -> bool:
        return bool(self.roles.intersection(roles))

    def acting_role(self, allowed: tuple[str, ...]) -> str:
        """The role under which this request is allowed (recorded in the audit log)."""
        for role in allowed:
            if role in self.roles:
                return role
        return sorted(self.roles)[0] if self.roles else ""


_hasher = PasswordHasher()


def hash_password(password: str) -> str:
    return _hasher.hash(password)


def hash_api_token(token: str) -> str:
    return hashlib.sha256(token.encode()).hexdigest()


class UserDirectory:
    def __init__(self, users: list[User]) -> None:
        self._users = {u.username: u for u in users}
        self._by_token = {h: u for u in users for h in u.api_token_hashes}

    @classmethod
    def load(cls, path: Path | None) -> UserDirectory:
        if path is None or not path.exists():
            return cls([])
        raw = json.loads(path.read_text(encoding="utf-8"))
        return cls(
            [
                User(
                    username=u["username"],
                    roles=tuple(u["roles"]),
                    display_name=u.get("display_name", ""),
                    districts=tuple(u.get("districts", ())),
                    provider=u.get("provider"),
                    password_hash=u.get("password_hash"),
                    api_token_hashes=tuple(u.get("api_token_hashes", ())),
                    partner=u.get("partner"),
                )
                for u in raw["users"]
            ]
        )

    def get(self, username: str) -> User | None:
        return self._users.get(username)

    def by_api_token(self, token: str) -> User | None:
        return self._by_token.get(hash_api_token(token))

    def check_password(self, username: str, password: str) -> User | None:
        user = self._users.get(username)
        if user is None or not user.password_hash:
            _hasher.hash(password)  # same cost whether or not the user exists
            return None
        try:
            _hasher.verify(user.password_hash, password)
        except VerificationError:
            return None
        return user


def issue_token(settings: PlatformSettings, user: User, *, ttl_s: int | None = None) -> str:
    now = int(time.time())
    claims = {
        "iss": settings.auth_issuer,
        "aud": "ankommen",
        "sub": user.username,
        "roles": list(user.roles),
        "districts": list(user.districts),
        **({"provider": user.provider} if user.provider else {}),
        **({"partner": user.partner} if user.partner else {}),
        "iat": now,
        "exp": now + (ttl_s or settings.token_ttl_s),
    }
    return jwt.encode(claims, settings.auth_secret, algorithm="HS256")


class Authenticator:
    def __init__(self, settings: PlatformSettings, users: UserDirectory) -> None:
        self.settings = settings
        self.users = users
        self._jwks = jwt.PyJWKClient(settings.oidc_jwks_url) if settings.oidc_jwks_url else None

    def authenticate(self, token: str) -> Principal:
        if token.startswith("ak_"):
            user = self.users.by_api_token(token)
            if user is None:
                raise Unauthorized("unknown API token")
            claims = {"provider": user.provider} if user.provider else {}
            return Principal(user.username, frozenset(user.roles), user.districts, claims=claims, partner=user.partner)
        try:
            header = jwt.get_unverified_header(token)
            if header.get("alg") == "HS256":
                if not self.settings.auth_secret:
                    raise Unauthorized("local tokens are not enabled")
                claims = jwt.decode(
                    token, self.settings.auth_secret, algorithms=["HS256"], audience="ankommen", issuer=self.settings.auth_issuer,
                    options={"require": ["exp", "iat", "sub"]},  # a token without `exp` would never expire
                )
                roles = claims.get("roles", [])
            elif self._jwks is not None:
                key = self._jwks.get_signing_key_from_jwt(token)
                claims = jwt.decode(
                    token, key.key, algorithms=["RS256", "ES256"], audience=self.settings.oidc_audience, issuer=self.settings.oidc_issuer,
                    options={"require": ["exp", "sub"]},
                )
                roles = _claim(claims, self.settings.oidc_roles_claim)
            else:
                raise Unauthorized("token algorithm not accepted")
        except jwt.ExpiredSignatureError as exc:
            raise Unauthorized("token expired") from exc
        except jwt.PyJWTError as exc:
            raise Unauthorized("invalid token") from exc
        valid = {r.value for r in Role}
        return Principal(
            username=str(claims["sub"]),
            roles=frozenset(r for r in roles if r in valid),
            districts=tuple(claims.get("districts", ())),
            claims=claims,
            partner=str(claims["partner"]) if claims.get("partner") else None,
        )


def _claim(claims: dict[str, Any], path: str) -> list[str]:
    value: Any = claims
    for part in path.split("."):
        value = value.get(part, {}) if isinstance(value, dict) else {}
    return list(value) if isinstance(value, list) else []


oauth2 = OAuth2PasswordBearer(tokenUrl="/auth/token", auto_error=False)


async def authenticator(request: Request) -> Authenticator:
    return request.app.state.authenticator  # async: FastAPI runs a sync dependency in a worker thread


async def current_principal(
    request: Request, token: Annotated[str | None, Depends(oauth2)], auth: Annotated[Authenticator, Depends(authenticator)]
) -> Principal:
    if not token:
        raise Unauthorized("sign-in required")
    principal = auth.authenticate(token)
    request.state.principal = principal
    return principal


def require(*roles: Role):  # noqa: ANN201 - returns a FastAPI dependency
    """Dependency: the caller must hold one of `roles`; otherwise 403 (recorded by the audit handler)."""
    allowed = tuple(r.value for r in roles)

    async def check(principal: Annotated[Principal, Depends(current_principal)]) -> Principal:
        if not principal.has(*allowed):
            raise Forbidden(f"requires one of the roles: {', '.join(allowed)}")
        return principal

    check.allowed = allowed  # type: ignore[attr-defined]
    return check


def required_roles(dependant: Any) -> set[str] | None:
    """The roles a route demands: the union of those named by `require(...)` (or a dependency carrying
    an `allowed` tuple, like the web app's `page(...)`) anywhere in its dependency tree; None if none.
    The role matrix, the token-forgery and the fuzzing scripts read routes' roles through it."""
    found: set[str] | None = None
    stack = [dependant]
    while stack:
        d = stack.pop()
        roles = getattr(d.call, "allowed", None)
        if roles is not None:
            found = (found or set()) | set(roles)
        stack.extend(d.dependencies)
    return found


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


def token_router() -> APIRouter:
    router = APIRouter(tags=["auth"])

    @router.post("/auth/token", response_model=TokenResponse, summary="Sign in with a local account",
                 responses={401: {"model": ErrorBody, "description": "Wrong user name or password"},
                            429: {"model": ErrorBody, "description": "Too many wrong passwords for this account or address: locked for Retry-After seconds"}})
    async def token(request: Request, form: Annotated[OAuth2PasswordRequestForm, Depends()]) -> TokenResponse:
        auth: Authenticator = request.app.state.authenticator
        rt = request.app.state.runtime
        guard = SignInGuard(rt.redis, auth.settings)
        address = request.client.host if request.client else "-"  # the browser's, when the web app (a trusted proxy) forwards it
        wait = await guard.locked_for(form.username, address)
        if wait:
            await _audit_sign_in(rt, form.username, "refused_locked")
            raise TooManyAttempts(f"too many wrong passwords: sign-in is locked for {wait} s", retry_after=wait)
        user = auth.users.check_password(form.username, form.password)
        if user is None:
            locked = await guard.failed(form.username, address)
            await _audit_sign_in(rt, form.username, "locked" if locked else "wrong_password")
            if locked:
                raise TooManyAttempts(f"too many wrong passwords: sign-in is locked for {guard.lock_s} s", retry_after=guard.lock_s)
            raise Unauthorized("wrong user name or password")
        await guard.succeeded(form.username)
        return TokenResponse(access_token=issue_token(auth.settings, user), expires_in=auth.settings.token_ttl_s)

    return router




async def _audit_sign_in(rt: Any, username: str, outcome: str) -> None:
    """A refused sign-in in the service's audit log: who was tried (at most 100 characters), and how it ended."""
    async with rt.db.begin() as conn:
        await audit.record(conn, rt.audit_chain, actor=username[:100] or "-", role="-", action="POST /auth/token", record_type="account",
                           record_id=username[:100] or None, outcome=outcome)
