"""Who may call what: every route of the app (pages, API, websocket) for seven kinds of caller,
with the status each gets and, whenever a caller is refused, proof that nothing was written.

The rows are checked against the app's own route table: a route without a row fails
`test_every_route_has_a_row`, so whoever adds a route adds its row here (one line).

A row: method, path as the route table spells it, the seven answers in the order of WHO, and
optionally the body and path values. An answer is an HTTP status, or for the websocket the
close code (101: accepted). Pages get the caller's cookies, the API their bearer token."""

from __future__ import annotations

import asyncio
import hashlib
import shutil
import sqlite3
from collections.abc import AsyncIterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from litestar import Litestar
from litestar.exceptions import WebSocketDisconnect
from litestar.handlers import HTTPRouteHandler
from litestar.routes import HTTPRoute, WebSocketRoute
from litestar.testing import AsyncTestClient, TestClient

from labs.db import Database
from labs.runtime import Runtime
from labs.settings import Settings
from labs.testing import PASSWORD

# The callers, in the order every row lists their answers.
WHO = ("anonymous", "participant", "other_participant", "facilitator", "other_facilitator", "researcher", "admin")

# Answers that recur (anonymous, participant, other participant, facilitator, other
# facilitator, researcher, admin). A GET page that needs a login answers with a redirect to it.
EVERYONE_200 = "200 200 200 200 200 200 200"
STAFF_PAGE = "302 302 302 200 403 403 200"  # a page for facilitators (any session)
RUNS_PAGE = "302 302 302 200 404 403 200"  # a page of one session, for the people who run it
RUNS_ACTION = "401 401 401 204 404 403 204"  # a console action: 204, the change arrives live
RUNS_API = "401 401 401 200 404 403 200"
RUNS_FORM = "401 401 401 302 404 403 302"  # a form of one session's pages: redirect after the change
PARTICIPANT_PAGE_ACTION = "404 204 404 404 404 404 404"
PARTICIPANT_API = "401 200 404 401 401 401 401"
RESEARCH_PAGE = "302 302 302 403 403 200 200"  # a research page (codebook, coding, memos, exports)
RESEARCH_FORM = "401 401 401 403 403 302 302"
RESEARCH_API = "401 401 401 403 403 200 200"
STUDY_PAGE = "302 302 302 200 404 200 200"  # a research page of S: its facilitator, the researcher (granted S), admins
ADMIN_STUDY = "302 302 302 404 404 404 200"  # the research page of S's community: nobody here was granted it
GRANT_FORM = "401 401 401 302 404 403 302"  # giving or revoking research access to S

# Tables whose rows change by merely being recognised (last use of a token or login session).
BOOKKEEPING = {"login_session", "api_token", "alembic_version"}


@dataclass(frozen=True)
class Row:
    method: str
    path: str
    answers: str
    body: dict[str, Any] | None = None
    # Path values beyond the defaults (World.values), e.g. {"action": "hide"}; a callable gets the world.
    values: dict[str, Any] = field(default_factory=dict)
    query: str = ""
    writes: bool = False  # a GET that may change something (the interface language of an account)

    @property
    def key(self) -> tuple[str, str]:
        return self.method, self.path

    def expected(self) -> dict[str, int]:
        codes = [int(c) for c in self.answers.split()]
        assert len(codes) == len(WHO), f"{self.method} {self.path}: {len(codes)} answers for {len(WHO)} callers"
        return dict(zip(WHO, codes, strict=True))


def row(method: str, path: str, answers: str, body: Any = None, /, **values: Any) -> Row:
    query, writes = values.pop("query", ""), values.pop("writes", False)
    return Row(method, path, answers, body, values, query, writes)


NOTE_FORM = {"client_id": "matrix-note-1", "body": "A new idea", "kind": "idea"}
PROXY_FORM = {"display_name": "Piet", "consent": "anonymous"}
JOIN_FORM = {"display_name": "New person", "consent": "named"}
SESSION_FORM = {"title": "A new session", "kind": "workshop"}
POLL_FORM = {"question": "Which first?", "kind": "single", "options": ["Roofs", "Trees"]}
OUTCOME_FORM = {"kind": "other", "title": "Roofs for tenants", "what_changed": "A pilot"}
ANSWER_FORM = {"progress": "in_progress", "what_was_done": "A plan"}
LATER = "2031-01-01"
RECORD_PAGE = "302 302 302 200 404 200 200"  # a session's record: its facilitators, and researchers
OUTCOME_PAGE = "302 302 302 200 404 404 200"  # an outcome of S: who runs S (researchers: community outcomes)
OUTCOME_FORM_ANSWERS = "401 401 401 302 404 404 302"
OUTCOME_API = "401 401 401 200 404 404 200"
INDICATOR_FORM = {
    "name": "Insulated homes",
    "unit": "%",
    "source": "survey",
    "baseline": "20",
    "baseline_on": "2026-01-01",
    "target": "50",
    "target_on": "2028-01-01",
}
EXPERIMENT_FORM = {"title": "Ambassadors", "hypothesis": "Neighbours convince neighbours."}
LAB_PAGE = "302 302 302 200 200 200 200"  # living-lab pages: for facilitators and researchers
LAB_FORM = "401 401 401 302 404 403 302"  # a change to a lab: its own facilitators
LAB_READ_API = "401 401 401 200 200 200 200"
LAB_API = "401 401 401 201 404 403 201"
NEW_ACCOUNT_FORM = {"email": "new@example.org", "password": PASSWORD, "role": "researcher"}
CASE_FORM = {"title": "Rain gardens", "city": "Gent", "country": "BE"}
PROJECT_FORM = {**CASE_FORM, "name": "Lucía", "email": "lucia@example.org"}

ROWS = [
    # --- pages: everyone -------------------------------------------------------------------
    row("GET", "/", "200 200 200 302 302 302 302"),
    row("GET", "/setup", "302 302 302 302 302 302 302"),
    row("POST", "/setup", "409 409 409 409 409 409 409", {"email": "x@example.org", "password": PASSWORD}),
    row("GET", "/login", EVERYONE_200),
    row("POST", "/login", "401 401 401 401 401 401 401", {"email": "nobody@example.org", "password": "wrong"}),
    row("POST", "/logout", "302 302 302 302 302 302 302"),
    row("GET", "/lang/{code:str}", "302 302 302 302 302 302 302", code="nl", writes=True),
    row("GET", "/join", EVERYONE_200),
    row("GET", "/j/{code:str}", "200 302 200 200 200 200 200"),
    row("POST", "/j/{code:str}", "302 302 302 302 302 302 302", JOIN_FORM),
    row("GET", "/static/{file_path:path}", EVERYONE_200, file_path="css/labs.css"),
    # --- pages: accounts -------------------------------------------------------------------
    row("GET", "/sessions", STAFF_PAGE.replace("403 403", "200 403")),
    row("GET", "/sessions/new", STAFF_PAGE.replace("403 403", "200 403")),
    row("POST", "/sessions/new", "401 401 401 302 302 403 302", SESSION_FORM),
    row("GET", "/sessions/{session_id:int}", RUNS_PAGE.replace("404 403", "404 200")),  # researchers: the record
    row("GET", "/sessions/{session_id:int}/plan", RUNS_PAGE),
    row("POST", "/sessions/{session_id:int}", RUNS_FORM, {"title": "Renamed", "kind": "workshop"}),
    row("POST", "/sessions/{session_id:int}/agenda", RUNS_FORM, {"action": "add", "title": "More"}),
    row("POST", "/sessions/{session_id:int}/facilitators", RUNS_FORM, {"email": "other_facilitator@example.org"}),
    row("GET", "/admin/accounts", "302 302 302 403 403 403 200"),
    # API tokens: everyone's own; the one in the path is the facilitator's; admins see and revoke all.
    row("GET", "/account", "302 302 302 200 200 200 200"),
    row("POST", "/account/tokens", "401 401 401 200 200 200 200", {"name": "Matrix", "expires_in_days": "30"}),
    row("GET", "/account/tokens/{token_id:int}/revoke", "302 302 302 200 404 404 200"),
    row("POST", "/account/tokens/{token_id:int}/revoke", "401 401 401 302 404 404 302"),
    row("GET", "/admin/tokens", "302 302 302 403 403 403 200"),
    row("POST", "/admin/accounts", "401 401 401 403 403 403 302", NEW_ACCOUNT_FORM),
    row("GET", "/cases", "302 302 302 200 200 200 200"),
    row("GET", "/cases/new", STAFF_PAGE.replace("403 403", "200 403")),
    row("POST", "/cases/new", "401 401 401 302 302 403 302", CASE_FORM),
    row("GET", "/cases/{case_id:int}", "302 302 302 200 200 200 200"),
    row("GET", "/cases/{case_id:int}/edit", STAFF_PAGE.replace("403 403", "200 403")),
    row("POST", "/cases/{case_id:int}/edit", "401 401 401 302 302 403 302", CASE_FORM),
    row("POST", "/cases/{case_id:int}/{action:str}", "401 401 401 302 302 403 302", action="archive"),
    row("GET", "/cases/review", STAFF_PAGE.replace("403 403", "200 403")),
    row("GET", "/cases/review/{submission_id:int}", STAFF_PAGE.replace("403 403", "200 403")),
    row("POST", "/cases/review/{submission_id:int}", "401 401 401 302 302 403 302", {"action": "reject"}),
    row("GET", "/share", EVERYONE_200),
    row("POST", "/share", "302 302 302 302 302 302 302", PROJECT_FORM),
    # --- pages: research (the researcher was granted S; a facilitator studies their own sessions)
    row("GET", "/research", "302 302 302 200 200 200 200"),
    row("GET", "/participants/{participant_id:int}/consent", STUDY_PAGE),
    row("GET", "/research/charts", "302 302 302 200 200 200 200"),  # each counts their own scope
    row("GET", "/research/charts/{chart:str}/data.csv", "302 302 302 200 200 200 200", chart="participation"),
    row("GET", "/research/access", "302 302 302 200 200 403 200"),
    row(
        "POST",
        "/research/access",
        GRANT_FORM,
        lambda w: {"email": "granted2@example.org", "target": f"session:{w.session}"},
    ),
    row("POST", "/research/access/{grant_id:int}/revoke", GRANT_FORM, grant_id=lambda w: w.grant),
    row("GET", "/research/sessions/{session_id:int}/replay", STUDY_PAGE),
    row("GET", "/research/moderation", "302 302 302 200 200 200 200"),  # each reads their own scope
    row("GET", "/research/sessions/{item_id:int}/lineage", STUDY_PAGE, item_id=lambda w: w.session),
    row("GET", "/research/sessions/{item_id:int}/lineage.graphml", STUDY_PAGE, item_id=lambda w: w.session),
    row("GET", "/research/sessions/{item_id:int}/lineage.prov.json", STUDY_PAGE, item_id=lambda w: w.session),
    row("GET", "/research/cases/{item_id:int}/lineage", STUDY_PAGE, item_id=lambda w: w.case),
    row("GET", "/research/cases/{item_id:int}/lineage.graphml", STUDY_PAGE, item_id=lambda w: w.case),
    row("GET", "/research/cases/{item_id:int}/lineage.prov.json", STUDY_PAGE, item_id=lambda w: w.case),
    row("GET", "/research/communities/{item_id:int}/lineage", ADMIN_STUDY, item_id=lambda w: w.community),
    row("GET", "/research/communities/{item_id:int}/lineage.graphml", ADMIN_STUDY, item_id=lambda w: w.community),
    row("GET", "/research/communities/{item_id:int}/lineage.prov.json", ADMIN_STUDY, item_id=lambda w: w.community),
    # --- pages: running a session ----------------------------------------------------------
    row("GET", "/sessions/{session_id:int}/console", RUNS_PAGE),
    row("GET", "/sessions/{session_id:int}/projector", RUNS_PAGE),
    row("GET", "/sessions/{session_id:int}/notes/older", RUNS_PAGE, query="before=1000"),
    row("GET", "/sessions/{session_id:int}/qr.svg", RUNS_PAGE),
    row("POST", "/sessions/{session_id:int}/start", RUNS_ACTION),
    row("POST", "/sessions/{session_id:int}/close", RUNS_ACTION),
    row("POST", "/sessions/{session_id:int}/joining", RUNS_ACTION, {"joining": "locked"}),
    row("POST", "/sessions/{session_id:int}/premoderation", RUNS_ACTION, {"premoderation": "on"}),
    row("POST", "/sessions/{session_id:int}/next", RUNS_ACTION),
    row("POST", "/sessions/{session_id:int}/activities/{activity_id:int}/activate", RUNS_ACTION),
    row("POST", "/sessions/{session_id:int}/timer", RUNS_ACTION, {"action": "start", "minutes": "5"}),
    row("POST", "/sessions/{session_id:int}/notes/{note_id:int}/{action:str}", RUNS_ACTION, action="hide"),
    row("POST", "/sessions/{session_id:int}/notes", RUNS_ACTION, NOTE_FORM),
    row("POST", "/sessions/{session_id:int}/cases", RUNS_ACTION, lambda w: {"case_id": w.case}),
    row("POST", "/sessions/{session_id:int}/proxies", RUNS_FORM, PROXY_FORM),
    row("POST", "/sessions/{session_id:int}/participants/{participant_id:int}/remove", RUNS_ACTION, {"notes": "keep"}),
    row("POST", "/sessions/{session_id:int}/votes/{action:str}", RUNS_ACTION, action="close"),
    row("POST", "/sessions/{session_id:int}/polls", RUNS_FORM, POLL_FORM),
    row(
        "POST",
        "/sessions/{session_id:int}/polls/{poll_id:int}/answers",
        RUNS_ACTION,
        lambda w: {"client_id": "m", "choices": "0", "participant_id": w.proxy},
    ),
    row("POST", "/sessions/{session_id:int}/polls/{poll_id:int}/{action:str}", RUNS_ACTION, action="close"),
    # --- pages: after the session (the record, outcomes, follow-ups, the owner's check-in) ----
    row("GET", "/sessions/{session_id:int}/record", RECORD_PAGE),
    row("POST", "/sessions/{session_id:int}/summary", RUNS_FORM, {"summary": "What we decided"}),
    row("GET", "/sessions/{session_id:int}/outcomes/new", RUNS_PAGE, query="note_id=1"),
    row("POST", "/sessions/{session_id:int}/outcomes", RUNS_FORM, OUTCOME_FORM),
    row("GET", "/outcomes", "302 302 302 200 200 200 200"),
    row("GET", "/outcomes/{outcome_id:int}", OUTCOME_PAGE),
    row("GET", "/outcomes/{outcome_id:int}/edit", OUTCOME_PAGE),
    row("POST", "/outcomes/{outcome_id:int}/edit", OUTCOME_FORM_ANSWERS, OUTCOME_FORM),
    row("POST", "/outcomes/{outcome_id:int}/followups", OUTCOME_FORM_ANSWERS, {"due_on": LATER}),
    row(
        "POST",
        "/followups/{follow_up_id:int}",
        OUTCOME_FORM_ANSWERS,
        lambda w: {"due_on": LATER, "outcome_id": w.outcome},
    ),
    row(
        "POST",
        "/outcomes/{outcome_id:int}/case",
        OUTCOME_FORM_ANSWERS,
        {"title": "Derived", "city": "Zwolle", "country": "NL"},
    ),
    row("GET", "/followups", "302 302 302 200 200 200 200"),
    row("GET", "/followups/due.csv", "302 302 302 200 200 200 200"),
    row("GET", "/followup/{token:str}", EVERYONE_200),
    row("POST", "/followup/{token:str}", EVERYONE_200, ANSWER_FORM),
    # --- pages: participants ---------------------------------------------------------------
    row("GET", "/p/{session_id:int}", "404 200 404 404 404 404 404"),
    row("GET", "/p/{session_id:int}/me.css", "404 200 404 404 404 404 404"),
    row("GET", "/p/{session_id:int}/notes/older", "404 200 404 404 404 404 404", query="before=1000"),
    row("GET", "/p/{session_id:int}/notes/{note_id:int}/edit", "404 200 404 404 404 404 404"),
    row("POST", "/p/{session_id:int}/notes", "404 302 404 404 404 404 404", NOTE_FORM),
    row("POST", "/p/{session_id:int}/notes/{note_id:int}", PARTICIPANT_PAGE_ACTION, {"body": "Edited"}),
    row("POST", "/p/{session_id:int}/notes/{note_id:int}/delete", PARTICIPANT_PAGE_ACTION),
    row("POST", "/p/{session_id:int}/votes/{note_id:int}", "404 200 404 404 404 404 404"),
    row(
        "POST",
        "/p/{session_id:int}/votes/{note_id:int}/retract",
        "404 200 404 404 404 404 404",
        note_id=lambda w: w.voted_note,
    ),
    row("POST", "/p/{session_id:int}/consent", "404 200 404 404 404 404 404", {"consent": "anonymous"}),
    row("POST", "/p/{session_id:int}/polls/{poll_id:int}", "404 302 404 404 404 404 404", {"choices": "1"}),
    row("POST", "/p/{session_id:int}/withdraw", "404 200 404 404 404 404 404"),
    # --- pages: communities and privacy (S is in the facilitator's community) ---------------
    row("GET", "/communities", "302 302 302 200 200 403 200"),
    row("GET", "/communities/new", "302 302 302 200 200 403 200"),
    row("POST", "/communities/new", "401 401 401 302 302 403 302", {"name": "Another"}),
    row("GET", "/communities/{community_id:int}", RUNS_PAGE),
    row("GET", "/communities/{community_id:int}/edit", RUNS_PAGE),
    row("POST", "/communities/{community_id:int}/edit", RUNS_FORM, {"name": "Renamed"}),
    row(
        "POST",
        "/communities/{community_id:int}/sessions",
        RUNS_FORM,
        lambda w: {"session_id": w.session, "action": "remove"},
    ),
    row("GET", "/communities/{community_id:int}/members", RUNS_PAGE),
    row(
        "POST",
        "/communities/{community_id:int}/members",
        RUNS_FORM,
        lambda w: {"action": "merge", "keep_id": w.member, "merge_id": w.other_member},
    ),
    row("GET", "/admin/privacy", "302 302 302 403 403 403 200"),
    row("GET", "/admin/privacy/find", "302 302 302 403 403 403 302", query="participant_id=1"),
    row("GET", "/admin/participants/{participant_id:int}/erase", "302 302 302 403 403 403 200"),
    row("POST", "/admin/participants/{participant_id:int}/erase", "401 401 401 403 403 403 302"),
    # --- API ------------------------------------------------------------------------------
    row("GET", "/api/docs/openapi.json", EVERYONE_200),
    row("GET", "/api/docs", EVERYONE_200),
    # The documentation UIs that load scripts from a CDN are off: only the schema is served.
    row("GET", "/api/docs/{path:str}", "404 404 404 404 404 404 404", path="swagger"),
    row("POST", "/api/v1/auth/tokens", "401 401 401 401 401 401 401", {"email": "x@example.org", "password": "nope"}),
    row("GET", "/api/v1/auth/tokens", "401 401 401 200 200 200 200"),
    row("DELETE", "/api/v1/auth/tokens/{token_id:int}", "401 401 401 204 404 404 204"),
    row("GET", "/api/v1/admin/tokens", "401 401 401 403 403 403 200"),
    row("GET", "/api/v1/sessions", "401 401 401 200 200 403 200"),
    row("POST", "/api/v1/sessions", "401 401 401 201 201 403 201", {"title": "By API"}),
    row("GET", "/api/v1/sessions/{session_id:int}", "401 200 404 200 404 404 200"),
    row("POST", "/api/v1/sessions/{session_id:int}/start", RUNS_API),
    row("POST", "/api/v1/sessions/{session_id:int}/close", RUNS_API),
    row("POST", "/api/v1/sessions/{session_id:int}/joining", RUNS_API, {"joining": "locked"}),
    row("POST", "/api/v1/sessions/{session_id:int}/premoderation", RUNS_API, {"premoderation": True}),
    row("POST", "/api/v1/sessions/{session_id:int}/activities/{activity_id:int}/activate", RUNS_API),
    row("POST", "/api/v1/sessions/{session_id:int}/timer", RUNS_API, {"action": "add", "seconds": 60}),
    row("POST", "/api/v1/join", "201 201 201 201 201 201 201", lambda w: {**JOIN_FORM, "join_code": w.code}),
    row("PUT", "/api/v1/sessions/{session_id:int}/consent", PARTICIPANT_API, {"consent": "anonymous"}),
    row(
        "POST",
        "/api/v1/sessions/{session_id:int}/participants/{participant_id:int}/remove",
        RUNS_API,
        {"notes": "remove"},
    ),
    row("GET", "/api/v1/sessions/{session_id:int}/notes", "401 200 404 200 404 404 200"),
    row("POST", "/api/v1/sessions/{session_id:int}/notes", "401 201 404 201 404 404 201", NOTE_FORM),
    row("PUT", "/api/v1/sessions/{session_id:int}/notes/{note_id:int}", PARTICIPANT_API, {"body": "Edited"}),
    row("POST", "/api/v1/sessions/{session_id:int}/notes/{note_id:int}/delete", PARTICIPANT_API.replace("200", "204")),
    row("POST", "/api/v1/sessions/{session_id:int}/notes/{note_id:int}/moderation", RUNS_API, {"action": "pin"}),
    row("PUT", "/api/v1/sessions/{session_id:int}/notes/{note_id:int}/cluster", RUNS_API, {"name": "Green"}),
    row("POST", "/api/v1/sessions/{session_id:int}/votes/rounds", "401 401 401 409 404 403 409", {"votes": 3}),
    row("POST", "/api/v1/sessions/{session_id:int}/votes/{action:str}", RUNS_API, action="reveal"),
    row("GET", "/api/v1/sessions/{session_id:int}/votes", "401 200 404 200 404 404 200"),
    row(
        "POST",
        "/api/v1/sessions/{session_id:int}/votes",
        "401 201 404 401 401 401 401",
        lambda w: {"note_id": w.proxy_note},
    ),
    row("POST", "/api/v1/sessions/{session_id:int}/polls", "401 401 401 201 404 403 201", POLL_FORM),
    row("GET", "/api/v1/sessions/{session_id:int}/polls", "401 200 404 200 404 404 200"),
    row("GET", "/api/v1/sessions/{session_id:int}/polls/{poll_id:int}", "401 200 404 200 404 404 200"),
    row("POST", "/api/v1/sessions/{session_id:int}/polls/{poll_id:int}/status", RUNS_API, {"action": "reveal"}),
    row(
        "POST",
        "/api/v1/sessions/{session_id:int}/polls/{poll_id:int}/answers",
        "401 201 404 201 404 404 201",
        lambda w: {"client_id": "m", "choices": [1], "participant_id": w.proxy},
    ),
    row("GET", "/api/v1/cases", "401 401 401 200 200 200 200"),
    row("GET", "/api/v1/cases/{case_id:int}", "401 401 401 200 200 200 200"),
    row("POST", "/api/v1/cases", "401 401 401 201 201 403 201", CASE_FORM),
    row("PUT", "/api/v1/cases/{case_id:int}", "401 401 401 200 200 403 200", {"stage": "pilot"}),
    row("POST", "/api/v1/cases/{case_id:int}/archive", "401 401 401 200 200 403 200"),
    row("POST", "/api/v1/cases/{case_id:int}/restore", "401 401 401 200 200 403 200"),
    # The world's case was shared in S: it can only be archived.
    row("DELETE", "/api/v1/cases/{case_id:int}", "401 401 401 409 409 403 409"),
    row("GET", "/api/v1/submissions", "401 401 401 200 200 403 200"),
    row("POST", "/api/v1/submissions/{submission_id:int}/accept", "401 401 401 200 200 403 200"),
    row("POST", "/api/v1/submissions/{submission_id:int}/reject", "401 401 401 200 200 403 200", {"reason": "No"}),
    row(
        "POST", "/api/v1/sessions/{session_id:int}/cases", "401 401 401 201 404 403 201", lambda w: {"case_id": w.case}
    ),
    row("GET", "/api/v1/sessions/{session_id:int}/events", "401 200 404 200 404 404 200"),
    row(
        "GET",
        "/api/v1/streams/{kind:str}/{stream_id:int}/events",
        "401 401 401 200 200 403 200",
        kind="case",
        stream_id=lambda w: w.case,
    ),
    row("GET", "/api/v1/sessions/{session_id:int}/record", RECORD_PAGE.replace("302", "401")),
    row("PUT", "/api/v1/sessions/{session_id:int}/summary", RUNS_API, {"summary": "By API"}),
    row("GET", "/api/v1/outcomes", "401 401 401 200 200 200 200"),
    row(
        "POST",
        "/api/v1/outcomes",
        OUTCOME_API.replace("200", "201"),
        lambda w: {**OUTCOME_FORM, "session_id": w.session},
    ),
    row("GET", "/api/v1/outcomes/{outcome_id:int}", OUTCOME_API),
    row("PUT", "/api/v1/outcomes/{outcome_id:int}", OUTCOME_API, OUTCOME_FORM),
    row("POST", "/api/v1/outcomes/{outcome_id:int}/derived-case", OUTCOME_API.replace("200", "201"), {}),
    row("POST", "/api/v1/outcomes/{outcome_id:int}/follow-ups", OUTCOME_API.replace("200", "201"), {"due_on": LATER}),
    row("PUT", "/api/v1/follow-ups/{follow_up_id:int}", OUTCOME_API, {"due_on": LATER}),
    row("POST", "/api/v1/follow-ups/{follow_up_id:int}/cancel", OUTCOME_API),
    row("GET", "/api/v1/follow-ups", "401 401 401 200 200 200 200"),
    row("GET", "/api/v1/check-ins/{token:str}", EVERYONE_200),
    row("POST", "/api/v1/check-ins/{token:str}", EVERYONE_200, ANSWER_FORM),
    row("GET", "/api/v1/communities", "401 401 401 200 200 403 200"),
    row("POST", "/api/v1/communities", "401 401 401 201 201 403 201", {"name": "By API"}),
    row("GET", "/api/v1/communities/{community_id:int}", RUNS_API),
    row("PUT", "/api/v1/communities/{community_id:int}", RUNS_API, {"name": "Renamed"}),
    row("GET", "/api/v1/communities/{community_id:int}/sessions", RUNS_API),
    row(
        "POST",
        "/api/v1/communities/{community_id:int}/sessions",
        "401 401 401 201 404 403 201",
        lambda w: {"session_id": w.session},
    ),
    row("POST", "/api/v1/communities/{community_id:int}/sessions/{session_id:int}/remove", RUNS_API),
    row("GET", "/api/v1/communities/{community_id:int}/cases", RUNS_API),
    row("GET", "/api/v1/communities/{community_id:int}/outcomes", RUNS_API),
    row("GET", "/api/v1/communities/{community_id:int}/events", RUNS_API),
    row("GET", "/api/v1/communities/{community_id:int}/members", RUNS_API),
    row(
        "POST",
        "/api/v1/communities/{community_id:int}/members/merge",
        RUNS_API,
        lambda w: {"keep_id": w.member, "merge_id": w.other_member},
    ),
    row(
        "POST",
        "/api/v1/communities/{community_id:int}/members/link",
        RUNS_API,
        lambda w: {"participant_id": w.another, "member_id": w.member},
    ),
    row(
        "POST", "/api/v1/communities/{community_id:int}/members/unlink", RUNS_API, lambda w: {"participant_id": w.proxy}
    ),
    row("POST", "/api/v1/sessions/{session_id:int}/consent/withdraw", PARTICIPANT_API),
    row("POST", "/api/v1/participants/{participant_id:int}/erase", "401 401 401 403 403 403 200"),
    row("GET", "/api/v1/erasures", "401 401 401 403 403 403 200"),
    # --- research: codebook, coding, memos, exports (researchers and admins) ---------------
    row("GET", "/research/codes", RESEARCH_PAGE),
    row("POST", "/research/codes", RESEARCH_FORM, {"name": "New code"}),
    row("POST", "/research/codes/import", "401 401 401 403 403 400 400"),
    row("GET", "/research/codes.qdc", RESEARCH_PAGE, writes=True),
    row("GET", "/research/codes/{code_id:int}", RESEARCH_PAGE, code_id=lambda w: w.research_code),
    row("POST", "/research/codes/{code_id:int}", RESEARCH_FORM, {"name": "Renamed"}, code_id=lambda w: w.research_code),
    row("POST", "/research/codes/{code_id:int}/delete", RESEARCH_FORM, code_id=lambda w: w.research_code),
    row("GET", "/research/sessions/{session_id:int}/coding", RESEARCH_PAGE),
    row("GET", "/research/notes/{note_id:int}", RESEARCH_PAGE),
    row(
        "POST",
        "/research/notes/{note_id:int}/codings",
        RESEARCH_FORM,
        lambda w: {"code_id": w.research_code, "start": 0, "end": 2},
    ),
    row(
        "POST", "/research/codings/{coding_id:int}/delete", "401 401 401 403 403 403 302", coding_id=lambda w: w.coding
    ),
    row("GET", "/research/memos", RESEARCH_PAGE),
    row("POST", "/research/memos", RESEARCH_FORM, lambda w: {"title": "Mine too", "code_id": w.research_code}),
    row("GET", "/research/memos/{memo_id:int}", "302 302 302 403 403 404 200", memo_id=lambda w: w.memo),
    row(
        "POST", "/research/memos/{memo_id:int}", "401 401 401 403 403 404 302", {"title": "x"}, memo_id=lambda w: w.memo
    ),
    row("POST", "/research/memos/{memo_id:int}/delete", "401 401 401 403 403 404 302", memo_id=lambda w: w.memo),
    row("GET", "/research/export", RESEARCH_PAGE),
    row(
        "POST",
        "/research/export",
        "401 401 401 403 403 200 200",
        lambda w: {"scope": f"session:{w.session}", "format": "csv"},
    ),
    row("GET", "/api/v1/research/codes", RESEARCH_API),
    row("POST", "/api/v1/research/codes", RESEARCH_API.replace("200", "201"), {"name": "API code"}),
    row(
        "PUT",
        "/api/v1/research/codes/{code_id:int}",
        RESEARCH_API,
        {"name": "Renamed"},
        code_id=lambda w: w.research_code,
    ),
    row(
        "POST",
        "/api/v1/research/codes/{code_id:int}/delete",
        RESEARCH_API.replace("200", "204"),
        code_id=lambda w: w.research_code,
    ),
    row("POST", "/api/v1/research/codes/import", "401 401 401 403 403 400 400"),
    row("GET", "/api/v1/research/codes.qdc", RESEARCH_API, writes=True),
    row("GET", "/api/v1/research/notes/{note_id:int}/codings", RESEARCH_API),
    row(
        "POST",
        "/api/v1/research/notes/{note_id:int}/codings",
        RESEARCH_API.replace("200", "201"),
        lambda w: {"code_id": w.research_code, "start": 0, "end": 2},
    ),
    row(
        "POST",
        "/api/v1/research/codings/{coding_id:int}/delete",
        "401 401 401 403 403 403 204",
        coding_id=lambda w: w.coding,
    ),
    row("GET", "/api/v1/research/memos", RESEARCH_API),
    row(
        "POST",
        "/api/v1/research/memos",
        RESEARCH_API.replace("200", "201"),
        lambda w: {"title": "M", "code_id": w.research_code},
    ),
    row("GET", "/api/v1/research/memos/{memo_id:int}", "401 401 401 403 403 404 200", memo_id=lambda w: w.memo),
    row(
        "PUT",
        "/api/v1/research/memos/{memo_id:int}",
        "401 401 401 403 403 404 200",
        {"title": "x"},
        memo_id=lambda w: w.memo,
    ),
    row("POST", "/api/v1/research/memos/{memo_id:int}/delete", "401 401 401 403 403 404 204", memo_id=lambda w: w.memo),
    row(
        "POST", "/api/v1/research/exports", RESEARCH_API, lambda w: {"scope": f"session:{w.session}", "format": "json"}
    ),
    row("GET", "/api/v1/research/exports", RESEARCH_API),
    # --- living labs -------------------------------------------------------------------------
    row("GET", "/livinglabs", LAB_PAGE),
    row("GET", "/livinglabs/compare", LAB_PAGE),
    row("GET", "/livinglabs/compare/results.json", LAB_PAGE),
    row("GET", "/livinglabs/compare/results.csv", LAB_PAGE),
    row("GET", "/livinglabs/{lab_id:int}", LAB_PAGE),
    row("GET", "/livinglabs/{lab_id:int}/toc.svg", LAB_PAGE),
    row("GET", "/livinglabs/{lab_id:int}/history", LAB_PAGE),
    row("GET", "/livinglabs/{lab_id:int}/indicators", LAB_PAGE),
    row("GET", "/livinglabs/{lab_id:int}/indicators/{indicator_id:int}", LAB_PAGE),
    row("GET", "/livinglabs/{lab_id:int}/experiments", LAB_PAGE),
    row("GET", "/livinglabs/{lab_id:int}/experiments/{experiment_id:int}", LAB_PAGE),
    row("POST", "/livinglabs/{lab_id:int}/toc/nodes", LAB_FORM, {"kind": "output", "title": "Scans"}),
    row("POST", "/livinglabs/{lab_id:int}/toc/nodes/{node_id:int}", LAB_FORM, {"kind": "short_term", "title": "Y"}),
    row("POST", "/livinglabs/{lab_id:int}/toc/nodes/{node_id:int}/delete", LAB_FORM, node_id=lambda w: w.step),
    row("POST", "/livinglabs/{lab_id:int}/toc/links", LAB_FORM, lambda w: {"from_id": w.node, "to_id": w.impact}),
    row("POST", "/livinglabs/{lab_id:int}/toc/links/{link_id:int}/delete", LAB_FORM),
    row(
        "POST",
        "/livinglabs/{lab_id:int}/toc/nodes/{node_id:int}/outcomes",
        LAB_FORM,
        lambda w: {"outcome_id": w.free_outcome},
    ),
    row(
        "POST",
        "/livinglabs/{lab_id:int}/toc/nodes/{node_id:int}/outcomes/{outcome_id:int}/delete",
        LAB_FORM,
        outcome_id=lambda w: w.lab_outcome,
    ),
    row("POST", "/livinglabs/{lab_id:int}/indicators", LAB_FORM, lambda w: {**INDICATOR_FORM, "node_id": w.node}),
    row(
        "POST",
        "/livinglabs/{lab_id:int}/indicators/{indicator_id:int}/{action:str}",
        LAB_FORM,
        {"value": "30", "measured_on": "2026-06-01"},
        action="measurements",
    ),
    row("POST", "/livinglabs/{lab_id:int}/experiments", LAB_FORM, EXPERIMENT_FORM),
    row(
        "POST",
        "/livinglabs/{lab_id:int}/experiments/{experiment_id:int}/{action:str}",
        LAB_FORM,
        {"title": "Train", "owner": "Fatima", "due_on": "2026-03-01"},
        action="actions",
    ),
    row("GET", "/api/v1/livinglabs", LAB_READ_API),
    row("GET", "/api/v1/livinglabs/results", LAB_READ_API),
    row("GET", "/api/v1/livinglabs/{lab_id:int}/toc", LAB_READ_API),
    row("GET", "/api/v1/livinglabs/{lab_id:int}/indicators", LAB_READ_API),
    row("GET", "/api/v1/livinglabs/{lab_id:int}/events", LAB_READ_API),
    row("POST", "/api/v1/livinglabs/{lab_id:int}/toc/nodes", LAB_API, {"kind": "output", "title": "Scans"}),
    row("POST", "/api/v1/livinglabs/{lab_id:int}/toc/links", LAB_API, lambda w: {"from_id": w.node, "to_id": w.impact}),
    row(
        "POST",
        "/api/v1/livinglabs/{lab_id:int}/indicators",
        LAB_API,
        lambda w: {**INDICATOR_FORM, "baseline": 20, "target": 50, "node_id": w.node},
    ),
    row(
        "POST",
        "/api/v1/livinglabs/{lab_id:int}/indicators/{indicator_id:int}/measurements",
        LAB_API,
        {"value": 30, "measured_on": "2026-06-01"},
    ),
    # A header without rows: the lab's facilitators get the reason, nothing is written.
    row(
        "POST",
        "/api/v1/livinglabs/{lab_id:int}/indicators/{indicator_id:int}/measurements/import",
        "401 401 401 400 404 403 400",
        {"csv": "date,value\n"},
    ),
    row(
        "POST",
        "/api/v1/livinglabs/{lab_id:int}/indicators/{indicator_id:int}/measurements/from-poll",
        LAB_API,
        lambda w: {"poll_id": w.lab_poll},
    ),
    row("GET", "/api/v1/research/grants", "401 401 401 200 200 403 200"),
    row(
        "POST",
        "/api/v1/research/grants",
        "401 401 401 201 404 403 201",
        lambda w: {"email": "granted2@example.org", "community_id": None, "session_id": w.session},
    ),
    row("DELETE", "/api/v1/research/grants/{grant_id:int}", "401 401 401 204 404 403 204", grant_id=lambda w: w.grant),
    row("GET", "/api/v1/research/sessions/{session_id:int}/replay", "401 401 401 200 404 200 200"),
    row("GET", "/api/v1/research/charts", "401 401 401 200 200 200 200"),
    row("GET", "/api/v1/research/moderation", "401 401 401 200 200 200 200"),
    # --- the live stream (close codes; 101: accepted) ---------------------------------------
    row("WS", "/api/v1/sessions/{session_id:int}/stream", "4404 101 4404 101 4404 4404 101"),
    row("WS", "/api/v1/sessions/{session_id:int}/stream", "4404 4404 4404 101 4404 4404 101", query="view=console"),
    row("WS", "/api/v1/sessions/{session_id:int}/stream", "4404 4404 4404 101 4404 4404 101", query="view=projector"),
    row(
        "WS", "/api/v1/sessions/{session_id:int}/stream", "4404 101 4404 4404 4404 4404 4404", query="view=participant"
    ),
]

# --- the world every row runs in ---------------------------------------------------------


@dataclass
class Caller:
    cookies: dict[str, str] = field(default_factory=dict)
    bearer: str | None = None


@dataclass
class World:
    """One live session S (run by `facilitator`, joined by `participant`) and another T (run by
    `other_facilitator`, joined by `other_participant`), with a case, notes and an open vote."""

    db: Path
    session: int = 0
    other_session: int = 0
    code: str = ""
    activity: int = 0
    note: int = 0  # the participant's own note in S
    proxy_note: int = 0  # a note entered by proxy in S
    voted_note: int = 0  # the note the participant has voted for
    participant: int = 0
    proxy: int = 0  # a participant without a device in S
    case: int = 0
    poll: int = 0  # an open poll in S
    community: int = 0  # the facilitator's community, holding S
    member: int = 0  # the participant's member; the proxy was linked to it
    another: int = 0  # one more participant of S, a member of their own ...
    other_member: int = 0  # ... this one
    research_code: int = 0  # a code of the codebook, with a memo by the admin (another researcher's memo)
    coding: int = 0  # the admin's coding of the participant's note
    memo: int = 0
    outcome: int = 0  # an outcome of S that came from the case, with its check-ins
    follow_up: int = 0  # its first check-in ...
    token: str = ""  # ... and that check-in's private token
    lab: int = 0  # a living lab the facilitator runs, with a Theory of Change:
    step: int = 0  # an activity, which leads to ...
    node: int = 0  # ... a short-term outcome (with an indicator and an attached outcome)
    impact: int = 0  # the impact, not linked yet
    link: int = 0
    lab_outcome: int = 0  # attached to `node`
    free_outcome: int = 0  # an outcome of the lab attached nowhere
    indicator: int = 0
    experiment: int = 0
    lab_poll: int = 0  # a closed scale in a session of the lab
    submission: int = 0  # a project sent through "Share a project", waiting for review
    grant: int = 0  # research access to S for a researcher who is not one of the callers
    api_token: int = 0  # a token of the facilitator's besides the one it calls with
    callers: dict[str, Caller] = field(default_factory=dict)

    def values(self) -> dict[str, Any]:
        return {
            "session_id": self.session,
            "activity_id": self.activity,
            "note_id": self.note,
            "participant_id": self.participant,
            "poll_id": self.poll,
            "community_id": self.community,
            "outcome_id": self.outcome,
            "follow_up_id": self.follow_up,
            "token": self.token,
            "case_id": self.case,
            "submission_id": self.submission,
            "code": self.code,
            "lab_id": self.lab,
            "node_id": self.node,
            "link_id": self.link,
            "indicator_id": self.indicator,
            "experiment_id": self.experiment,
            "token_id": self.api_token,
        }


def settings_for(db: Path) -> Settings:
    return Settings(
        data_dir=db.parent,
        database_url=f"sqlite+aiosqlite:///{db}",
        channels_url="memory://",
        secret_key="test-secret",
        database_pool=False,
    )


async def _build(world: World) -> None:
    from labs.services import (
        accounts,
        cases,
        codebook,
        coding,
        communities,
        grants,
        members,
        memos,
        notes,
        outcomes,
        participants,
        polls,
        sessions,
        votes,
    )

    settings = settings_for(world.db)
    rt = Runtime(settings=settings, db=Database(settings.database_url, pooled=False))
    made = {}
    for who, role in [
        ("facilitator", "facilitator"),
        ("other_facilitator", "facilitator"),
        ("researcher", "researcher"),
        ("admin", "admin"),
    ]:
        made[who] = await accounts.create(rt, email=f"{who}@example.org", password=PASSWORD, role=role)
        _, login = await accounts.log_in(rt, f"{who}@example.org", PASSWORD)
        token = (await accounts.issue_api_token(rt, f"{who}@example.org", PASSWORD)).token
        world.callers[who] = Caller(cookies={"labs_session": login}, bearer=token)
    world.api_token = (await accounts.create_api_token(rt, made["facilitator"], name="Dashboard")).row.id
    agenda = [{"title": "Ideas"}, {"title": "More ideas"}]
    community = await communities.create(rt, made["facilitator"], {"name": "C"})
    s = await sessions.create(rt, made["facilitator"], {"title": "S", "agenda": agenda, "community_id": community.id})
    t = await sessions.create(rt, made["other_facilitator"], {"title": "T", "agenda": agenda})
    await sessions.start(rt, made["facilitator"], s.id)
    await sessions.start(rt, made["other_facilitator"], t.id)
    world.session, world.other_session, world.code = s.id, t.id, s.join_code
    world.activity = s.activities[1].id
    me, my_token, _ = await participants.join(rt, s.join_code, {"display_name": "Me", "consent": "named"}, "t")
    _, other_token, _ = await participants.join(rt, t.join_code, {"display_name": "Other", "consent": "named"}, "t")
    world.participant = me.id
    world.callers["participant"] = Caller(cookies={f"labs_p{s.id}": my_token}, bearer=my_token)
    world.callers["other_participant"] = Caller(cookies={f"labs_p{t.id}": other_token}, bearer=other_token)
    world.callers["anonymous"] = Caller()
    proxy = await participants.add_proxy(rt, made["facilitator"], s.id, {"display_name": "Proxy", "consent": "none"})
    assert me.member_id is not None
    await members.link(rt, made["facilitator"], community.id, proxy.id, me.member_id)
    another = (await participants.join(rt, s.join_code, {"display_name": "A", "consent": "none"}, "t")).participant
    world.community, world.member, world.another = community.id, me.member_id, another.id
    world.other_member = another.member_id or 0
    note, _ = await notes.post(rt, s.id, {"client_id": "mine", "body": "Mine"}, participant=me)
    proxied, _ = await notes.post(
        rt, s.id, {"client_id": "proxy", "body": "Said aloud", "participant_id": proxy.id}, account=made["facilitator"]
    )
    third, _ = await notes.post(rt, s.id, {"client_id": "third", "body": "Voted for"}, account=made["facilitator"])
    world.note, world.proxy_note, world.voted_note = note["id"], proxied["id"], third["id"]
    case = await cases.create_case(rt, made["facilitator"], {"title": "Roofs", "city": "Utrecht", "country": "NL"})
    world.case = case.id
    # Shared with the next activity: sharing it with the current one is left to the rows.
    await cases.share_case(rt, made["facilitator"], s.id, case.id, None, s.activities[1].id)
    world.submission = (await cases.submit_project(rt, PROJECT_FORM)).id
    await votes.open_round(rt, made["facilitator"], s.id, 3)
    await votes.cast(rt, me, third["id"])
    poll = await polls.create(rt, made["facilitator"], s.id, POLL_FORM)
    await polls.set_status(rt, made["facilitator"], s.id, poll["id"], "open")
    world.poll, world.proxy = poll["id"], proxy.id
    code = await codebook.create(rt, made["admin"], {"name": "Trust"})
    applied = await coding.apply(rt, made["admin"], note["id"], {"code_id": code.id})
    memo = await memos.write(rt, made["admin"], {"title": "Mine", "code_id": code.id})
    world.research_code, world.coding, world.memo = code.id, applied.id, memo.id
    outcome = await outcomes.record_outcome(
        rt,
        made["facilitator"],
        s.id,
        {"kind": "new_practice", "title": "Roofs", "what_changed": "A pilot"},
        {"case_ids": [case.id], "note_ids": [note["id"]]},
    )
    first = (await outcomes.view(rt, made["facilitator"], outcome.id)).follow_ups[0]
    world.outcome, world.follow_up, world.token = outcome.id, first.id, outcomes.token_of(rt, first)
    await _living_lab(rt, made["facilitator"], world)
    # The researcher studies S (granted by its facilitator); what an ungranted researcher gets is
    # tests/test_research_access.py's matrix.
    await grants.grant(rt, made["facilitator"], "researcher@example.org", session_id=s.id)
    granted = await accounts.create(rt, email="granted@example.org", password=PASSWORD, role="researcher")
    world.grant = (await grants.grant(rt, made["facilitator"], granted.email, session_id=s.id)).id
    # The POST rows grant access again: to a second researcher, so that the grant above stays for DELETE.
    await accounts.create(rt, email="granted2@example.org", password=PASSWORD, role="researcher")
    await rt.db.dispose()


async def _living_lab(rt: Runtime, facilitator: Any, world: World) -> None:
    from labs.services import communities, experiments, indicators, outcomes, participants, polls, sessions, toc

    lab = (await communities.create(rt, facilitator, {"name": "L", "kind": "living_lab", "city": "Utrecht"})).id
    step = await toc.add_node(rt, facilitator, lab, {"kind": "activity", "title": "Cafés"})
    node = await toc.add_node(rt, facilitator, lab, {"kind": "short_term", "title": "Insulate"})
    impact = await toc.add_node(rt, facilitator, lab, {"kind": "impact", "title": "Fair transition"})
    link = await toc.add_link(rt, facilitator, lab, {"from_id": step.id, "to_id": node.id})
    made = [
        await outcomes.record_outcome(
            rt, facilitator, None, {"community_id": lab, "kind": "new_practice", "title": t, "what_changed": t}, {}
        )
        for t in ("Attached", "Free")
    ]
    await toc.attach_outcome(rt, facilitator, lab, node.id, made[0].id)
    bounded = {**INDICATOR_FORM, "range_min": 0, "range_max": 100}
    indicator = await indicators.define(rt, facilitator, lab, node.id, bounded)
    experiment = await experiments.plan(rt, facilitator, lab, {**EXPERIMENT_FORM, "link_id": link.id})
    evening = await sessions.create(rt, facilitator, {"title": "Evening", "community_id": lab})
    scale = await polls.create(rt, facilitator, evening.id, {"kind": "scale", "question": "Ready?"})
    await polls.set_status(rt, facilitator, evening.id, scale["id"], "open")
    await sessions.set_joining(rt, facilitator, evening.id, "open")  # answered before the evening starts
    joined = await participants.join(rt, evening.join_code, {"display_name": "R", "consent": "none"}, "t")
    resident = joined.participant
    await polls.answer(rt, evening.id, scale["id"], {"client_id": "r", "number": 4}, participant=resident)
    await polls.set_status(rt, facilitator, evening.id, scale["id"], "close")
    world.lab, world.step, world.node, world.impact, world.link = lab, step.id, node.id, impact.id, link.id
    world.lab_outcome, world.free_outcome, world.indicator = made[0].id, made[1].id, indicator.id
    world.experiment, world.lab_poll = experiment.id, scale["id"]


@pytest.fixture(scope="module")
def world(sqlite_template: Path, tmp_path_factory: pytest.TempPathFactory) -> World:
    return make_world(sqlite_template, tmp_path_factory.mktemp("world") / "labs.db")


def make_world(template: Path, db: Path) -> World:
    """The world in the database file `db` (a copy of the migrated `template`)."""
    shutil.copyfile(template, db)
    built = World(db=db)
    # Its own loop in a thread: the tests' loops come and go per test.
    with ThreadPoolExecutor(1) as pool:
        pool.submit(asyncio.run, _build(built)).result()
    return built


def fingerprint(db: Path) -> str:
    """A digest of every row the app keeps (bookkeeping aside), to prove a refusal wrote nothing."""
    digest = hashlib.sha256()
    with sqlite3.connect(db) as conn:
        tables = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table' ORDER BY name")]
        for table in tables:
            if table in BOOKKEEPING or table.startswith("sqlite_"):
                continue
            for values in conn.execute(f'SELECT * FROM "{table}" ORDER BY 1'):
                digest.update(repr((table, values)).encode())
    return digest.hexdigest()


def fill(path: str, values: dict[str, Any]) -> str:
    for name, value in values.items():
        for kind in ("int", "str", "path"):
            path = path.replace("{" + f"{name}:{kind}" + "}", str(value))
    assert "{" not in path, f"no value for a parameter of {path}"
    return path


def url_of(r: Row, world: World) -> str:
    values = {**world.values(), **{k: _resolve(v, world) for k, v in r.values.items()}}
    return fill(r.path, values) + (f"?{r.query}" if r.query else "")


def _resolve(value: Any, world: World) -> Any:
    return value(world) if callable(value) else value


async def call(world: World, who: str, r: Row, client: AsyncTestClient[Litestar]) -> int:
    """What `who` gets for this row from `client` (an app on its own copy of the world)."""
    caller = world.callers[who]
    url = url_of(r, world)
    body = _resolve(r.body, world)
    client.cookies.clear()
    if r.method == "WS":
        # The app's own pages ask for a view and carry cookies; scripts carry a bearer token.
        browser = "view=" in r.query
        cookies, headers = (caller.cookies, {}) if browser else ({}, _auth(caller))
        return await asyncio.to_thread(_stream_answer, client.app, url, cookies, headers)
    if r.path.startswith("/api/"):
        response = await client.request(r.method, url, json=body, headers=_auth(caller))
    else:
        client.cookies.update(caller.cookies)
        await client.get("/join")  # a page visit first: the CSRF cookie, as in a browser
        form = {**(body or {}), "_csrf_token": client.cookies.get("labs_csrf", "")}
        response = await client.request(r.method, url, data=form if r.method != "GET" else None, follow_redirects=False)
    return response.status_code


def _stream_answer(app: Litestar, url: str, cookies: dict[str, str], headers: dict[str, str]) -> int:
    """101 when the socket is accepted and delivers, else its close code. A synchronous client in a
    thread of its own: its app runs in a loop of its own that this blocking wait does not hold up."""
    try:
        with TestClient(app=app, cookies=cookies) as client, client.websocket_connect(url, headers=headers) as ws:
            ws.receive_text(timeout=5)  # the first event of the catch-up: the world has many
    except WebSocketDisconnect as e:
        return e.code
    return 101


@asynccontextmanager
async def serving(db: Path) -> AsyncIterator[AsyncTestClient[Litestar]]:
    from labs.app import create_app

    async with AsyncTestClient(app=create_app(settings_for(db))) as client:
        yield client


def _auth(caller: Caller) -> dict[str, str]:
    return {"Authorization": f"Bearer {caller.bearer}"} if caller.bearer else {}


def app_routes(app: Litestar) -> set[tuple[str, str]]:
    found: set[tuple[str, str]] = set()
    for route in app.routes:
        if isinstance(route, WebSocketRoute):
            found.add(("WS", route.path))
        elif isinstance(route, HTTPRoute):
            for handler in route.route_handlers:
                assert isinstance(handler, HTTPRouteHandler)
                for method in handler.http_methods:
                    if method not in ("OPTIONS", "HEAD"):
                        found.add((method, route.path))
    return found


def test_every_route_has_a_row(world: World) -> None:
    from labs.app import create_app

    routes = app_routes(create_app(settings_for(world.db)))
    rows = {r.key for r in ROWS}
    assert len({(r.key, r.query) for r in ROWS}) == len(ROWS), "two rows for one route and query"
    missing = sorted(routes - rows)
    assert not missing, f"routes without a row in tests/test_access_matrix.py ROWS: {missing}"
    assert not sorted(rows - routes), f"rows for routes the app does not have: {sorted(rows - routes)}"


@pytest.mark.parametrize("r", ROWS, ids=[f"{r.method} {r.path}{'?' + r.query if r.query else ''}" for r in ROWS])
async def test_access(world: World, r: Row, tmp_path: Path) -> None:
    expected = r.expected()
    got: dict[str, int] = {}
    shared = copy_of(world, tmp_path / "shared")
    before = fingerprint(shared)
    async with serving(shared) as client:
        for who in WHO:
            # A refusal (and any GET) must leave the shared copy as it was; a change gets its own copy.
            if expected[who] < 400 and (r.method not in ("GET", "WS") or r.writes):
                async with serving(copy_of(world, tmp_path / who)) as own:
                    got[who] = await call(world, who, r, own)
                continue
            got[who] = await call(world, who, r, client)
            assert fingerprint(shared) == before, f"{r.method} {r.path} as {who} ({got[who]}) wrote to the database"
    assert got == expected, "\n".join(
        f"{who:18} expected {expected[who]}, got {got[who]}" for who in WHO if got[who] != expected[who]
    )


def copy_of(world: World, folder: Path) -> Path:
    folder.mkdir()
    shutil.copyfile(world.db, folder / "labs.db")
    return folder / "labs.db"
