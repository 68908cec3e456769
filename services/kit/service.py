"""The composition root shared by the four services. One process runs a service's HTTP API, its
FastStream subscribers (with reclaimers), its Temporal worker and its outbox relay. Nothing connects
at import time: `create_app` builds the app, its lifespan opens and closes every connection."""

from __future__ import annotations

import asyncio
import contextlib
import html
import logging
import socket
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any, Generic

import sqlalchemy as sa
import uvicorn
from fastapi import APIRouter, Depends, FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from redis.asyncio import Redis
from starlette.exceptions import HTTPException as StarletteHTTPException

from services.kit import audit, audit_verify, privacy, telemetry
from services.kit.alerts import alerts_router
from services.kit.auth import Authenticator, Principal, UserDirectory, token_router
from services.kit.broker import Consumers, Subscription, make_broker
from services.kit.db import Database, KitTables
from services.kit.errors import DomainError, Forbidden, StorageUnavailable
from services.kit.http_errors import kit_http_exception_handler
from services.kit.openapi import document_errors
from services.kit.ops import ops_router
from services.kit.outbox import Outbox
from services.kit.privacy import DataSubject, PersonRecords
from services.kit.redis_watch import RedisWatch
from services.kit.runtime import Runtime, S
from services.kit.runtime_dep import runtime_of
from services.kit.settings import PlatformSettings, ServiceSettings
from services.kit.temporal import connect, make_worker

log = logging.getLogger(__name__)


@dataclass
class ServiceSpec(Generic[S]):
    """Everything that makes one service: its name, tables, routes, subscriptions, workflows, activities.

    `runtime` is the Runtime class the lifespan builds (positionally: name, platform, settings, db,
    tables, outbox, broker, redis): `Runtime` itself, or the service's subclass with typed fields."""

    name: str
    title: str
    description: str
    metadata: sa.MetaData
    tables: KitTables
    settings: S
    routers: Sequence[APIRouter] = ()
    subscriptions: Callable[[Any], Sequence[Subscription]] = lambda rt: ()
    workflows: Sequence[type] = ()
    activities: Callable[[Any], Sequence[Callable[..., Any]]] = lambda rt: ()
    on_start: Callable[[Any], Awaitable[None]] | None = None
    #: long-running tasks of the process besides the event relay (e.g. funding's mail relay); cancelled at shutdown
    background: Callable[[Any], Sequence[Awaitable[None]]] = lambda rt: ()
    runtime: type[Runtime[S]] = Runtime
    #: the data protection officer's routes (services/kit/privacy.py): the ids of the person's records in
    #: this service, and everything the service holds on the person
    person_records: PersonRecords = privacy.nothing
    data_subject: DataSubject = privacy.aggregates_only


#: A route's Runtime, typed by what every service has; a service may declare its own
#: `Annotated[TheirRuntime, Depends(runtime_of)]`.
RuntimeDep = Annotated[Runtime[ServiceSettings], Depends(runtime_of)]


def create_app(spec: ServiceSpec[S], platform: PlatformSettings | None = None) -> FastAPI:
    platform = platform or PlatformSettings()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        rt = _make_runtime(spec, platform)
        app.state.runtime = rt
        app.state.authenticator = Authenticator(platform, UserDirectory.load(platform.users_file))
        try:
            async with _connected(rt), _worker(spec, rt), _running(spec, rt):
                log.info("service %s started", spec.name)
                yield
        finally:
            log.info("service %s stopped", spec.name)

    app = FastAPI(
        title=spec.title,
        description=spec.description,
        version="0.1.0",
        lifespan=lifespan,
        swagger_ui_parameters={"persistAuthorization": True},
    )
    _add_routes(app, spec)
    document_errors(app)

    from opentelemetry.instrumentation.fastapi import FastAPIInstrumentor

    FastAPIInstrumentor.instrument_app(  # a trace lookup is no part of what it looks up; no query strings in spans (names searched)
        app, excluded_urls="health,docs,openapi.json,ops/traces", server_request_hook=telemetry.drop_query_string,
        exclude_spans=["receive", "send"],  # one span per request, not three: the ASGI messages tell an operator nothing
    )
    return app


def _make_runtime(spec: ServiceSpec[S], platform: PlatformSettings) -> Runtime[S]:
    """The service's Runtime (its `spec.runtime` class) with database, outbox, broker, Redis and consumers; nothing connected yet."""
    from opentelemetry import trace
    from opentelemetry.instrumentation.sqlalchemy import SQLAlchemyInstrumentor

    provider = trace.get_tracer_provider()
    db = Database(
        spec.settings.resolved_database_url(platform, spec.name),
        busy_timeout_s=platform.sqlite_busy_timeout_s, retry_after_s=platform.storage_retry_after_s,
        sqlite_inline=platform.sqlite_driver == "inline",
    )
    if platform.trace_sql:
        SQLAlchemyInstrumentor().instrument(engine=db.engine.sync_engine, tracer_provider=provider, enable_commenter=False)
    outbox = Outbox(
        db, spec.tables, batch=platform.relay_batch, poll_s=platform.relay_poll_s, verify_window=platform.relay_verify_window, name=spec.name,
    )
    broker = make_broker(platform, provider)  # type: ignore[arg-type]
    redis = Redis.from_url(platform.redis_url)
    rt = spec.runtime(spec.name, platform, spec.settings, db, spec.tables, outbox, broker, redis)
    rt.consumers = Consumers(spec.name, platform, outbox, broker)
    for sub in spec.subscriptions(rt):
        rt.consumers.add(sub)
    return rt


@asynccontextmanager
async def _connected(rt: Runtime[S]) -> AsyncIterator[None]:
    """Consumer groups made and Temporal connected; at the end Redis and the database closed."""
    try:
        await rt.consumers_registry.ensure_groups(rt.redis)
        rt.temporal = await connect(rt.platform)
        yield
    finally:
        await rt.redis.aclose()
        await rt.db.dispose()


@asynccontextmanager
async def _worker(spec: ServiceSpec[S], rt: Runtime[S]) -> AsyncIterator[None]:
    """The service's Temporal worker (task queue: the service name), if it has workflows or activities."""
    activities = spec.activities(rt)
    if not (spec.workflows or activities):  # a worker needs something to run
        yield
        return
    worker = make_worker(rt.temporal_client, spec.name, workflows=spec.workflows, activities=activities)
    worker_task = asyncio.create_task(worker.run(), name=f"{spec.name}-worker")
    try:
        yield
    finally:
        await worker.shutdown()
        with contextlib.suppress(asyncio.CancelledError, Exception):
            await worker_task


@asynccontextmanager
async def _running(spec: ServiceSpec[S], rt: Runtime[S]) -> AsyncIterator[None]:
    """Audit records from before the hash chain chained, `on_start`, then the broker, the outbox relay
    and the background jobs; at the end they stop."""
    await audit_verify.chain_legacy(rt.db, rt.audit_chain)
    if spec.on_start is not None:
        await spec.on_start(rt)
    await rt.broker.start()
    relay_task = asyncio.create_task(rt.outbox.relay_forever(rt.broker, rt.redis), name=f"{spec.name}-relay")
    rt.redis_watch = RedisWatch(rt.redis, rt.outbox, rt.consumers, rt.platform.redis_watch_s)
    watch_task = asyncio.create_task(rt.redis_watch.run_forever(), name=f"{spec.name}-redis-watch")
    background = [asyncio.create_task(job, name=f"{spec.name}-background") for job in spec.background(rt)]
    try:
        yield
    finally:
        for task in (relay_task, watch_task, *background):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        await rt.broker.stop()


def _add_routes(app: FastAPI, spec: ServiceSpec[S]) -> None:
    app.add_exception_handler(DomainError, _domain_error_handler)  # type: ignore[arg-type]
    app.add_exception_handler(StorageUnavailable, storage_unavailable_handler)  # type: ignore[arg-type]
    app.add_exception_handler(RequestValidationError, validation_error_handler)  # type: ignore[arg-type]
    app.add_exception_handler(StarletteHTTPException, kit_http_exception_handler)  # type: ignore[arg-type]
    app.include_router(token_router())
    app.include_router(_root_router(spec))
    app.include_router(_health_router(spec.name))
    app.include_router(alerts_router())
    app.include_router(ops_router())
    app.include_router(privacy.privacy_router(spec.name, spec.person_records, spec.data_subject))
    for router in spec.routers:
        app.include_router(router)


async def _domain_error_handler(request: Request, exc: DomainError) -> JSONResponse:
    principal: Principal | None = getattr(request.state, "principal", None)
    if isinstance(exc, Forbidden) and principal is not None:  # every refusal of a signed-in caller is audited
        rt: Runtime[ServiceSettings] = request.app.state.runtime
        route = request.scope.get("route")
        path = route.path if route is not None else request.url.path
        async with rt.db.begin() as conn:
            await audit.record(
                conn, rt.audit_chain, actor=principal.username, role=",".join(sorted(principal.roles)) or "-",
                action=f"{request.method} {path}", record_type=audit.route_record(path),
                record_id=audit.route_record_id(request.path_params), outcome="denied",
            )
    headers = {"Retry-After": str(exc.context["retry_after"])} if "retry_after" in exc.context else None
    return JSONResponse(status_code=exc.status_code, content=exc.to_body(), headers=headers)


async def storage_unavailable_handler(request: Request, exc: StorageUnavailable) -> JSONResponse:
    """503 with Retry-After and the cause in German and English: the database cannot be written now
    (disk full, locked, unreachable); nothing of the request was stored."""
    log.warning("%s %s: 503, database unavailable (%s)", request.method, request.url.path, exc.cause)
    return JSONResponse(status_code=exc.status_code, content=exc.to_body(), headers=exc.headers)


def validation_errors(errors: Sequence[Any]) -> list[dict[str, Any]]:
    """FastAPI's 422 detail without what was submitted: only `loc`, `msg` and `type` of each error.
    FastAPI's default handler echoes `input` (and `ctx`, `url`), which for a person is their name,
    birth date and nationality: error bodies never return personal data (brief, "No personal data")."""
    return [{"loc": list(e.get("loc", ())), "msg": str(e.get("msg", "")), "type": str(e.get("type", ""))} for e in errors]


async def validation_error_handler(request: Request, exc: RequestValidationError) -> JSONResponse:
    return JSONResponse(status_code=422, content={"detail": validation_errors(exc.errors())})


def _root_router(spec: ServiceSpec) -> APIRouter:
    """`/` of every service: what answers here (name, version) and where to go next (`/docs`, `/health`),
    so the URLs `ankommen up` prints lead somewhere. No data, no sign-in."""
    router = APIRouter(tags=["operations"])

    @router.get("/", response_class=HTMLResponse, summary="What this service is, with links to its API docs and health")
    async def root(request: Request) -> HTMLResponse:
        name, title, version = (html.escape(str(v)) for v in (spec.name, spec.title, request.app.version))
        description = html.escape(spec.description)
        return HTMLResponse(
            "<!doctype html>\n"
            f'<html lang="en"><head><meta charset="utf-8"><meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{title} ({name} {version})</title></head>\n"
            f"<body><main><h1>{title}</h1>\n<p>ankommen service <code>{name}</code>, version {version}. {description}</p>\n"
            '<ul><li><a href="docs">API documentation (/docs)</a></li><li><a href="health">Health (/health)</a></li></ul>\n'
            "<p>Staff use the web application; this address is the service's HTTP API.</p></main></body></html>\n"
        )

    return router


def _health_router(service: str) -> APIRouter:
    router = APIRouter(tags=["operations"])

    @router.get("/health", summary="Liveness and readiness (no personal data)")
    async def health(rt: RuntimeDep) -> dict[str, Any]:
        async with rt.db.read() as conn:
            await conn.execute(sa.text("SELECT 1"))
        await rt.redis.ping()
        consumers = rt.consumers
        return {
            "status": "ok",
            "service": service,
            "outbox_pending": await rt.outbox.pending(),
            "outbox_published": rt.outbox.published,
            "outbox_republished": rt.outbox.republished,
            "redis_restarts_seen": rt.redis_watch.restarts_seen if rt.redis_watch else 0,
            "subscribers_revived": consumers.revived if consumers else 0,
            "consumed": {
                "handled": consumers.handled if consumers else 0,
                "duplicates": consumers.duplicates if consumers else 0,
                "failures": consumers.failures if consumers else 0,
                "dead_lettered": consumers.dead if consumers else 0,
            },
        }

    return router


def run(spec_factory: Callable[[], ServiceSpec]) -> None:
    """Process entry point: telemetry first (before any client exists), then the app under uvicorn.
    A replica of a scaled-out service (`ankommen up --replicas N`) binds the service's port with
    SO_REUSEPORT beside its siblings (the kernel spreads the connections) and a port of its own."""
    platform = PlatformSettings()
    spec = spec_factory()
    provider = telemetry.setup(spec.name, platform)
    try:
        config = uvicorn.Config(
            create_app(spec, platform), host=spec.settings.host, port=spec.settings.port,
            log_config=None, access_log=False, timeout_graceful_shutdown=10,
        )
        sockets = None
        if platform.reuse_port or platform.replica_port:
            sockets = [_bind(spec.settings.host, spec.settings.port, reuse_port=platform.reuse_port)]
            if platform.replica_port:
                sockets.append(_bind(spec.settings.host, platform.replica_port, reuse_port=False))
        uvicorn.Server(config).run(sockets=sockets)
    finally:
        provider.shutdown()


def _bind(host: str, port: int, *, reuse_port: bool) -> socket.socket:
    sock = socket.socket(socket.AF_INET6 if ":" in host else socket.AF_INET, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    if reuse_port:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    sock.bind((host, port))
    sock.set_inheritable(True)
    return sock
