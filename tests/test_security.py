"""The attacks of issue 8, each tried from outside (HTTP, websocket, CLI) and refused."""

from __future__ import annotations

from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient

from tests.conftest import api_token, make_account

Client = AsyncTestClient[Litestar]


async def _session(client: Client, rt: Any, **fields: Any) -> tuple[dict[str, str], dict[str, Any]]:
    facilitator = await make_account(rt)
    headers = await api_token(client, facilitator.email)
    response = await client.post("/api/v1/sessions", json={"title": "Lab", **fields}, headers=headers)
    assert response.status_code == 201, response.text
    return headers, response.json()


# --- 1. join codes ---------------------------------------------------------------------------


async def test_participant_page_does_not_reveal_the_join_code(client: Client, rt: Any) -> None:
    _, session = await _session(client, rt)
    existing = await client.get(f"/p/{session['id']}", follow_redirects=False)
    missing = await client.get(f"/p/{session['id'] + 1000}", follow_redirects=False)
    assert existing.status_code == missing.status_code == 404
    assert session["join_code"] not in existing.text + str(existing.headers)
    assert "location" not in existing.headers
