"""Settings of the staff web application (prefix WEB_). Platform settings (ANKOMMEN_) give Redis (the
session store) and the OIDC issuer."""

from __future__ import annotations

from typing import Literal

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from services.kit.settings import ServiceSettings


class WebSettings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="WEB_", extra="ignore")

    port: int = 8100

    # the services' HTTP APIs (the web application talks to nothing else)
    intake_url: str = "http://127.0.0.1:8101"
    casework_url: str = "http://127.0.0.1:8102"
    funding_url: str = "http://127.0.0.1:8103"
    reporting_url: str = "http://127.0.0.1:8104"
    api_timeout_s: float = Field(10.0, gt=0)

    # sign-in
    sign_in: Literal["local", "oidc"] = Field(
        "local", description="local: user name and password checked by a service's /auth/token; oidc: authorization code flow with PKCE."
    )
    token_service: Literal["intake", "casework", "funding", "reporting"] = "intake"
    oidc_client_id: str = "ankommen-web"
    oidc_client_secret: str = ""
    oidc_redirect_url: str = Field("", description="Public URL of /anmelden/oidc/rueckruf as registered at the provider.")
    oidc_scopes: str = "openid profile"
    oidc_discovery_url: str = Field("", description="Defaults to <ANKOMMEN_OIDC_ISSUER>/.well-known/openid-configuration.")

    # sessions (server-side in Redis; the browser only holds a random session id)
    session_idle_s: int = Field(1800, ge=30, description="A session ends after this long without a request.")
    session_max_s: int = Field(36_000, ge=60, description="A session ends this long after sign-in, used or not.")
    cookie_secure: bool | None = Field(None, description="Secure cookie flag; unset = on when the request came over HTTPS.")
    cookie_name: str = "ankommen_sitzung"
    forwarded_allow_ips: str = Field(
        "127.0.0.1", description="TLS proxies (comma-separated addresses, or *) whose X-Forwarded-Proto and X-Forwarded-For are trusted: "
        "behind one, https makes the session cookie Secure and the browser's address counts for the sign-in lock.",
    )

    def service_urls(self) -> dict[str, str]:
        return {
            "intake": self.intake_url.rstrip("/"),
            "casework": self.casework_url.rstrip("/"),
            "funding": self.funding_url.rstrip("/"),
            "reporting": self.reporting_url.rstrip("/"),
        }
