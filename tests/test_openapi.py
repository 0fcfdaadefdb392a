"""The OpenAPI schema tells the truth about failures: every status the access matrix observes for
an API route is documented for that operation, with the JSON error body the app really sends;
real bad requests (a text body, a bad field, an unknown id, a closed session, a huge body, a
flood) answer statuses their operation documents; rate-limited operations state their limits."""

from __future__ import annotations

import re
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient

from labs.services import sessions
from tests.conftest import PASSWORD, api_token, make_account
from tests.test_access_matrix import ROWS

Client = AsyncTestClient[Litestar]
ERROR_BODY = "#/components/schemas/ErrorBody"


async def schema_of(client: Client) -> dict[str, Any]:
    response = await client.get("/api/docs/openapi.json")
    assert response.status_code == 200
    return dict(response.json())


def operation(schema: dict[str, Any], method: str, path: str) -> dict[str, Any]:
    """The operation of a route as the route table spells it ({session_id:int})."""
    return dict(schema["paths"][re.sub(r"{(\w+):\w+}", r"{\1}", path)][method.lower()])


def documented(schema: dict[str, Any], method: str, path: str) -> set[int]:
    return {int(code) for code in operation(schema, method, path)["responses"]}


def error_body_fits(schema: dict[str, Any], body: dict[str, Any]) -> None:
    shape = schema["components"]["schemas"]["ErrorBody"]
    assert set(shape["required"]) <= set(body) <= set(shape["properties"]), body
    assert isinstance(body["status_code"], int) and isinstance(body["detail"], str) and body["detail"]


async def test_every_status_the_access_matrix_sees_is_documented(client: Client) -> None:
    schema = await schema_of(client)
    missing = []
    for r in ROWS:
        if r.method == "WS" or not r.path.startswith("/api/v1/"):
            continue
        for who, status in r.expected().items():
            if status not in documented(schema, r.method, r.path):
                missing.append(f"{r.method} {r.path}: {status} (as {who})")
    assert not missing, "\n".join(sorted(set(missing)))
    assert not [p for p in schema["paths"] if not p.startswith("/api/")], "pages are not part of the API"
    errors = [
        (path, method, code)
        for path, item in schema["paths"].items()
        for method, op in item.items()
        for code, answer in op["responses"].items()
        if int(code) >= 400
        and answer["content"]["application/json"]["schema"] != {"$ref": "#/components/schemas/ErrorBody"}
    ]
    assert not errors, errors


async def test_real_bad_requests_answer_what_their_operation_documents(client: Client, rt: Any) -> None:
    schema = await schema_of(client)
    facilitator = await make_account(rt)
    auth = await api_token(client, facilitator.email)
    made = await client.post("/api/v1/sessions", json={"title": "S", "agenda": [{"title": "Ideas"}]}, headers=auth)
    sid = made.json()["id"]
    closed = await sessions.create(rt, facilitator, {"title": "Done"})
    await sessions.start(rt, facilitator, closed.id)
    await sessions.close(rt, facilitator, closed.id)
    tries = [
        ("POST", "/api/v1/sessions", {"content": "title=x", "headers": {**auth, "content-type": "text/plain"}}, 415),
        ("POST", "/api/v1/sessions", {"json": {"title": 5}, "headers": auth}, 400),
        ("POST", "/api/v1/sessions", {"json": {"title": "x"}}, 401),
        ("GET", "/api/v1/sessions/{session_id:int}", {"path": 2**31, "headers": auth}, 404),
        ("GET", "/api/v1/sessions/{session_id:int}/events", {"path": sid, "query": "after=abc", "headers": auth}, 400),
        ("POST", "/api/v1/sessions/{session_id:int}/start", {"path": closed.id, "headers": auth}, 409),
        ("POST", "/api/v1/sessions", {"content": b"{" + b" " * (11 * 1024 * 1024) + b"}", "headers": auth}, 413),
        (
            "POST",
            "/api/v1/join",
            {"json": {"join_code": closed.join_code, "display_name": "A", "consent": "none"}},
            410,
        ),
        ("GET", "/api/v1/auth/tokens", {"headers": {"Authorization": "Bearer lat_nonsense"}}, 401),
    ]
    for method, path, how, status in tries:
        url = path.replace("{session_id:int}", str(how.get("path", "")))
        url += f"?{how['query']}" if "query" in how else ""
        kwargs = {k: v for k, v in how.items() if k in ("json", "content", "headers")}
        if "content" in kwargs and "content-type" not in kwargs["headers"]:
            kwargs["headers"] = {**kwargs["headers"], "content-type": "application/json"}
        response = await client.request(method, url, **kwargs)
        assert response.status_code == status, (method, url, response.status_code, response.text[:300])
        assert status in documented(schema, method, path), (method, path, status)
        error_body_fits(schema, response.json())


async def test_rate_limited_operations_state_their_limits(client: Client, rt: Any) -> None:
    schema = await schema_of(client)
    account = await make_account(rt)
    for _ in range(10):
        await client.post("/api/v1/auth/tokens", json={"email": account.email, "password": "wrong password"})
    limited = await client.post("/api/v1/auth/tokens", json={"email": account.email, "password": PASSWORD})
    assert limited.status_code == 429
    error_body_fits(schema, limited.json())
    tokens = operation(schema, "POST", "/api/v1/auth/tokens")["responses"]["429"]["description"]
    assert "per account: 10 at once, then one every 60 s" in tokens and "per client address: 30 at once" in tokens
    join = operation(schema, "POST", "/api/v1/join")["responses"]["429"]["description"]
    assert "joins per client address: 1000 at once, then 5 a second" in join
    assert "wrong join codes per client address: 10 at once, then one every 6 s" in join
    notes = operation(schema, "POST", "/api/v1/sessions/{session_id:int}/notes")["responses"]["429"]["description"]
    assert "notes per participant: 20 at once, then one every 2 s" in notes
    # Operations without a brake do not claim one.
    assert "429" not in operation(schema, "GET", "/api/v1/sessions")["responses"]
