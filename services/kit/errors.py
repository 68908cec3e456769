"""Domain errors carry their HTTP status; one handler renders them (STYLE.md)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field


class DomainError(Exception):
    status_code = 400
    code = "domain_error"

    def __init__(self, message: str, *, field: str | None = None, **context: Any) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.context = context

    def to_body(self) -> dict[str, Any]:
        if self.status_code == 422 and self.context.get("errors"):  # several fields at once, in FastAPI's shape
            return {"detail": [{"loc": ["body", *field.split(".")], "msg": msg, "type": self.code} for field, msg in self.context["errors"]]}
        if self.status_code == 422 and self.field:  # location: "body" unless the field is a query or path parameter
            return {"detail": [{"loc": [self.context.get("location", "body"), *self.field.split(".")], "msg": self.message, "type": self.code}]}
        return {"detail": self.message, "code": self.code, **({"field": self.field} if self.field else {})}


class ErrorBody(BaseModel):
    """A refused request (401, 403, 404, 409) as `DomainError.to_body` renders it; declared in the OpenAPI documents."""

    detail: str = Field(description="What went wrong, for a person to read")
    code: str = Field(description="unauthorized, forbidden, not_found, conflict, ...")
    field: str | None = Field(default=None, description="The field the refusal is about, when there is one")


class NotFound(DomainError):
    status_code = 404
    code = "not_found"


class Conflict(DomainError):
    status_code = 409
    code = "conflict"


class Invalid(DomainError):
    status_code = 422
    code = "invalid"


class Forbidden(DomainError):
    status_code = 403
    code = "forbidden"


class Unauthorized(DomainError):
    status_code = 401
    code = "unauthorized"


#: What the service tells a caller when its database cannot be written, per cause (German first: the
#: staff's language; English for integrators). No personal data, nothing of the request.
STORAGE_CAUSES: dict[str, tuple[str, str]] = {
    "disk_full": ("der Datenträger ist voll", "the disk is full"),
    "locked": ("die Datenbank ist von einem anderen Prozess gesperrt", "the database is locked by another process"),
    "unreachable": ("der Datenbankserver ist nicht erreichbar", "the database server cannot be reached"),
}


class StorageUnavailable(Exception):
    """The service's database cannot be written right now (disk full, locked by another process, server
    unreachable). Not a refusal: nothing was written, and the same request succeeds once the cause is
    gone, so HTTP answers 503 with Retry-After, consumers leave the event pending (never dead-lettered
    for this) and activities are retried. `cause` is a key of STORAGE_CAUSES."""

    status_code = 503
    code = "storage_unavailable"

    def __init__(self, cause: str, *, retry_after_s: int = 5) -> None:
        german, english = STORAGE_CAUSES[cause]
        self.message = (
            f"Der Dienst kann gerade nicht speichern: {german}. Es wurde nichts gespeichert; bitte in "
            f"{retry_after_s} Sekunden erneut versuchen. / The service cannot save right now: {english}. "
            f"Nothing was saved; please retry in {retry_after_s} seconds."
        )
        super().__init__(self.message)
        self.cause = cause
        self.retry_after_s = retry_after_s

    def to_body(self) -> dict[str, Any]:
        return {"detail": self.message, "code": self.code, "cause": self.cause, "retry_after_s": self.retry_after_s}

    @property
    def headers(self) -> dict[str, str]:
        return {"Retry-After": str(self.retry_after_s)}


class TooManyAttempts(DomainError):
    """Sign-in locked after too many wrong passwords; `retry_after` (seconds) becomes the Retry-After header."""

    status_code = 429
    code = "too_many_attempts"
