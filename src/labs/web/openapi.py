"""What /api/docs/openapi.json says each API operation answers when it fails, in one place.

Per operation, the error statuses it really gives, each with the JSON body the app sends
(labs.app.error_response): read off the route table (body, query and path parameters, guards,
who is asked for) and off the code (the labs errors the handler, and every labs function it calls,
raise; the rate limits they draw from). Pages are left out of the schema: they answer HTML and
redirects, and the schema describes the JSON API."""

from __future__ import annotations

import ast
import inspect
import re
from collections.abc import Callable, Iterable
from functools import cache
from pathlib import Path
from types import ModuleType
from typing import Any, TypedDict

from litestar import Litestar, Router
from litestar.handlers import HTTPRouteHandler
from litestar.openapi.datastructures import ResponseSpec
from litestar.routes import HTTPRoute

from labs import errors
from labs.ratelimit import Limits
from labs.shared import Memory
from labs.validate import LARGEST
from labs.web import auth

# Parameters that come from the app, not from the request.
PROVIDED = {"rt", "identity", "request", "state", "data", "socket", "headers", "cookies", "scope"}
WRITES = {"POST", "PUT", "PATCH", "DELETE"}
# Litestar's default request body limit (the app does not change it).
MAX_BODY = 10 * 1024 * 1024


class _Error(TypedDict):
    status_code: int
    detail: str


class ErrorBody(_Error, total=False):
    """Every error the API answers: the status again, a message saying what to do, and for bad
    input the message per field."""

    errors: dict[str, str]


def _rate(name: str) -> str:
    bucket = getattr(Limits(Memory()), name)
    every = 1 / bucket.per_second
    pace = f"{bucket.per_second:g} a second" if every < 1 else f"one every {every:g} s"
    return f"{bucket.capacity:g} at once, then {pace}"


LIMITS = {
    "notes": lambda: f"notes per participant: {_rate('notes')}",
    "failed_joins": lambda: f"wrong join codes per client address: {_rate('failed_joins')}",
    "joins": lambda: f"joins per client address: {_rate('joins')} (a hall on one venue address never gets there)",
    "logins_per_account": lambda: f"login and token attempts per account: {_rate('logins_per_account')}",
    "logins_per_address": lambda: f"login and token attempts per client address: {_rate('logins_per_address')}",
    "submissions": lambda: f"projects shared per client address: {_rate('submissions')}",
}

GENERIC = {
    400: "Invalid input: the message says what is allowed (and `errors` per field). Also malformed or"
    f" too deeply nested JSON, and numbers past {LARGEST} in the query or the body.",
    401: "No token, a wrong or revoked one, or an expired API token (the message says when it expired).",
    403: "The caller's role does not allow this.",
    404: f"No such thing, or not the caller's (ids of others' things do not leak); an id past {LARGEST}.",
    409: "Not possible in the current state (the message says why).",
    410: "Gone: the session has closed.",
    413: f"The body is larger than {MAX_BODY // (1024 * 1024)} MB.",
    415: "The body is not JSON (send Content-Type: application/json).",
    429: "Too many requests; wait and try again.",
}


@cache
def _functions_in(filename: str) -> dict[int, ast.AST]:
    """The functions of one source file by the line they start on (a decorator's, or their def)."""
    found: dict[int, ast.AST] = {}
    for node in ast.walk(ast.parse(Path(filename).read_text())):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef):
            found[node.lineno] = node
            for decorator in node.decorator_list:
                found.setdefault(decorator.lineno, node)
    return found


@cache
def _direct(fn: Callable[..., Any]) -> tuple[frozenset[int], frozenset[str], tuple[Callable[..., Any], ...]]:
    """What `fn`'s own source shows: the statuses of the labs errors it raises, the rate limits
    it takes from (`….limits.<bucket>`), and the labs functions it calls."""
    code = getattr(fn, "__code__", None)
    tree = _functions_in(code.co_filename).get(code.co_firstlineno) if code else None
    if tree is None:
        return frozenset(), frozenset(), ()
    names = getattr(fn, "__globals__", {})
    statuses: set[int] = set()
    buckets: set[str] = set()
    calls: list[Callable[..., Any]] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and isinstance(node.value, ast.Attribute) and node.value.attr == "limits":
            buckets.add(node.attr)
        if isinstance(node, ast.Raise) and node.exc is not None:
            target = node.exc.func if isinstance(node.exc, ast.Call) else node.exc
            error = names.get(target.id) if isinstance(target, ast.Name) else None
            if isinstance(error, type) and issubclass(error, errors.LabsError):
                statuses.add(error.status_code)
        if isinstance(node, ast.Call):
            calls.extend(_labs_functions(node.func, names))
    return frozenset(statuses), frozenset(buckets), tuple(calls)


@cache
def _code_facts(fn: Callable[..., Any]) -> tuple[frozenset[int], frozenset[str]]:
    """The statuses and rate limits of `fn` and of every labs function it calls, directly or not."""
    statuses: set[int] = set()
    buckets: set[str] = set()
    seen, todo = {fn}, [fn]
    while todo:
        more, limits, calls = _direct(todo.pop())
        statuses |= more
        buckets |= limits
        for callee in calls:
            if callee not in seen:
                seen.add(callee)
                todo.append(callee)
    return frozenset(statuses), frozenset(buckets)


def _labs_functions(func: ast.expr, names: dict[str, Any]) -> Iterable[Callable[..., Any]]:
    """The labs function a call names (`helper(...)` or `module.function(...)`), if any."""
    if isinstance(func, ast.Name):
        found = names.get(func.id)
    elif isinstance(func, ast.Attribute) and isinstance(func.value, ast.Name):
        module = names.get(func.value.id)
        found = getattr(module, func.attr, None) if isinstance(module, ModuleType) else None
    else:
        return []
    if inspect.isfunction(found) and found.__module__.startswith("labs."):
        return [found]
    return []


def _guard_statuses(handler: HTTPRouteHandler) -> set[int]:
    statuses: set[int] = set()
    for guard in handler.resolve_guards():
        statuses.add(401)
        if guard not in (auth.require_account, auth.require_participant):
            statuses.add(403)  # a role guard (auth.require)
    return statuses


def responses_for(handler: HTTPRouteHandler, path: str, method: str) -> dict[int, ResponseSpec]:
    params = handler.parsed_fn_signature.parameters
    in_path = set(re.findall(r"{(\w+)", path))
    query = [name for name in params if name not in PROVIDED and name not in in_path]
    statuses = _guard_statuses(handler)
    raised, buckets = _code_facts(handler.fn)
    statuses |= raised
    if "data" in params or query or in_path:
        statuses.add(400)  # also replaces Litestar's own 400, whose body is not the app's
    if "data" in params:
        statuses.add(413)
    if method in WRITES:
        statuses.add(415)
    if "identity" in params:
        statuses.add(401)
    if in_path:
        statuses.add(404)
    if buckets:
        statuses.add(429)
    described = {
        status: GENERIC[status] if status != 429 else _limited(buckets) for status in statuses if status in GENERIC
    }
    return {
        status: ResponseSpec(data_container=ErrorBody, description=text, generate_examples=False)
        for status, text in sorted(described.items())
    }


def _limited(buckets: Iterable[str]) -> str:
    limits = "; ".join(LIMITS[b]() for b in sorted(buckets) if b in LIMITS)
    return f"{GENERIC[429]} Limits: {limits}." if limits else GENERIC[429]


def pages_apart(handlers: Iterable[Any]) -> list[Any]:
    """The app's route handlers with the pages (every handler outside the /api routers) in a
    router of their own that the schema leaves out."""
    handlers = list(handlers)
    pages = [h for h in handlers if not isinstance(h, Router)]
    return [Router(path="/", route_handlers=pages, include_in_schema=False), *(h for h in handlers if h not in pages)]


def document(app: Litestar) -> None:
    """Set each API operation's error responses. Call before the schema is first served (it is
    made on first use)."""
    for route in app.routes:
        if not isinstance(route, HTTPRoute) or not route.path.startswith("/api/v1/"):
            continue
        for handler in route.route_handlers:
            method = next(iter(m for m in handler.http_methods if m not in ("HEAD", "OPTIONS")), "GET")
            handler.responses = {**responses_for(handler, route.path, method), **(handler.responses or {})}
