"""Odd input on the research pages and API: huge or negative ids, bad page numbers, bad filters, a
period that ends before it starts, positions outside a replay, text with a NUL character (which
PostgreSQL cannot store). Each is a clear 4xx (a message on
the page or in the JSON), never a server error, and nothing is written."""

from __future__ import annotations

from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from labs.models import Code, Coding, Event, Memo, ResearchGrant
from tests.conftest import csrf, login
from tests.research_setup import make_lab, researcher

Client = AsyncTestClient[Any]
INT32 = 2**31  # one past PostgreSQL's integer: out of range wherever an id is read from a query or body
HUGE = 10**20  # past any integer a column holds
UNKNOWN = 2**31 - 10  # an id in range that names nothing
ID_IN_PATH = (400, 404)  # an id past the range in a path: refused as out of range, or as unknown

# (path with {session}, {note}, {code}; expected status). Pages get the researcher's cookie.
PAGES: list[tuple[str, int | tuple[int, ...]]] = [
    ("/research?page=abc", 400),
    ("/research?page=0", 400),
    (f"/research?page={HUGE}", 400),
    ("/research/sessions/{session}/replay?seq=abc", 400),
    ("/research/sessions/{session}/replay?seq=-1", 400),
    (f"/research/sessions/{{session}}/replay?seq={INT32}", 400),
    ("/research/sessions/{session}/replay?moments_page=abc", 400),
    (f"/research/sessions/{UNKNOWN}/replay", 404),
    (f"/research/sessions/{HUGE}/replay", ID_IN_PATH),
    ("/research/sessions/-1/replay", 404),
    ("/research/sessions/{session}/lineage?page=-2", 400),
    (f"/research/cases/{UNKNOWN}/lineage", 404),
    (f"/research/communities/{HUGE}/lineage.graphml", ID_IN_PATH),
    ("/research/moderation?session_id=abc", 400),
    (f"/research/moderation?session_id={HUGE}", 400),
    (f"/research/moderation?session_id={INT32}", 400),
    (f"/research/moderation?session_id={UNKNOWN}", 404),
    ("/research/moderation?page=nope", 400),
    ("/research/charts?since=2026-05-01&until=2026-01-01", 400),
    ("/research/charts?since=yesterday", 400),
    ("/research/charts?community_id=abc", 400),
    (f"/research/charts?community_id={INT32}", 400),
    (f"/research/charts?community_id={UNKNOWN}", 404),
    ("/research/charts?city=" + "x" * 500, 400),
    ("/research/charts?participation_page=0", 400),
    ("/research/charts?city=%00", 400),  # PostgreSQL holds no NUL character
    ("/research/charts/sdg_topics/data.csv?until=2020-01-01&since=2026-01-01", 400),
    ("/research/charts/nonsense/data.csv", 404),
    (f"/research/sessions/{UNKNOWN}/coding", 404),
    ("/research/sessions/{session}/coding?page=abc", 400),
    (f"/research/notes/{UNKNOWN}", 404),
    (f"/research/codes/{UNKNOWN}", 404),
    (f"/research/memos?note_id={INT32}", 400),
    ("/research/memos?page=-1", 400),
    (f"/participants/{UNKNOWN}/consent", 404),
]
API = [
    ("GET", f"/api/v1/research/sessions/{{session}}/replay?seq={HUGE}", None, 400),
    ("GET", f"/api/v1/research/sessions/{UNKNOWN}/replay", None, 404),
    ("GET", "/api/v1/research/moderation?page=0", None, 400),
    ("GET", f"/api/v1/research/moderation?session_id={INT32}", None, 400),
    ("GET", f"/api/v1/research/moderation?session_id={UNKNOWN}", None, 404),
    ("GET", "/api/v1/research/charts?until=2020-01-01&since=2026-01-01", None, 400),
    ("GET", f"/api/v1/research/charts?community_id={HUGE}", None, 400),
    ("GET", f"/api/v1/research/memos?session_id={INT32}", None, 400),
    ("GET", "/api/v1/research/exports?page=abc", None, 400),
    ("POST", "/api/v1/research/exports", {"scope": f"session:{INT32}", "format": "csv"}, 400),
    ("POST", "/api/v1/research/exports", {"scope": f"session:{UNKNOWN}", "format": "csv"}, 404),
    ("POST", "/api/v1/research/exports", {"scope": f"session:{HUGE}", "format": "csv"}, 400),
    ("POST", "/api/v1/research/exports", {"scope": "session:-1", "format": "json"}, 400),
    ("POST", "/api/v1/research/exports", {"scope": "session:{session}", "format": "xlsx"}, 400),
    ("POST", "/api/v1/research/notes/{note}/codings", {"code_id": UNKNOWN}, 404),
    ("POST", "/api/v1/research/notes/{note}/codings", {"code_id": "{code}", "start": 0, "end": INT32}, 400),
    ("POST", "/api/v1/research/notes/{note}/codings", {"code_id": "{code}", "start": 3, "end": 1}, 400),
    ("POST", "/api/v1/research/memos", {"title": "On it", "note_id": UNKNOWN}, 404),
    ("POST", "/api/v1/research/memos", {"title": "On it", "session_id": HUGE}, 400),
    ("POST", "/api/v1/research/codes", {"name": "Orphan", "parent_id": INT32}, 400),
    ("PUT", "/api/v1/research/codes/{code}", {"name": "Loop", "parent_id": "{code}"}, 400),
    ("POST", "/api/v1/research/codes", {"name": "Nul\x00code"}, 400),
    ("POST", "/api/v1/research/memos", {"title": "On it", "body": "\x00", "session_id": "{session}"}, 400),
    ("GET", "/api/v1/research/charts?city=%00", None, 400),
]
# Giving access is the facilitator's.
GRANTS = [
    ({"email": "r@example.org", "session_id": INT32}, 400),
    ({"email": "r@example.org", "session_id": HUGE}, 400),
    ({"email": "r@example.org", "session_id": UNKNOWN}, 404),
    ({"email": "r@example.org", "community_id": "x"}, 400),
    ({"email": "r\x00@example.org", "session_id": "{session}"}, 400),
]


def _fill(value: Any, ids: dict[str, int]) -> Any:
    if isinstance(value, str):
        text = value.format(**ids) if "{" in value else value
        return int(text) if text.isdigit() and value.startswith("{") else text
    if isinstance(value, dict):
        return {k: _fill(v, ids) for k, v in value.items()}
    return value


async def _written(rt: Any) -> tuple[int, ...]:
    async with rt.db.read() as db:
        return tuple(
            [
                int(await db.scalar(select(func.count()).select_from(t)) or 0)
                for t in (Event, Code, Coding, Memo, ResearchGrant)
            ]
        )


@pytest.mark.parametrize("as_api", [False, True], ids=["pages", "api"])
async def test_odd_input_is_a_clear_4xx_and_writes_nothing(client: Client, rt: Any, as_api: bool) -> None:
    lab = await make_lab(client, rt)
    account, headers = await researcher(client, rt, lab)
    code = (await client.post("/api/v1/research/codes", json={"name": "Trust"}, headers=headers)).json()["id"]
    ids = {"session": lab.session_id, "note": lab.people["named"]["note_id"], "code": code}
    before = await _written(rt)
    wrong = []
    if as_api:
        for method, path, body, expected in API:
            url = _fill(path, ids)
            response = await client.request(method, url, json=_fill(body, ids), headers=headers)
            if response.status_code != expected or not response.json().get("detail"):
                wrong.append(f"{method} {url} {body}: {response.status_code} {response.text[:120]}")
        for body, expected in GRANTS:
            response = await client.post("/api/v1/research/grants", json=_fill(body, ids), headers=lab.facilitator)
            if response.status_code != expected or not response.json().get("detail"):
                wrong.append(f"POST grants {body}: {response.status_code} {response.text[:120]}")
    else:
        await login(client, account.email)
        for path, expected in PAGES:
            url = _fill(path, ids)
            response = await client.get(url)
            shown = 'role="alert"' in response.text or 'class="card error-card"' in response.text
            if response.status_code not in (expected if isinstance(expected, tuple) else (expected,)) or not shown:
                wrong.append(f"GET {url[:100]}: {response.status_code}")
        # Forms: the message on the page, nothing written.
        for path, data in (
            ("/research/export", {"scope": f"session:{INT32}", "format": "csv"}),
            ("/research/codes", {"name": "Orphan", "parent_id": str(INT32)}),
            ("/research/codes", {"name": "Nul\x00code"}),
            ("/research/memos", {"title": "On it", "session_id": "abc"}),
            (f"/research/notes/{ids['note']}/codings", {"code_id": str(code), "start": "abc", "end": "2"}),
        ):
            response = await client.post(path, data=data, headers=csrf(client))
            if not 400 <= response.status_code < 500:
                wrong.append(f"POST {path} {data}: {response.status_code}")
    assert not wrong, "\n".join(wrong)
    assert await _written(rt) == before
