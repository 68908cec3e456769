"""Two of Starlette's and FastAPI's own answers, made to keep the kit's contract (found by schemathesis, issue 12 S1).

- A body that is not UTF-8 (FastAPI: 400 "There was an error parsing the body") or broken multipart
  (Starlette: 400 "Invalid multipart data.") is bad input like any other: 422 naming the field (`body`)
  and the reason, as the OpenAPI documents declare. The kit raises no 400 of its own.
- 405 Method Not Allowed names in `Allow` every method the path has. Starlette names only those of the
  first route whose path matches, so `OPTIONS /abra/slots` answered `Allow: POST` though the path also
  has GET (each method is a route of its own).
"""

from __future__ import annotations

from fastapi import FastAPI, Request
from fastapi.exception_handlers import http_exception_handler
from fastapi.routing import iter_route_contexts
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.responses import JSONResponse, Response
from starlette.routing import compile_path

BODY_NOT_PARSED = "There was an error parsing the body"


def allowed_methods(app: FastAPI, request: Request) -> list[str]:
    """Every method of every route whose path matches the request's (HEAD with GET, as Starlette adds it);
    when a route names the path literally (`/intakes/duplicate-check`), only those of such routes, not
    of a parameter route it happens to match too (`/intakes/{id}`)."""
    literal: set[str] = set()
    matching: set[str] = set()
    path = request.scope.get("path", "")
    for ctx in iter_route_contexts(app.routes):
        if ctx.path and ctx.methods and compile_path(ctx.path)[0].match(path):
            (literal if ctx.path == path else matching).update(ctx.methods)
    return sorted(literal or matching)


async def kit_http_exception_handler(request: Request, exc: StarletteHTTPException) -> Response:
    if exc.status_code == 400:  # the body could not be read: not UTF-8 JSON, or broken multipart (Starlette's form parser)
        json_body = exc.detail == BODY_NOT_PARSED
        msg = "The body is not JSON in UTF-8" if json_body else f"The body cannot be read: {exc.detail}"
        return JSONResponse(status_code=422, content={"detail": [{"loc": ["body"], "msg": msg, "type": "json_invalid" if json_body else "body_invalid"}]})
    if exc.status_code == 405:
        methods = allowed_methods(request.app, request)
        if methods:
            return JSONResponse(status_code=405, content={"detail": exc.detail}, headers={"Allow": ", ".join(methods)})
    return await http_exception_handler(request, exc)
