"""The error answers of every route, declared in the OpenAPI document (issue 12, S1).

The kit's one error handler answers domain errors with their status (`services.kit.errors`): 401 without
a valid token, 403 without the role, 404 for an unknown record, 409 for a state conflict, and 422 for
bad input (FastAPI's validation errors and `Invalid`, both `{"detail": [{"loc", "msg", "type"}]}`).
FastAPI documents only 200/201 and its own 422, so clients (and schemathesis) saw undocumented status
codes. `document_errors(app)` makes the app's OpenAPI document declare, for each operation:

- 401 when the route needs a signed-in caller (a `current_principal` dependency), 403 as well;
- 404 when the path names a record (a path parameter);
- 409 when the route changes something (POST, PUT, PATCH, DELETE) for a signed-in caller, and 503
  (`StorageUnavailable`: the database cannot be written now);
- 422 when the route takes input (path, query or body), as `HTTPValidationError`.

A route's own `responses={...}` win over these. The bodies of 401/403/404/409/503 are `ErrorBody`.
"""

from __future__ import annotations

from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute, iter_route_contexts

from services.kit.auth import current_principal
from services.kit.errors import ErrorBody

WRITES = frozenset({"POST", "PUT", "PATCH", "DELETE"})


_DESCRIPTIONS = {
    401: "Not signed in: no token, or an expired or invalid one",
    403: "The caller lacks the role (or the scope) this route needs",
    404: "No such record",
    409: "The record's state does not allow this",
    503: "The database cannot be written now (disk full, locked, unreachable); nothing was stored, retry after Retry-After seconds",
}


def _needs_principal(dependant: Dependant) -> bool:
    stack = [dependant]
    while stack:
        dep = stack.pop()
        if dep.call is current_principal:
            return True
        stack.extend(dep.dependencies)
    return False


def _takes_input(dependant: Dependant) -> bool:
    flat = [dependant]
    while flat:
        dep = flat.pop()
        if dep.path_params or dep.query_params or dep.body_params or dep.header_params or dep.cookie_params:
            return True
        flat.extend(dep.dependencies)
    return False


def error_statuses(dependant: Dependant, method: str) -> list[int]:
    """The error statuses the kit's handlers can answer for `method` on a route (see the module docstring)."""
    statuses: list[int] = []
    signed_in = _needs_principal(dependant)
    if signed_in:
        statuses += [401, 403]
    if dependant.path_params:
        statuses.append(404)
    if method in WRITES and signed_in:
        statuses.append(409)
        statuses.append(503)
    if _takes_input(dependant):
        statuses.append(422)
    return statuses


def _error_response(status: int) -> dict[str, Any]:
    if status == 422:
        schema = {"$ref": "#/components/schemas/HTTPValidationError"}
        return {"description": "Validation Error: each error names the field (`loc`) and the reason (`msg`)",
                "content": {"application/json": {"schema": schema}}}
    return {"description": _DESCRIPTIONS[status], "content": {"application/json": {"schema": {"$ref": "#/components/schemas/ErrorBody"}}}}


def _validation_schemas() -> dict[str, Any]:
    """FastAPI's `HTTPValidationError`/`ValidationError` as the kit's handler renders them (`loc`, `msg`, `type`)."""
    return {
        "ValidationError": {
            "title": "ValidationError", "type": "object", "required": ["loc", "msg", "type"],
            "properties": {
                "loc": {"title": "Location", "type": "array", "items": {"anyOf": [{"type": "string"}, {"type": "integer"}]}},
                "msg": {"title": "Message", "type": "string"},
                "type": {"title": "Error Type", "type": "string"},
            },
        },
        "HTTPValidationError": {
            "title": "HTTPValidationError", "type": "object",
            "properties": {"detail": {"title": "Detail", "type": "array", "items": {"$ref": "#/components/schemas/ValidationError"}}},
        },
    }


def document_errors(app: FastAPI) -> None:
    """Replaces `app.openapi` with FastAPI's document plus the declared error answers of every operation."""

    def openapi() -> dict[str, Any]:
        if app.openapi_schema:
            return app.openapi_schema
        doc = get_openapi(title=app.title, version=app.version, description=app.description, routes=app.routes)
        schemas = doc.setdefault("components", {}).setdefault("schemas", {})
        schemas["ErrorBody"] = ErrorBody.model_json_schema(ref_template="#/components/schemas/{model}")
        for name, schema in _validation_schemas().items():
            schemas.setdefault(name, schema)
        for ctx in iter_route_contexts(app.routes):
            if not isinstance(ctx.original_route, APIRoute):
                continue
            dependant = getattr(ctx, "dependant", None) or ctx.original_route.dependant
            for method in ctx.methods or ():
                operation = doc.get("paths", {}).get(ctx.path_format, {}).get(method.lower())
                if operation is None:
                    continue
                responses = operation.setdefault("responses", {})
                for status in error_statuses(dependant, method):
                    responses.setdefault(str(status), _error_response(status))
        app.openapi_schema = doc
        return doc

    app.openapi = openapi  # type: ignore[method-assign]
