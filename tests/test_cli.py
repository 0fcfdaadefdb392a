"""The `labs` command through its real entry point (the installed console script, in a
subprocess), against a fresh SQLite file per test; and the demo on PostgreSQL when
LABS_TEST_POSTGRES_URL is set. What the demo built is checked through the services."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import socket
import sqlite3
import subprocess
import sys
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from labs import events
from labs.db import Database
from labs.models import NoteKind, SessionStatus
from labs.runtime import Runtime
from labs.settings import Settings, normalise_db_url
from tests.conftest import PASSWORD, POSTGRES_URL, pg_admin, pg_dsn


def _labs_command() -> list[str]:
    beside = Path(sys.executable).with_name("labs")
    if beside.exists():
        return [str(beside)]
    found = shutil.which("labs")
    return [found] if found else [sys.executable, "-m", "labs"]


LABS = _labs_command()


def _env(data_dir: Path, database_url: str | None = None) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("LABS_")}
    env["LABS_DATA_DIR"] = str(data_dir)
    if database_url:
        env["LABS_DATABASE_URL"] = database_url
    return env


def run(env: dict[str, str], *args: str, timeout: float = 180) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*LABS, *args], env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    return _env(tmp_path)


def sqlite_path(env: dict[str, str]) -> Path:
    return Path(env["LABS_DATA_DIR"]) / "labs.db"


# --- help ----------------------------------------------------------------------------------


def test_top_level_help_lists_every_command(env: dict[str, str]) -> None:
    result = run(env, "--help")
    assert result.returncode == 0, result.stderr
    assert "Usage: labs" in result.stdout
    for command in ("serve", "db", "users", "demo", "privacy", "cleanup"):
        assert re.search(rf"^\s+{command}\s+\S", result.stdout, re.M), result.stdout


@pytest.mark.parametrize(
    ("args", "says"),
    [
        (["serve"], "--reload"),
        (["db"], "upgrade"),
        (["db", "upgrade"], "REVISION"),
        (["db", "downgrade"], "base"),
        (["db", "current"], "revision"),
        (["users"], "create"),
        (["users", "create"], "researcher"),
        (["demo"], "live"),
        (["privacy", "reapply"], "backup"),
    ],
)
def test_every_command_explains_itself(env: dict[str, str], args: list[str], says: str) -> None:
    result = run(env, *args, "--help")
    assert result.returncode == 0, result.stderr
    assert f"Usage: labs {' '.join(args)}" in result.stdout
    assert says in result.stdout


def test_python_dash_m_labs_is_the_same_command(env: dict[str, str]) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "labs", "--help"], env=env, capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stderr
    assert "demo" in result.stdout


# --- db ------------------------------------------------------------------------------------


def test_db_upgrade_current_downgrade(env: dict[str, str]) -> None:
    current = run(env, "db", "current")
    assert current.returncode == 0, current.stderr
    assert "never migrated" in current.stdout

    up = run(env, "db", "upgrade")
    assert up.returncode == 0, up.stderr
    assert "empty ->" in up.stdout
    assert "up to date" in run(env, "db", "current").stdout
    assert "nothing to do" in run(env, "db", "upgrade").stdout

    down = run(env, "db", "downgrade", "-1")
    assert down.returncode == 0, down.stderr
    assert "behind" in run(env, "db", "current").stdout
    assert run(env, "db", "upgrade").returncode == 0
    assert "up to date" in run(env, "db", "current").stdout


def test_downgrade_needs_a_revision(env: dict[str, str]) -> None:
    result = run(env, "db", "downgrade")
    assert result.returncode == 2
    assert "REVISION" in result.stderr


# --- users ---------------------------------------------------------------------------------


def test_create_user_after_upgrade(env: dict[str, str], tmp_path: Path) -> None:
    assert run(env, "db", "upgrade").returncode == 0
    result = run(
        env,
        "users",
        "create",
        "--email",
        "Ada@Example.org",
        "--password",
        PASSWORD,
        "--role",
        "facilitator",
        "--name",
        "Ada Lovelace",
    )
    assert result.returncode == 0, result.stderr
    assert "ada@example.org" in result.stdout

    async def check(rt: Runtime) -> None:
        from labs.services import accounts

        account = await accounts.authenticate(rt, "ada@example.org", PASSWORD)
        assert (account.role.value, account.display_name) == ("facilitator", "Ada Lovelace")

    with_runtime(f"sqlite+aiosqlite:///{sqlite_path(env)}", tmp_path, check)


def test_unknown_role_is_refused_naming_the_allowed_ones(env: dict[str, str]) -> None:
    assert run(env, "db", "upgrade").returncode == 0
    result = run(env, "users", "create", "--email", "x@example.org", "--password", PASSWORD, "--role", "boss")
    assert result.returncode == 2
    for role in ("admin", "facilitator", "researcher"):
        assert role in result.stderr


def test_weak_password_is_refused_with_the_reason(env: dict[str, str]) -> None:
    assert run(env, "db", "upgrade").returncode == 0
    result = run(env, "users", "create", "--email", "x@example.org", "--password", "short", "--role", "admin")
    assert result.returncode == 1
    assert "at least 10 characters" in result.stderr


def test_duplicate_email_is_refused(env: dict[str, str]) -> None:
    assert run(env, "db", "upgrade").returncode == 0
    args = ("users", "create", "--email", "x@example.org", "--password", PASSWORD, "--role", "researcher")
    assert run(env, *args).returncode == 0
    again = run(env, *args)
    assert again.returncode == 1
    assert "already exists" in again.stderr


def test_create_user_on_an_unmigrated_database_says_what_to_do(env: dict[str, str]) -> None:
    args = ("--email", "x@example.org", "--password", PASSWORD, "--role", "admin")
    result = run(env, "users", "create", *args)
    assert result.returncode == 1
    assert "labs db upgrade" in result.stderr


# --- serve ---------------------------------------------------------------------------------


def test_serve_refuses_a_database_from_newer_code(env: dict[str, str]) -> None:
    assert run(env, "db", "upgrade").returncode == 0
    with sqlite3.connect(sqlite_path(env)) as conn:
        conn.execute("UPDATE alembic_version SET version_num='ffffffffffff'")
    result = run(env, "serve", "--port", "1")
    assert result.returncode != 0
    assert "ffffffffffff, newer than this code (head" in result.stderr
    assert "Upgrade labs, or point LABS_DATABASE_URL elsewhere." in result.stderr
    # The other commands refuse it too, rather than "upgrading" past what they know.
    assert "newer than this code" in run(env, "db", "upgrade").stderr
    assert "newer than this code" in run(env, "demo").stderr


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def server(env: dict[str, str], tmp_path: Path) -> Iterator[tuple[str, Path]]:
    port = _free_port()
    log = tmp_path / "serve.log"
    with log.open("w") as out:
        process = subprocess.Popen([*LABS, "serve", "--port", str(port)], env=env, stdout=out, stderr=subprocess.STDOUT)
    try:
        yield f"http://127.0.0.1:{port}", log
    finally:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def test_serve_migrates_a_new_sqlite_database_and_points_to_setup(server: tuple[str, Path]) -> None:
    base, log = server
    deadline = time.monotonic() + 60
    response: Any = None
    while time.monotonic() < deadline:
        try:
            response = urllib.request.urlopen(base + "/", timeout=5)  # follows the redirect
            break
        except (urllib.error.URLError, ConnectionError):
            time.sleep(0.3)
    output = log.read_text()
    assert response is not None, output
    assert response.url.endswith("/setup"), response.url
    assert "Migrated the SQLite database" in output
    assert base in output
    assert "one-time setup page" in output


# --- demo ----------------------------------------------------------------------------------


def with_runtime(url: str, data_dir: Path, work: Any) -> Any:
    settings = Settings(
        data_dir=data_dir, database_url=normalise_db_url(url), channels_url="memory://", secret_key="test-secret"
    )

    async def go() -> Any:
        db = Database(settings.database_url)
        try:
            return await work(Runtime(settings, db))
        finally:
            await db.dispose()

    return asyncio.run(go())


async def demo_facts(rt: Runtime) -> dict[str, Any]:
    """Everything the demo promises, read back through the services."""
    from labs.services import (
        accounts,
        cases,
        followups,
        moderation_log,
        notes,
        outcomes,
        participants,
        sessions,
        votes,
    )

    admin = await accounts.by_email(rt, "admin@labs.example")
    assert admin is not None
    roles = {a.role.value for a in await accounts.all_accounts(rt)}
    listed = await sessions.list_for(rt, admin)
    all_sessions = [await sessions.get(rt, s.id) for s in sorted(listed, key=lambda s: s.id)]
    # The full hall (labs.demo_hall) stands apart from the community's meetings.
    halls = [s for s in all_sessions if s.community_id is None]
    all_sessions = [s for s in all_sessions if s.community_id is not None]
    all_cases = (await cases.list_cases(rt, per_page=cases.MAX_PER_PAGE)).items
    sanne = await accounts.by_email(rt, "sanne.devries@labs.example")
    assert sanne is not None
    facts: dict[str, Any] = {
        "roles": roles,
        "tokens": [t.name for t in (await accounts.list_api_tokens(rt, account_id=sanne.id)).items],
        # The learning community's meetings (the living labs' sessions are counted below).
        "sessions": [
            (s.status, len(s.activities), s.community_id)
            for s in all_sessions
            if s.community_id == all_sessions[0].community_id
        ],
        "cases": len(all_cases),
        "cities": {c.city for c in all_cases},
        "live_codes": [s.join_code for s in all_sessions if s.status is SessionStatus.live],
    }
    live = next(s for s in all_sessions if s.status is SessionStatus.live)
    facts["live_activity_open"] = live.current_activity_id is not None and any(
        a.id == live.current_activity_id and a.opened_at and not a.closed_at for a in live.activities
    )
    facts["agenda_types"] = {a.type.value for s in all_sessions for a in s.activities}
    facts["live_polls"] = [a.type.value for a in live.activities if a.type.value in ("poll", "scale")]
    facts["living_labs"] = await living_lab_facts(rt)
    # The moderation log as the researcher with the community grant reads it.
    marieke = await accounts.by_email(rt, "marieke.jansen@labs.example")
    facts["moderation"] = {(e.action, e.moderator) for e in (await moderation_log.entries(rt, marieke)).items}

    kinds: set[NoteKind] = set()
    hidden = pinned = 0
    consents: set[str] = set()
    for s in all_sessions:
        wall = await notes.wall(rt, s.id, include_hidden=True)
        kinds |= {NoteKind(n["kind"]) for n in wall}
        hidden += sum(n["hidden"] for n in wall)
        pinned += sum(n["pinned"] for n in wall)
        consents |= {p.consent.value for p in await participants.in_session(rt, s.id)}
    facts.update(note_kinds=kinds, hidden=hidden, pinned=pinned, consents=consents)
    facts["clusters"] = sum([len(await notes.clusters(rt, s.id)) for s in all_sessions])
    hall_walls = [await notes.wall(rt, s.id, include_hidden=True) for s in halls]
    facts["hall"] = [
        (
            s.status,
            len(w),
            sum(n["pinned"] for n in w),
            sum(n["hidden"] for n in w),
            len(await notes.clusters(rt, s.id)),
        )
        for s, w in zip(halls, hall_walls, strict=True)
    ]
    facts["revealed"] = [
        (state or {}).get("status") == "revealed" and bool((state or {}).get("results"))
        for state in [await votes.state(rt, s.id) for s in all_sessions]
    ]
    facts["follow_ups"] = {
        state: (await followups.listing(rt, admin, state)).total for state in ("due", "overdue", "answered", "upcoming")
    }

    # One community over time: people who came back are one member, one of them merged.
    from labs.services import communities

    community_id = all_sessions[0].community_id
    assert community_id is not None
    back = await communities.members(rt, community_id, returning=True)
    async with rt.db.read() as db:
        community_log = [e.type for e in await events.since(db, events.Stream.community(community_id), 0)]
    from labs.services import privacy

    facts["community"] = {
        "erasures": (await privacy.deletion_log(rt)).total,
        "returning": {row.member.display_name: row.sessions for row in back.items},
        "log": set(community_log),
        "timeline": (await communities.timeline(rt, community_id)).total,
    }

    # The trace: case shared in one session -> notes about it -> adapted-practice outcome of that
    # session -> a new case derived from it -> shared in another session, the live one.
    derived = [c for c in all_cases if c.derived_from_id is not None]
    assert len(derived) == 2  # Zwolle from Groningen (the trace below), Utrecht from Gent
    new = next(c for c in derived if c.city == "Zwolle")
    facts["library"] = {
        "submissions": {s: (await cases.list_submissions(rt, s)).total for s in ("submitted", "rejected")},
        "archived": (await cases.list_cases(rt, {"status": "archived"})).total,
        "derived_from_gent": [c.city for c in derived if c.city != "Zwolle"],
    }
    old = await cases.get_case(rt, new.derived_from_id)  # type: ignore[arg-type]
    view = await outcomes.view(rt, admin, new.from_outcome_id)
    outcome, sources = view.outcome, view.sources
    first = outcome.session_id
    answers = await followups.answers(rt, outcome.id)
    wall = await notes.wall(rt, first, include_hidden=False)  # type: ignore[arg-type]
    about_old = {n["id"] for n in wall if n["case_id"] == old.id}
    async with rt.db.read() as db:
        log_first = [e.type for e in await events.since(db, events.Stream.session(first), 0)]  # type: ignore[arg-type]
        log_outcome = [e.type for e in await events.since(db, events.Stream.outcome(outcome.id), 0)]
        log_new_case = [e.type for e in await events.since(db, events.Stream.case(new.id), 0)]
        log_live = [(e.type, e.data) for e in await events.since(db, events.Stream.session(live.id), 0)]
    facts["trace"] = {
        "old_shared_in_outcome_session": first in {s.session_id for s in await cases.shares_of(rt, old.id)},
        "outcome_kind": outcome.kind.value,
        "outcome_cites_old_case": old.id in {s.case_id for s in sources},
        "outcome_cites_notes_about_old": bool(about_old & {s.note_id for s in sources}),
        "new_city_differs": new.city != old.city,
        "new_shared_in": {s.session_id for s in await cases.shares_of(rt, new.id)},
        "live_id": live.id,
        "first_session_log": "case.shared" in log_first,
        "outcome_log": log_outcome[:1] == ["outcome.recorded"],
        "derived_case_log": log_new_case[:1] == ["case.derived"],
        "answered_by_owner": [a["progress"] for a in answers],
        "adopted_in": {a["adopting_city"] for a in answers if a["adopting_city"]},
        "live_log_shares_new": any(t == "case.shared" and d["case_id"] == new.id for t, d in log_live),
    }
    return facts


async def living_lab_facts(rt: Runtime) -> dict[str, Any]:
    from labs.services import compare, experiments, indicators, toc

    found: dict[str, Any] = {"labs": [], "from_poll": 0}
    engagement = (await compare.compare(rt)).engagement
    for lab in await toc.labs(rt):
        theory = await toc.theory(rt, lab.id)
        courses = await indicators.courses(rt, lab.id)
        logs = await experiments.logs(rt, lab.id)
        found["labs"].append(
            {
                "kinds": {n.kind.value for n in theory.nodes},
                "links": len(theory.links),
                "measured": [len(c.measurements) for c in courses],
                "evaluated": [log.experiment.result is not None for log in logs],
                "case": any(log.experiment.case_id for log in logs),
                # Residents who came to an earlier session of the lab, as the comparison counts them.
                "returning": sum(month["returning"] for month in engagement[lab.id]),
            }
        )
        found["from_poll"] += sum(1 for c in courses for m in c.measurements if m.poll_id and m.session_id)
    return found


def assert_demo(facts: dict[str, Any]) -> None:
    assert facts["roles"] == {"admin", "facilitator", "researcher"}
    assert sorted(facts["tokens"]) == ["Gemeentedashboard Zwolle", "R-analyse"]
    assert len(facts["sessions"]) == 3
    assert [s[0] for s in facts["sessions"]].count(SessionStatus.closed) == 2
    assert len(facts["live_codes"]) == 1
    assert all(3 <= n <= 7 for _, n, _ in facts["sessions"])  # the live meeting ends with a poll and a scale
    assert len({c for _, _, c in facts["sessions"]}) == 1 and facts["sessions"][0][2] is not None
    assert facts["live_activity_open"]
    assert facts["hall"] == [(SessionStatus.live, 240, 1, 3, 2)]  # a wall of 240 notes for the big screen
    assert facts["cases"] >= 8 and len(facts["cities"]) >= 8
    assert facts["note_kinds"] == set(NoteKind)
    assert facts["hidden"] >= 1 and facts["pinned"] >= 1
    logged = {"note.hidden", "note.restored", "note.pinned", "note.approved", "participant.removed"}
    assert logged <= {action for action, _ in facts["moderation"]}
    assert {"Sanne de Vries", "Youssef El Amrani"} <= {who for _, who in facts["moderation"]}
    assert facts["consents"] == {"none", "anonymous", "pseudonymous", "named"}
    assert facts["clusters"] >= 2
    assert any(facts["revealed"])
    assert all(facts["follow_ups"][state] >= 1 for state in ("due", "overdue", "answered", "upcoming")), facts
    community = facts["community"]
    assert community["timeline"] == 3 and len(community["returning"]) >= 4 and community["erasures"] == 1
    assert community["returning"]["Karin"] == 2  # first meeting, then the live one from a laptop: merged
    assert {"community.created", "member.added", "member.linked", "member.merged"} <= community["log"]
    assert facts["library"] == {
        "submissions": {"submitted": 1, "rejected": 1},
        "archived": 1,
        "derived_from_gent": ["Utrecht"],
    }
    trace = facts["trace"]
    assert trace["old_shared_in_outcome_session"]
    assert trace["outcome_kind"] == "adapted_practice"
    # The owner answered through the private link, then again (the earlier answer kept): adapted in Zwolle.
    assert trace["answered_by_owner"][-2:] == ["in_progress", "adapted"] and trace["adopted_in"] == {"Zwolle"}
    assert trace["outcome_cites_old_case"] and trace["outcome_cites_notes_about_old"]
    assert trace["new_city_differs"]
    assert trace["new_shared_in"] == {trace["live_id"]}
    assert trace["first_session_log"] and trace["live_log_shares_new"]
    assert trace["outcome_log"] and trace["derived_case_log"]
    assert facts["live_polls"] == ["poll", "scale"]
    labs = facts["living_labs"]
    assert len(labs["labs"]) == 2 and labs["from_poll"] == 1
    energy = next(lab for lab in labs["labs"] if lab["case"])
    kinds = {"activity", "output", "short_term", "impact", "actor", "booster", "barrier", "assumption"}
    assert kinds <= energy["kinds"]
    assert energy["links"] >= 5 and min(energy["measured"]) >= 2 and all(energy["evaluated"])
    assert all(lab["returning"] >= 3 for lab in labs["labs"]), labs


def assert_demo_output(stdout: str, facts: dict[str, Any]) -> None:
    code = facts["live_codes"][0]
    assert f"http://127.0.0.1:8000/j/{code}" in stdout
    assert "labs-demo-2026" in stdout
    assert "admin@labs.example" in stdout


def test_demo_on_a_fresh_sqlite_database_and_never_twice(env: dict[str, str], tmp_path: Path) -> None:
    result = run(env, "demo")
    assert result.returncode == 0, result.stderr
    url = f"sqlite+aiosqlite:///{sqlite_path(env)}"
    facts = with_runtime(url, tmp_path, demo_facts)
    assert_demo(facts)
    assert_demo_output(result.stdout, facts)

    again = run(env, "demo")
    assert again.returncode == 1
    assert "already holds" in again.stderr and "--force" in again.stderr
    forced = run(env, "demo", "--force")
    assert forced.returncode == 1
    assert "already loaded" in forced.stderr
    assert with_runtime(url, tmp_path, demo_facts)["cases"] == facts["cases"]


def test_demo_refuses_a_database_with_accounts_unless_forced(env: dict[str, str]) -> None:
    assert run(env, "db", "upgrade").returncode == 0
    assert (
        run(env, "users", "create", "--email", "real@example.org", "--password", PASSWORD, "--role", "admin").returncode
        == 0
    )
    refused = run(env, "demo")
    assert refused.returncode == 1 and "already holds 1 account(s)" in refused.stderr
    with sqlite3.connect(sqlite_path(env)) as conn:
        assert conn.execute("SELECT count(*) FROM account").fetchone() == (1,)
    assert run(env, "demo", "--force").returncode == 0


def test_data_folder_and_database_are_private(tmp_path: Path) -> None:
    env = _env(tmp_path / "fresh")
    assert run(env, "db", "upgrade").returncode == 0
    folder = Path(env["LABS_DATA_DIR"])
    assert folder.stat().st_mode & 0o777 == 0o700
    assert sqlite_path(env).stat().st_mode & 0o777 == 0o600


# --- PostgreSQL ----------------------------------------------------------------------------


@pytest.fixture
def pg_database() -> Iterator[str]:
    name = f"labs_cli_{uuid.uuid4().hex[:12]}"
    asyncio.run(pg_admin(f'CREATE DATABASE "{name}"'))
    try:
        yield pg_dsn(name)
    finally:
        asyncio.run(pg_admin(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))


@pytest.mark.postgres
@pytest.mark.skipif(not POSTGRES_URL, reason="LABS_TEST_POSTGRES_URL is unset")
def test_demo_on_postgres(pg_database: str, tmp_path: Path) -> None:
    env = _env(tmp_path, pg_database)
    # serve never migrates PostgreSQL by itself: it says what to run.
    serve = run(env, "serve", "--port", "1")
    assert serve.returncode == 1
    assert "labs db upgrade" in serve.stderr

    result = run(env, "demo")
    assert result.returncode == 0, result.stderr
    facts = with_runtime(pg_database, tmp_path, demo_facts)
    assert_demo(facts)
    assert_demo_output(result.stdout, facts)
    assert "up to date" in run(env, "db", "current").stdout

    again = run(env, "demo")
    assert again.returncode == 1
    assert "already holds" in again.stderr
