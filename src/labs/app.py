"""create_app(): plugins, routes, middleware, error pages."""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from typing import Any

from litestar import Litestar, Request, Response
from litestar.channels import ChannelsPlugin
from litestar.channels.backends.base import ChannelsBackend
from litestar.config.csrf import CSRFConfig
from litestar.datastructures import State
from litestar.di import Provide
from litestar.exceptions import HTTPException, ValidationException
from litestar.openapi import OpenAPIConfig
from litestar.openapi.plugins import JsonRenderPlugin
from litestar.response import Redirect
from litestar.static_files import create_static_files_router
from sqlalchemy.exc import DataError, StatementError

from labs import __version__, shared
from labs.db import Database
from labs.errors import LabsError
from labs.i18n import N_
from labs.live import Hub
from labs.runtime import Runtime
from labs.settings import Settings, get_settings
from labs.web import (
    account,
    api,
    cases,
    cases_api,
    coding,
    communities,
    exports,
    live_views,
    livinglab,
    livinglab_api,
    openapi,
    outcomes_api,
    pages,
    participant,
    people_api,
    polls,
    privacy,
    record,
    research,
    research_api,
    research_charts,
)
from labs.web.auth import Identity, identify
from labs.web.fragments import render
from labs.web.headers import security_headers
from labs.web.inputs import check_request
from labs.web.render import page

log = logging.getLogger(__name__)


def channels_backend(url: str) -> ChannelsBackend:
    if url.startswith("redis://") or url.startswith("rediss://"):
        from litestar.channels.backends.redis import RedisChannelsPubSubBackend
        from redis.asyncio import Redis

        return RedisChannelsPubSubBackend(redis=Redis.from_url(url))
    if url.startswith(("postgres://", "postgresql://")):
        from litestar.channels.backends.asyncpg import AsyncPgChannelsBackend

        return AsyncPgChannelsBackend(dsn=url.replace("postgresql+asyncpg://", "postgresql://"))
    if url.startswith("memory:"):
        from litestar.channels.backends.memory import MemoryChannelsBackend

        return MemoryChannelsBackend()
    raise ValueError(f"LABS_CHANNELS_URL must be memory://, redis://… or postgresql://…, not {url!r}")


def provide_runtime(state: State) -> Runtime:
    return state.runtime


async def provide_identity(request: Request[Any, Any, State], rt: Runtime) -> Identity:
    # Taking `rt` orders the two: Litestar resolves dependencies of one level in a task group,
    # a task per request that costs more than either lookup (docs/performance.md).
    del rt
    return await identify(request)


def error_response(request: Request[Any, Any, State], exc: Exception) -> Response[Any]:
    message: str
    fields: Mapping[str, str]
    if isinstance(exc, LabsError):
        status, message, fields = exc.status_code, exc.message, exc.field_errors
    elif isinstance(exc, ValidationException):
        status, message, fields = 400, _validation_message(exc), {}
    elif isinstance(exc, HTTPException):
        status, message, fields = exc.status_code, exc.detail, {}
    elif _out_of_range(exc):
        # A number no column can hold reached the database: the transaction rolled back.
        status, message, fields = 400, N_("A number in the request is out of range."), {}
    elif isinstance(exc, RecursionError):  # JSON nested deeper than any request of ours needs
        status, message, fields = 400, N_("The request is nested too deeply."), {}
    else:
        log.exception("unhandled error on %s", request.url.path, exc_info=exc)
        status, message, fields = 500, "Something went wrong on our side.", {}
    if request.url.path.startswith("/api/"):
        body: dict[str, Any] = {"status_code": status, "detail": message}
        if fields:
            body["errors"] = fields
        return Response(content=body, status_code=status)
    if status == 401 and request.method == "GET":
        return Redirect(f"/login?next={request.url.path}")
    if request.headers.get("hx-request") == "true":
        # htmx swaps error responses too: send the message to the flash region instead.
        return page(
            request,
            "base.html",
            block="flash",
            status_code=status,
            messages=[("error", message)],
            headers={"HX-Retarget": "#flash", "HX-Reswap": "innerHTML"},
        )
    return page(request, "errors/error.html", status_code=status, message=message)


def _out_of_range(exc: Exception) -> bool:
    """A value the database's column type can't hold (SQLite: OverflowError; asyncpg: its
    DataError, which SQLAlchemy wraps as a plain DBAPIError)."""
    if isinstance(exc, DataError):
        return True
    cause: BaseException | None = exc.orig if isinstance(exc, StatementError) else exc
    while cause is not None:
        if isinstance(cause, OverflowError) or type(cause).__name__ == "DataError":
            return True
        cause = cause.__cause__
    return False


def _validation_message(exc: ValidationException) -> str:
    extra = exc.extra if isinstance(exc.extra, list) else []
    parts = [f"{e.get('key', 'body')}: {e.get('message')}" for e in extra if isinstance(e, dict)]
    return exc.detail + (" (" + "; ".join(parts) + ")" if parts else "")


def create_app(settings: Settings | None = None) -> Litestar:
    settings = settings or get_settings()
    channels = ChannelsPlugin(backend=channels_backend(settings.channels_url), arbitrary_channels_allowed=True)
    runtime = Runtime(
        settings=settings,
        db=Database(settings.database_url, pooled=settings.database_pool),
        shared=shared.for_channels(settings.channels_url, settings.channels_prefix),
    )
    hub = Hub(runtime, channels, render)
    runtime.publisher = hub.publish

    @asynccontextmanager
    async def lifespan(app: Litestar) -> AsyncIterator[None]:
        try:
            yield
        finally:
            await hub.stop()
            await runtime.shared.close()
            await runtime.db.dispose()

    app = Litestar(
        route_handlers=openapi.pages_apart(
            [
                *pages.routes,
                *account.routes,
                *cases.routes,
                *cases_api.routes,
                *live_views.routes,
                *participant.routes,
                *record.routes,
                *research.routes,
                *research_charts.routes,
                *api.routes,
                *polls.routes,
                *communities.routes,
                *people_api.routes,
                *privacy.routes,
                *coding.routes,
                *exports.routes,
                *research_api.routes,
                *outcomes_api.routes,
                *livinglab.routes,
                *livinglab_api.routes,
                create_static_files_router(path="/static", directories=[settings.static_dir], name="static"),
            ]
        ),
        plugins=[channels],
        before_request=check_request,
        middleware=[security_headers(settings.frame_ancestors)],
        dependencies={
            "rt": Provide(provide_runtime, sync_to_thread=False),
            "identity": Provide(provide_identity),
        },
        state=State({"runtime": runtime, "hub": hub, "settings": settings}),
        lifespan=[lifespan],
        csrf_config=CSRFConfig(
            secret=settings.secret_key,
            cookie_name="labs_csrf",
            cookie_secure=settings.secure_cookies,
            # The API authenticates with bearer tokens only, never with ambient cookies.
            exclude=["/api/"],
        ),
        exception_handlers={Exception: error_response},
        openapi_config=OpenAPIConfig(
            title="labs API",
            version=__version__,
            path="/api/docs",
            # The schema only (/api/docs/openapi.json): the bundled UIs load scripts from a CDN.
            render_plugins=[JsonRenderPlugin()],
            description=(
                "Integration API for city dashboards and research tools. See docs/api.md.\n\n"
                "Live stream: websocket GET /api/v1/sessions/{id}/stream?after=N (bearer token). "
                'One JSON text frame per event, {"seq", "type", "at", "data"}, in seq order without '
                'gaps; with ?batch=1 (opt-in) each frame is {"events": [...]} holding one or more '
                "consecutive events (catch-up in frames of up to 100; a busy session's events "
                "gathered over about 50 ms). Resume with after=<last seq applied>; messages "
                '{"type": "ping"} and {"type": "resync", "after": N}; close 1011 means reconnect.'
            ),
        ),
        debug=settings.debug,
    )
    openapi.document(app)
    return app
