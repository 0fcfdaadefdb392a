"""Research access: grants given and revoked on screen and in the API (each an event), refused
for accounts that are not researchers, and the access matrix over every research page and
download for anonymous, participant, the session's facilitator, another facilitator, a
researcher with and without a grant, and an admin."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from litestar.testing import AsyncTestClient
from sqlalchemy import func, select

from labs.models import Event
from tests.conftest import api_token, csrf, login, make_account

Client = AsyncTestClient[Any]


@dataclass
class World:
    session_id: int
    other_session_id: int
    community_id: int
    participant_id: int
    case_id: int
    accounts: dict[str, Any]
    participant_token: str


async def build(client: Client, rt: Any) -> World:
    """Two sessions of two facilitators in one community, a participant who joined the first and
    wrote about a shared case; a researcher granted the first session, another without grants."""
    accounts = {
        role: await make_account(rt, role.split("_")[0])
        for role in ("facilitator", "facilitator_other", "researcher", "researcher_other", "admin")
    }
    headers = await api_token(client, accounts["facilitator"].email)
    made = await client.post("/api/v1/communities", json={"name": "Lerende stad"}, headers=headers)
    assert made.status_code == 201, made.text
    community_id = made.json()["id"]
    other = await api_token(client, accounts["facilitator_other"].email)
    agenda = [{"title": "Ideas", "minutes": 10}]
    made = await client.post(
        "/api/v1/sessions",
        json={"title": "Granted lab", "kind": "workshop", "agenda": agenda, "community_id": community_id},
        headers=headers,
    )
    assert made.status_code == 201, made.text
    session = made.json()
    second = await client.post("/api/v1/sessions", json={"title": "Other lab", "agenda": agenda}, headers=other)
    assert second.status_code == 201, second.text
    case_id = await _case(rt, accounts["facilitator"])
    assert (await client.post(f"/api/v1/sessions/{session['id']}/start", headers=headers)).status_code == 200
    shared = await client.post(f"/api/v1/sessions/{session['id']}/cases", json={"case_id": case_id}, headers=headers)
    assert shared.status_code == 201, shared.text
    joined = await client.post(
        "/api/v1/join", json={"join_code": session["join_code"], "display_name": "Ann", "consent": "named"}
    )
    assert joined.status_code == 201, joined.text
    granted = await client.post(
        "/api/v1/research/grants",
        json={"email": accounts["researcher"].email, "session_id": session["id"]},
        headers=headers,
    )
    assert granted.status_code == 201, granted.text
    return World(
        session_id=session["id"],
        other_session_id=second.json()["id"],
        community_id=community_id,
        participant_id=joined.json()["participant_id"],
        case_id=case_id,
        accounts=accounts,
        participant_token=joined.json()["token"],
    )


async def _case(rt: Any, account: Any) -> int:
    from labs.services import cases

    return (
        await cases.create_case(rt, account, {"title": "Buurtambassadeurs", "city": "Groningen", "country": "NL"})
    ).id


# --- granting and revoking ------------------------------------------------------------------


async def test_facilitator_grants_and_revokes_on_screen_each_an_event(client: Client, rt: Any) -> None:
    world = await build(client, rt)
    facilitator, researcher = world.accounts["facilitator"], world.accounts["researcher_other"]
    await login(client, facilitator.email)
    page = await client.get(f"/research/access?session_id={world.session_id}")
    assert page.status_code == 200
    assert world.accounts["researcher"].email in page.text  # the API grant is listed
    assert f'value="session:{world.session_id}"' in page.text
    assert f'value="session:{world.other_session_id}"' not in page.text  # not theirs to grant

    response = await client.post(
        "/research/access",
        data={"email": researcher.email, "target": f"session:{world.session_id}", "back": "session"},
        headers=csrf(client),
        follow_redirects=False,
    )
    assert response.status_code in (302, 303)
    page = await client.get(f"/research/access?session_id={world.session_id}")
    assert researcher.email in page.text

    await login(client, researcher.email)
    assert (await client.get(f"/research/sessions/{world.session_id}/replay")).status_code == 200

    await login(client, facilitator.email)
    listed = await client.get(
        f"/api/v1/research/grants?session_id={world.session_id}", headers=await api_token(client, facilitator.email)
    )
    grant_id = next(g["id"] for g in listed.json()["grants"] if g["email"] == researcher.email)
    revoked = await client.post(
        f"/research/access/{grant_id}/revoke", data={"back": "session"}, headers=csrf(client), follow_redirects=False
    )
    assert revoked.status_code in (302, 303)
    await login(client, researcher.email)
    assert (await client.get(f"/research/sessions/{world.session_id}/replay")).status_code == 404

    headers = await api_token(client, facilitator.email)
    log = (await client.get(f"/api/v1/sessions/{world.session_id}/events", headers=headers)).json()["events"]
    changes = [(e["type"], e["data"]["account_id"]) for e in log if e["type"].startswith("research.")]
    assert changes == [
        ("research.granted", world.accounts["researcher"].id),
        ("research.granted", researcher.id),
        ("research.revoked", researcher.id),
    ]


async def test_a_grant_to_a_non_researcher_is_refused_with_a_message(client: Client, rt: Any) -> None:
    world = await build(client, rt)
    facilitator = world.accounts["facilitator"]
    await login(client, facilitator.email)
    response = await client.post(
        "/research/access",
        data={"email": world.accounts["facilitator_other"].email, "target": f"session:{world.session_id}"},
        headers=csrf(client),
    )
    assert response.status_code == 400
    assert "Only researcher accounts can be granted access." in response.text
    assert 'aria-invalid="true"' in response.text

    headers = await api_token(client, facilitator.email)
    for body, field in [
        ({"email": world.accounts["admin"].email, "session_id": world.session_id}, "email"),
        ({"email": "nobody@example.org", "session_id": world.session_id}, "email"),
        ({"email": world.accounts["researcher_other"].email}, "target"),
        (
            {
                "email": world.accounts["researcher_other"].email,
                "session_id": world.session_id,
                "community_id": world.community_id,
            },
            "target",
        ),
    ]:
        refused = await client.post("/api/v1/research/grants", json=body, headers=headers)
        assert refused.status_code == 400, (body, refused.text)
        assert field in refused.json()["errors"], refused.json()
    twice = await client.post(
        "/api/v1/research/grants",
        json={"email": world.accounts["researcher"].email, "session_id": world.session_id},
        headers=headers,
    )
    assert twice.status_code == 409
    # Another facilitator's session is not theirs: 404.
    body = {"email": world.accounts["researcher_other"].email, "session_id": world.other_session_id}
    assert (await client.post("/api/v1/research/grants", json=body, headers=headers)).status_code == 404
    log = (await client.get(f"/api/v1/sessions/{world.session_id}/events", headers=headers)).json()["events"]
    assert [e["type"] for e in log if e["type"].startswith("research.")] == ["research.granted"]


async def test_only_an_admin_grants_a_whole_community(client: Client, rt: Any) -> None:
    world = await build(client, rt)
    facilitator, researcher = world.accounts["facilitator"], world.accounts["researcher_other"]
    headers = await api_token(client, facilitator.email)
    body = {"email": researcher.email, "community_id": world.community_id}
    refused = await client.post("/api/v1/research/grants", json=body, headers=headers)
    assert refused.status_code == 403
    assert refused.json()["detail"].startswith("Only an admin can grant access to a whole community")
    await login(client, facilitator.email)
    page = await client.post(
        "/research/access",
        data={"email": researcher.email, "target": f"community:{world.community_id}"},
        headers=csrf(client),
    )
    assert page.status_code == 403
    assert "Only an admin can grant a whole community." in page.text
    assert f'value="community:{world.community_id}"' not in page.text  # not offered to facilitators
    assert "access to a whole community is given by an admin" in page.text
    # Nothing written: no grant, no event on the community's stream, and the researcher sees nothing.
    admin = await api_token(client, world.accounts["admin"].email)
    listed = (await client.get("/api/v1/research/grants", headers=admin)).json()["grants"]
    assert [g for g in listed if g["community_id"] is not None] == []
    async with rt.db.read() as db:
        written = await db.scalar(select(func.count()).where(Event.type == "research.community_granted"))
    assert written == 0
    await login(client, researcher.email)
    assert (await client.get(f"/research/sessions/{world.session_id}/replay")).status_code == 404
    # An admin may.
    granted = await client.post("/api/v1/research/grants", json=body, headers=admin)
    assert granted.status_code == 201, granted.text


async def test_a_community_grant_covers_its_sessions(client: Client, rt: Any) -> None:
    world = await build(client, rt)
    admin = await api_token(client, world.accounts["admin"].email)
    researcher = world.accounts["researcher_other"]
    granted = await client.post(
        "/api/v1/research/grants", json={"email": researcher.email, "community_id": world.community_id}, headers=admin
    )
    assert granted.status_code == 201, granted.text
    await login(client, researcher.email)
    assert (await client.get(f"/research/sessions/{world.session_id}/replay")).status_code == 200
    assert (await client.get(f"/research/sessions/{world.other_session_id}/replay")).status_code == 404
    home = await client.get("/research")
    assert "Granted lab" in home.text and "Other lab" not in home.text
    revoked = await client.delete(f"/api/v1/research/grants/{granted.json()['id']}", headers=admin)
    assert revoked.status_code == 204
    assert (await client.get(f"/research/sessions/{world.session_id}/replay")).status_code == 404


# --- the access matrix over every research page and download ---------------------------------

CALLERS = ("anonymous", "participant", "facilitator", "facilitator_other", "researcher", "researcher_other", "admin")
STUDY = "302 302 200 404 200 404 200"  # about the granted session S (or a case shared in it)
MATRIX = [
    ("/research", "302 302 200 200 200 200 200"),
    ("/research/charts", "302 302 200 200 200 200 200"),
    ("/research/charts/participation/data.csv", "302 302 200 200 200 200 200"),
    ("/research/charts?community_id={community}", "302 302 200 404 200 404 200"),
    ("/research/access", "302 302 200 200 403 403 200"),
    ("/research/sessions/{session}/replay", STUDY),
    ("/research/moderation", "302 302 200 200 200 200 200"),
    ("/research/moderation?session_id={session}", STUDY),
    ("/research/moderation?session_id={other_session}", "302 302 404 200 404 404 200"),
    ("/research/sessions/{other_session}/replay", "302 302 404 200 404 404 200"),
    ("/research/sessions/{session}/lineage", STUDY),
    ("/research/sessions/{session}/lineage.graphml", STUDY),
    ("/research/sessions/{session}/lineage.prov.json", STUDY),
    ("/research/cases/{case}/lineage", STUDY),
    ("/research/cases/{case}/lineage.graphml", STUDY),
    ("/research/cases/{case}/lineage.prov.json", STUDY),
    # Nobody here was granted the community itself.
    ("/research/communities/{community}/lineage", "302 302 404 404 404 404 200"),
    ("/research/communities/{community}/lineage.graphml", "302 302 404 404 404 404 200"),
    ("/research/communities/{community}/lineage.prov.json", "302 302 404 404 404 404 200"),
    ("/participants/{participant}/consent", STUDY),
    ("/api/v1/research/sessions/{session}/replay", "401 401 200 404 200 404 200"),
    ("/api/v1/research/grants", "401 401 200 200 403 403 200"),
    ("/api/v1/research/moderation?session_id={session}", "401 401 200 404 200 404 200"),
    ("/api/v1/research/charts?community_id={community}", "401 401 200 404 200 404 200"),
]


async def test_access_matrix_over_every_research_page_and_download(client: Client, rt: Any) -> None:
    world = await build(client, rt)
    values = {
        "session": world.session_id,
        "other_session": world.other_session_id,
        "community": world.community_id,
        "case": world.case_id,
        "participant": world.participant_id,
    }
    cookies: dict[str, dict[str, str]] = {"anonymous": {}}
    bearers: dict[str, dict[str, str]] = {"anonymous": {}}
    for who, account in world.accounts.items():
        client.cookies.clear()
        await login(client, account.email)
        cookies[who] = {"labs_session": client.cookies.get("labs_session", "")}
        bearers[who] = await api_token(client, account.email)
    cookies["participant"] = {f"labs_p{world.session_id}": world.participant_token}
    bearers["participant"] = {"Authorization": f"Bearer {world.participant_token}"}
    wrong = []
    for path, answers in MATRIX:
        url = path.format(**values)
        for who, expected in zip(CALLERS, answers.split(), strict=True):
            client.cookies.clear()
            if url.startswith("/api/"):
                response = await client.get(url, headers=bearers[who])
            else:
                for name, value in cookies[who].items():
                    client.cookies.set(name, value)
                response = await client.get(url, follow_redirects=False)
            if response.status_code != int(expected):
                wrong.append(f"{url} as {who}: expected {expected}, got {response.status_code}")
    assert not wrong, "\n".join(wrong)
