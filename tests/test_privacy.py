"""Privacy requests through HTTP and the real CLI: a participant withdraws consent in two taps
(and sees what it changes), an admin erases a person (notes unlinked or removed as the community
says) with a deletion log that holds no personal data, and `labs privacy reapply` erases them
again after an older backup of the database is restored."""

from __future__ import annotations

import asyncio
import json
import shutil
import sqlite3
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from litestar.testing import AsyncTestClient

from labs.db import Database
from labs.runtime import Runtime
from labs.settings import Settings
from tests.conftest import api_token, login, make_account
from tests.test_cli import _env, run
from tests.test_communities import _community, _form, _join, _session


async def _two_meetings(client: AsyncTestClient[Any], headers: dict[str, str], **community: Any) -> tuple[int, ...]:
    cid = (await _community(client, headers, **community))["id"]
    day = datetime(2026, 6, 1, 14, tzinfo=UTC)
    one = await _session(client, headers, cid, "Eerste bijeenkomst", day)
    two = await _session(client, headers, cid, "Tweede bijeenkomst", day + timedelta(weeks=6))
    return cid, one["id"], one["join_code"], two["id"], two["join_code"]


async def _note(client: AsyncTestClient[Any], sid: int, token: str, body: str, client_id: str) -> dict[str, Any]:
    response = await client.post(
        f"/api/v1/sessions/{sid}/notes",
        json={"client_id": client_id, "body": body, "kind": "idea"},
        headers={"Authorization": f"Bearer {token}"},
    )
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def test_withdraw_in_two_taps(client: AsyncTestClient[Any], rt: Any) -> None:
    facilitator = await make_account(rt)
    headers = await api_token(client, facilitator.email)
    _cid, one, code1, two, code2 = await _two_meetings(client, headers)
    for code in (code1, code2):  # the same phone: the device cookie makes it one member
        await client.get(f"/j/{code}")
        await client.post(f"/j/{code}", data=_form(client, display_name="Iris", consent="named"))

    page = await client.get(f"/p/{two}")
    assert '<details class="withdraw">' in page.text  # tap one opens it ...
    assert "Eerste bijeenkomst" in page.text and "Tweede bijeenkomst" in page.text  # ... and says what it covers
    assert "give them your participant number" in page.text  # what to quote in an erasure request
    done = await client.post(f"/p/{two}/withdraw", data=_form(client))  # tap two
    assert done.status_code == 200
    assert "Your consent is withdrawn." in done.text
    assert "Your notes in 2 sessions are left out of every research export" in done.text
    assert 'id="consent-none" name="consent" value="none" required checked' in done.text
    for sid in (one, two):
        changes = [
            e
            for e in (await client.get(f"/api/v1/sessions/{sid}/events", headers=headers)).json()["events"]
            if e["type"] == "consent.changed"
        ]
        assert [e["data"]["consent"] for e in changes] == ["none"]
    again = await client.get(f"/p/{one}")
    assert '<details class="withdraw">' not in again.text and "You have not given consent" in again.text


async def test_withdraw_through_the_api(client: AsyncTestClient[Any], rt: Any) -> None:
    facilitator = await make_account(rt)
    headers = await api_token(client, facilitator.email)
    _cid, one, code1, two, code2 = await _two_meetings(client, headers)
    first = await _join(client, code1, "Jas")
    second = await _join(client, code2, "Jas", device=first["device_token"])
    withdrawn = await client.post(
        f"/api/v1/sessions/{two}/consent/withdraw", headers={"Authorization": f"Bearer {second['token']}"}
    )
    assert withdrawn.status_code == 200, withdrawn.text
    assert sorted(withdrawn.json()["sessions"]) == [one, two]
    assert {p["consent"] for p in withdrawn.json()["changed"]} == {"none"}
    wrong = await client.post(
        f"/api/v1/sessions/{one}/consent/withdraw", headers={"Authorization": f"Bearer {second['token']}"}
    )
    assert wrong.status_code == 404


async def test_admin_erases_unlinking_notes(client: AsyncTestClient[Any], rt: Any, settings: Settings) -> None:
    facilitator, admin = await make_account(rt), await make_account(rt, "admin")
    headers, boss = await api_token(client, facilitator.email), await api_token(client, admin.email)
    cid, one, code1, two, code2 = await _two_meetings(client, headers)
    kim = await _join(client, code1, "Kim Jansen")
    kim2 = await _join(client, code2, "Kim Jansen", device=kim["device_token"])
    other = await _join(client, code2, "Lars")
    await _note(client, one, kim["token"], "Groene daken op scholen", "k1")
    await _note(client, two, kim2["token"], "Regenwater opvangen", "k2")
    await _note(client, two, other["token"], "Buurtfonds", "l1")
    before = (await client.get(f"/api/v1/sessions/{two}/events", headers=headers)).json()["events"]

    erase = f"/api/v1/participants/{kim['participant_id']}/erase"
    assert (await client.post(erase, headers=headers)).status_code == 403
    erased = await client.post(erase, headers=boss)
    assert erased.status_code == 200, erased.text
    entry = erased.json()
    assert entry["mode"] == "unlink" and entry["notes"] == 2 and entry["member_ids"] == [kim["member_id"]]
    assert sorted(p["id"] for p in entry["participants"]) == sorted([kim["participant_id"], kim2["participant_id"]])

    # The notes stay, without their author; the event log before the erasure is untouched.
    wall = (await client.get(f"/api/v1/sessions/{two}/notes", headers=headers)).json()
    assert {(n["body"], n["participant_id"]) for n in wall} == {
        ("Regenwater opvangen", None),
        ("Buurtfonds", other["participant_id"]),
    }
    after = (await client.get(f"/api/v1/sessions/{two}/events", headers=headers)).json()["events"]
    assert [e["seq"] for e in after[: len(before)]] == [e["seq"] for e in before]
    assert after[len(before)]["type"] == "participant.erased"
    # Names come from the tables: the erased person is gone from every reader of the log.
    everything = json.dumps(after) + json.dumps(
        (await client.get(f"/api/v1/communities/{cid}/events", headers=headers)).json()
    )
    assert "Kim" not in everything and "Lars" in everything
    members = (await client.get(f"/api/v1/communities/{cid}/members", headers=headers)).json()["items"]
    assert [m["display_name"] for m in members] == ["Lars"]
    stale = await client.get(f"/api/v1/sessions/{two}", headers={"Authorization": f"Bearer {kim2['token']}"})
    assert stale.status_code == 401 or stale.status_code == 404

    # The deletion log holds ids and times only, in the database and in its file.
    log = (await client.get("/api/v1/erasures", headers=boss)).json()
    assert log["total"] == 1 and log["items"][0]["id"] == entry["id"]
    line = settings.deletion_log.read_text()
    assert "Kim" not in line and "Jansen" not in line and json.loads(line)["participants"] == entry["participants"]


async def test_erasure_removes_notes_when_the_community_says_so(client: AsyncTestClient[Any], rt: Any) -> None:
    facilitator, admin = await make_account(rt), await make_account(rt, "admin")
    headers = await api_token(client, facilitator.email)
    _cid, one, code1, _two, _code2 = await _two_meetings(client, headers, erasure_mode="remove")
    mia = await _join(client, code1, "Mia")
    await _note(client, one, mia["token"], "Deelauto's in de wijk", "m1")

    await login(client, admin.email)
    confirm = await client.get(f"/admin/participants/{mia['participant_id']}/erase")
    assert confirm.status_code == 200
    assert "Erase Mia?" in confirm.text and "Their 1 note is removed too." in confirm.text
    done = await client.post(
        f"/admin/participants/{mia['participant_id']}/erase", data=_form(client), follow_redirects=False
    )
    assert done.status_code in (302, 303)
    log = await client.get(done.headers["location"])
    assert "The person is erased" in log.text and f"#{mia['participant_id']}" in log.text
    assert "1 note removed" in log.text and "Mia" not in log.text
    assert (await client.get(f"/api/v1/sessions/{one}/notes", headers=headers)).json() == []
    # The event log still holds the note.added of the removed note, but no reader gets its text.
    log = (await client.get(f"/api/v1/sessions/{one}/events", headers=headers)).json()["events"]
    added = [e for e in log if e["type"] == "note.added"]
    assert len(added) == 1 and added[0]["data"]["deleted"] and "body" not in added[0]["data"]
    assert "Deelauto" not in json.dumps(log)
    missing = await client.get(f"/admin/participants/{mia['participant_id']}/erase")
    assert missing.status_code == 404
    bad = await client.get("/admin/privacy/find?participant_id=abc")
    assert bad.status_code == 400 and "Enter the participant" in bad.text


def test_reapply_after_restoring_an_older_backup(tmp_path: Path) -> None:
    """The real `labs` command on a database file, a copy of it as the backup."""
    env = _env(tmp_path)
    assert run(env, "db", "upgrade").returncode == 0
    db_file = tmp_path / "labs.db"
    settings = Settings(data_dir=tmp_path, database_url=f"sqlite+aiosqlite:///{db_file}", secret_key="t")

    async def build() -> tuple[int, list[int]]:
        from labs.services import accounts, communities, participants, sessions

        rt = Runtime(settings, Database(settings.database_url))
        try:
            who = await accounts.create(rt, email="f@example.org", password="a-long-passphrase", role="facilitator")
            community = await communities.create(rt, who, {"name": "Lab", "kind": "living_lab"})
            session = await sessions.create(rt, who, {"title": "S", "community_id": community.id})
            await sessions.start(rt, who, session.id)
            joined = [
                await participants.join(rt, session.join_code, {"display_name": n, "consent": "named"}, "x")
                for n in ("Noor", "Olaf")
            ]
            admin = await accounts.create(rt, email="a@example.org", password="a-long-passphrase", role="admin")
            return admin.id, [j.participant.id for j in joined]
        finally:
            await rt.db.dispose()

    admin_id, (noor, olaf) = asyncio.run(build())
    backup = tmp_path / "backup.db"
    shutil.copyfile(db_file, backup)  # the nightly backup, taken before the erasure

    async def erase() -> None:
        from labs.models import Account
        from labs.services import privacy

        rt = Runtime(settings, Database(settings.database_url))
        try:
            async with rt.db.read() as db:
                admin = await db.get(Account, admin_id)
            assert admin is not None
            await privacy.erase(rt, admin, noor)
        finally:
            await rt.db.dispose()

    asyncio.run(erase())

    def names() -> list[str]:
        with sqlite3.connect(db_file) as conn:
            return [r[0] for r in conn.execute("SELECT display_name FROM participant ORDER BY id")]

    def erasures() -> int:
        with sqlite3.connect(db_file) as conn:
            return int(conn.execute("SELECT count(*) FROM erasure").fetchone()[0])

    assert names() == ["Olaf"]
    shutil.copyfile(backup, db_file)  # restore the older backup: Noor is back, the log table empty
    assert names() == ["Noor", "Olaf"] and erasures() == 0

    done = run(env, "privacy", "reapply")
    assert done.returncode == 0, done.stderr
    assert "1 erasures; erased again 1 participants and 1 members; 1 entries put back" in done.stdout
    assert names() == ["Olaf"] and erasures() == 1
    again = run(env, "privacy", "reapply")
    assert again.returncode == 0 and "erased again 0 participants and 0 members; 0 entries put back" in again.stdout

    (tmp_path / "deletion-log.jsonl").write_text("not json\n")
    broken = run(env, "privacy", "reapply")
    assert broken.returncode != 0 and "Line 1 of the deletion log" in broken.stderr
    elsewhere = run({**env, "LABS_DELETION_LOG": str(tmp_path / "missing.jsonl")}, "privacy", "reapply")
    assert elsewhere.returncode != 0 and "There is no deletion log" in elsewhere.stderr
    assert olaf
