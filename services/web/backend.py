"""The web application's only way to the system: the services' HTTP APIs, called with the signed-in
user's bearer token. A 401 from a service ends the session (the token expired or was revoked)."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

import httpx
from opentelemetry.propagate import inject

from services.web.sessions import Session
from services.web.settings import WebSettings

SERVICE_LABELS = {"intake": "Erstgespräch", "casework": "Fallmanagement", "funding": "Fonds", "reporting": "Berichtswesen"}


class SignInRequired(Exception):
    """The service rejected the session's token: sign in again."""


class SignInLocked(Exception):
    """Too many wrong passwords for this account or from this address: sign-in is locked for `seconds`."""

    def __init__(self, seconds: int) -> None:
        super().__init__(f"locked for {seconds} s")
        self.seconds = seconds


class ServiceUnavailable(Exception):
    def __init__(self, service: str, reason: str) -> None:
        super().__init__(f"{service}: {reason}")
        self.service = service
        self.reason = reason


@dataclass
class Answer:
    service: str
    status: int
    body: Any


class Backend:
    def __init__(self, settings: WebSettings) -> None:
        self.urls = settings.service_urls()
        self.client = httpx.AsyncClient(timeout=settings.api_timeout_s, follow_redirects=False)

    async def close(self) -> None:
        await self.client.aclose()

    async def call(self, session: Session, service: str, method: str, path: str, **kwargs: Any) -> Answer:
        if not session.signed_in:
            raise SignInRequired()
        headers = {"Authorization": f"Bearer {session.token}", **kwargs.pop("headers", {})}
        inject(headers)  # W3C traceparent: the service's spans join the page request's trace
        try:
            r = await self.client.request(method, self.urls[service] + path, headers=headers, **kwargs)
        except httpx.HTTPError as exc:
            raise ServiceUnavailable(service, type(exc).__name__) from exc
        if r.status_code == 401:
            raise SignInRequired()
        if r.status_code >= 500:
            raise ServiceUnavailable(service, f"HTTP {r.status_code}")
        body = r.json() if r.content and r.headers.get("content-type", "").startswith("application/json") else r.text
        return Answer(service, r.status_code, body)

    async def raw(self, session: Session, service: str, path: str, **kwargs: Any) -> httpx.Response:
        """A GET whose body is passed through as bytes (report files, charts)."""
        if not session.signed_in:
            raise SignInRequired()
        headers = {"Authorization": f"Bearer {session.token}"}
        inject(headers)
        try:
            r = await self.client.get(self.urls[service] + path, headers=headers, **kwargs)
        except httpx.HTTPError as exc:
            raise ServiceUnavailable(service, type(exc).__name__) from exc
        if r.status_code == 401:
            raise SignInRequired()
        if r.status_code >= 500:
            raise ServiceUnavailable(service, f"HTTP {r.status_code}")
        return r

    async def each(self, session: Session, method: str, path: str, **kwargs: Any) -> tuple[list[Answer], list[ServiceUnavailable]]:
        """The same call to every service; services that don't answer, or refuse, are reported, not fatal."""
        results = await asyncio.gather(
            *(self.call(session, svc, method, path, **kwargs) for svc in self.urls), return_exceptions=True
        )
        answers, down = [], []
        for r in results:
            if isinstance(r, SignInRequired):
                raise r
            if isinstance(r, ServiceUnavailable):
                down.append(r)
            elif isinstance(r, BaseException):
                raise r
            elif r.status >= 400:
                down.append(ServiceUnavailable(r.service, f"HTTP {r.status}"))
            else:
                answers.append(r)
        return answers, down

    async def password_token(self, service: str, username: str, password: str, address: str) -> dict[str, Any] | None:
        """Local accounts: the service checks the password and issues the token (kit auth); it counts wrong
        passwords per account and per `address` (the browser's, forwarded as the proxy the web app is)."""
        try:
            r = await self.client.post(self.urls[service] + "/auth/token", data={"username": username, "password": password},
                                       headers={"X-Forwarded-For": address})
        except httpx.HTTPError as exc:
            raise ServiceUnavailable(service, type(exc).__name__) from exc
        if r.status_code == 401:
            return None
        if r.status_code == 429:
            raise SignInLocked(int(r.headers.get("Retry-After", "900")))
        if r.status_code != 200:
            raise ServiceUnavailable(service, f"HTTP {r.status_code}")
        return r.json()
