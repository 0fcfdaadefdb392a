"""One Jinja environment for pages, htmx fragments and live fragments. A page template's blocks
are what htmx requests and the live stream get, so the full page and its fragments never drift."""

from __future__ import annotations

from datetime import UTC, datetime
from functools import lru_cache
from typing import Any

import jinja2
import jinja2.meta
from jinja2_fragments import render_block
from litestar import Request, Response
from litestar.connection import ASGIConnection
from litestar.datastructures import State
from litestar.enums import MediaType
from litestar.utils.scope.state import ScopeState

from labs import i18n
from labs.errors import LabsError, Text
from labs.sdgs import GOALS
from labs.settings import TEMPLATES_DIR
from labs.web.auth import Identity, known

LANG_COOKIE = "labs_lang"


@lru_cache(maxsize=1)
def environment() -> jinja2.Environment:
    # Not the settings: reading them would make (and store) a secret key in the default data folder.
    env = i18n.make_environment(TEMPLATES_DIR, enable_async=False)
    # datetime-local fields show and take the local time (LABS_TIMEZONE), stored as UTC.
    env.filters["local_input"] = lambda dt: dt.astimezone(i18n.DEFAULT_TIMEZONE).strftime("%Y-%m-%dT%H:%M")
    env.globals["server_now"] = lambda: datetime.now(UTC).isoformat()  # the countdown's clock
    env.globals["NOTE_KINDS"] = ["idea", "insight", "question", "booster", "barrier", "action"]
    env.globals["SDGS"] = GOALS
    return env


def warm(*names: str) -> None:
    """Compile templates and all they import now: after a restart, a thousand reconnecting
    phones should not wait while the first frame's macros compile."""
    env = environment()
    todo, seen = list(names), set()
    while todo:
        name = todo.pop()
        if name in seen:
            continue
        seen.add(name)
        env.get_template(name)
        source = env.loader.get_source(env, name)[0] if env.loader else ""
        todo += [n for n in jinja2.meta.find_referenced_templates(env.parse(source)) if n]


def request_lang(request: ASGIConnection[Any, Any, Any, Any], identity: Identity | None = None) -> str:
    """The reader's language: their choice (cookie, then account), else the browser's, else English.
    Pages and live streams (their frames are rendered per language) ask alike."""
    preferred = request.cookies.get(LANG_COOKIE)
    if not preferred and identity and identity.account:
        preferred = identity.account.language
    return i18n.negotiate(request.headers.get("accept-language"), preferred)


def base_context(request: Request[Any, Any, State]) -> dict[str, Any]:
    identity = known(request)
    return {
        "request": request,
        "lang": request_lang(request, identity),
        "account": identity.account if identity else None,
        "csrf_token": ScopeState.from_scope(request.scope).csrf_token or "",
    }


def html(content: str, status_code: int = 200, headers: dict[str, str] | None = None) -> Response[str]:
    return Response(content=content, status_code=status_code, media_type=MediaType.HTML, headers=headers)


def page(
    request: Request[Any, Any, State],
    template: str,
    *,
    block: str | None = None,
    status_code: int = 200,
    headers: dict[str, str] | None = None,
    **context: Any,
) -> Response[str]:
    """The whole page, or only `block` of it when htmx asks (so both come from one template)."""
    ctx = {**base_context(request), "status_code": status_code, **context}
    # Messages and field errors come from services in English; the catalog holds their translations.
    lang = ctx["lang"]
    if ctx.get("messages"):
        ctx["messages"] = [(level, translate(lang, text)) for level, text in ctx["messages"]]
    if isinstance(ctx.get("errors"), dict):
        ctx["errors"] = {k: translate(lang, v) if isinstance(v, str) else v for k, v in ctx["errors"].items()}
    for key in ("message", "agenda_error"):
        if isinstance(ctx.get(key), str):
            ctx[key] = translate(lang, ctx[key])
    if block and request.headers.get("hx-request") == "true":
        return html(render_block(environment(), template, block, ctx), status_code, headers)
    return html(environment().get_template(template).render(ctx), status_code, headers)


def failed(error: LabsError, form: dict[str, Any] | None = None) -> dict[str, Any]:
    """What `page` needs to show a failed form again: its values, field errors and the message."""
    return {
        "status_code": error.status_code,
        "form": form or {},
        "errors": error.field_errors,
        "messages": [("error", error.message)],
    }


def translate(lang: str, text: str) -> str:
    return text.in_language(lang) if isinstance(text, Text) else i18n.gettext(lang, text)


def fragment(template: str, block: str, **context: Any) -> str:
    return render_block(environment(), template, block, context)


def gettext(request: Request[Any, Any, State], message: str, **variables: Any) -> str:
    return i18n.gettext(base_context(request)["lang"], message, **variables)
