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
