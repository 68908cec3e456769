"""Domain errors carry their HTTP status; one handler renders them (STYLE.md)."""

from __future__ import annotations

from typing import Any


class DomainError(Exception):
    status_code = 400
    code = "domain_error"

    def __init__(self, message: str, *, field: str | None = None, **context: Any) -> None:
        super().__init__(message)
        self.message = message
        self.field = field
        self.context = context

    def to_body(self) -> dict[str, Any]:
        if self.status_code == 422 and self.field:
            return {"detail": [{"loc": ["body", *self.field.split(".")], "msg": self.message, "type": self.code}]}
        return {"detail": self.message, "code": self.code, **({"field": self.field} if self.field else {})}


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
