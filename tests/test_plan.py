"""Planning a session through HTTP: create it, edit its details, change the agenda through the
htmx endpoint, add co-facilitators, and keep others' sessions out of sight."""

from __future__ import annotations

import re
from typing import Any

from litestar import Litestar
from litestar.testing import AsyncTestClient

from labs.services import sessions
from tests.conftest import login, make_account

Client = AsyncTestClient[Litestar]
HTMX = {"HX-Request": "true"}


async def form_post(client: Client, url: str, data: dict[str, Any], **kw: Any) -> Any:
    return await client.post(url, data={**data, "_csrf_token": client.cookies.get("labs_csrf", "")}, **kw)


async def create_session(client: Client, **fields: Any) -> int:
    await client.get("/sessions/new")
    data = {
        "title": "Green roofs lab",
        "kind": "co_creation_lab",
        "description": "Where to start?",
        "city": "Utrecht",
        "language": "en",
        "starts_at": "",
        "agenda": "Welcome\nIdeas\n\nWrap-up\n",
    }
    response = await form_post(client, "/sessions/new", {**data, **fields}, follow_redirects=False)
    assert response.status_code in (302, 303), response.text
    match = re.fullmatch(r"/sessions/(\d+)", response.headers["location"])
    assert match, response.headers["location"]
    return int(match.group(1))


async def agenda(client: Client, session_id: int, htmx: bool = True, **data: Any) -> Any:
    return await form_post(
        client, f"/sessions/{session_id}/agenda", data, headers=HTMX if htmx else {}, follow_redirects=False
    )


def titles_in_order(html: str) -> list[str]:
    return re.findall(r'<span class="agenda-title">([^<]*)</span>', html)


async def activity_ids(rt: Any, session_id: int) -> list[int]:
    return [a.id for a in (await sessions.get(rt, session_id)).activities]


# --- create and edit -----------------------------------------------------------------------


async def test_new_session_form(client: Client, rt: Any) -> None:
    facilitator = await make_account(rt)
    await login(client, facilitator.email)
    page = await client.get("/sessions")
    assert page.status_code == 200
    assert 'href="/sessions/new"' in page.text
    assert "No sessions yet" in page.text
    form = await client.get("/sessions/new")
    assert form.status_code == 200
    for value in ("workshop", "co_creation_lab", "learning_community_meeting", "other"):
        assert f'value="{value}"' in form.text
    assert "Co-creation lab" in form.text
    assert 'type="datetime-local"' in form.text
    assert 'name="_csrf_token"' in form.text


async def test_create_session_and_see_it(client: Client, rt: Any) -> None:
    facilitator = await make_account(rt)
    await login(client, facilitator.email)
    session_id = await create_session(client)
    session = await sessions.get(rt, session_id)
    assert session.title == "Green roofs lab"
    assert session.kind.value == "co_creation_lab"
    assert session.status.value == "draft"
    assert [a.title for a in session.activities] == ["Welcome", "Ideas", "Wrap-up"]

    plan = await client.get(f"/sessions/{session_id}")
    assert plan.status_code == 200
    assert "Green roofs lab" in plan.text
    assert session.join_code in plan.text
    assert titles_in_order(plan.text) == ["Welcome", "Ideas", "Wrap-up"]
    assert 'id="agenda"' in plan.text and 'id="facilitators"' in plan.text
    assert f'href="/sessions/{session_id}/console"' in plan.text
    assert f'href="/sessions/{session_id}/projector"' in plan.text
    assert f'hx-post="/sessions/{session_id}/agenda"' in plan.text
    assert 'hx-target="#agenda"' in plan.text and 'hx-swap="outerHTML"' in plan.text

    listing = await client.get("/sessions")
    assert "Green roofs lab" in listing.text
    assert session.join_code in listing.text
    assert f'href="/sessions/{session_id}/console"' in listing.text
    assert "Utrecht" in listing.text


async def test_create_session_requires_a_title(client: Client, rt: Any) -> None:
    facilitator = await make_account(rt)
    await login(client, facilitator.email)
    await client.get("/sessions/new")
    response = await form_post(client, "/sessions/new", {"title": " ", "kind": "workshop", "city": "Gent"})
    assert response.status_code == 400
    assert "The title is required." in response.text
    assert 'aria-invalid="true"' in response.text
    assert 'value="Gent"' in response.text
    assert await sessions.list_for(rt, facilitator) == []


async def test_edit_details(client: Client, rt: Any) -> None:
    facilitator = await make_account(rt)
    await login(client, facilitator.email)
    session_id = await create_session(client)
    response = await form_post(
        client,
        f"/sessions/{session_id}",
        {
            "title": "Green roofs, round two",
            "kind": "workshop",
            "description": "Now with the council.",
            "city": "Amersfoort",
            "language": "nl",
            "starts_at": "2030-05-04T13:30",
        },
        follow_redirects=False,
    )
    assert response.status_code in (302, 303)
    assert response.headers["location"] == f"/sessions/{session_id}"
    session = await sessions.get(rt, session_id)
    assert (session.title, session.kind.value, session.city, session.language) == (
        "Green roofs, round two",
        "workshop",
        "Amersfoort",
        "nl",
    )
    assert session.status.value == "scheduled"
    plan = await client.get(f"/sessions/{session_id}")
    assert "Green roofs, round two" in plan.text
    assert 'value="2030-05-04T13:30"' in plan.text
    assert "Now with the council." in plan.text

    bad = await form_post(client, f"/sessions/{session_id}", {"title": "", "kind": "workshop"})
    assert bad.status_code == 400
    assert "The title is required." in bad.text
    assert (await sessions.get(rt, session_id)).title == "Green roofs, round two"


# --- agenda --------------------------------------------------------------------------------


async def test_agenda_add_edit_move_remove(client: Client, rt: Any) -> None:
    facilitator = await make_account(rt)
    await login(client, facilitator.email)
    session_id = await create_session(client)

    # add: htmx gets the agenda block only
    response = await agenda(
        client,
        session_id,
        action="add",
        title="Dot voting",
        type="voting",
        minutes="15",
        prompt="Three dots each",
    )
    assert response.status_code == 200
    assert response.text.lstrip().startswith('<section id="agenda"')
    assert "<html" not in response.text
    assert titles_in_order(response.text) == ["Welcome", "Ideas", "Wrap-up", "Dot voting"]
    assert "15 minutes" in response.text and "Three dots each" in response.text
    ids = await activity_ids(rt, session_id)
    voting = (await sessions.get(rt, session_id)).activities[3]
    assert (voting.type.value, voting.minutes) == ("voting", 15)

    # edit
    response = await agenda(
        client,
        session_id,
        action="save",
        activity_id=str(ids[1]),
        title="Ideas for roofs",
        type="brainstorm",
        minutes="20",
        prompt="What could a roof be?",
    )
    assert response.status_code == 200
    assert "Ideas for roofs" in response.text and "What could a roof be?" in response.text
    assert "20 minutes" in response.text

    # move the new item up twice, then the first one down
    await agenda(client, session_id, action="up", activity_id=str(ids[3]))
    response = await agenda(client, session_id, action="up", activity_id=str(ids[3]))
    assert titles_in_order(response.text) == ["Welcome", "Dot voting", "Ideas for roofs", "Wrap-up"]
    response = await agenda(client, session_id, action="down", activity_id=str(ids[0]))
    assert titles_in_order(response.text) == ["Dot voting", "Welcome", "Ideas for roofs", "Wrap-up"]
    # moving the first item up keeps it first
    response = await agenda(client, session_id, action="up", activity_id=str(ids[3]))
    assert titles_in_order(response.text)[0] == "Dot voting"

    # remove
    response = await agenda(client, session_id, action="remove", activity_id=str(ids[0]))
    assert titles_in_order(response.text) == ["Dot voting", "Ideas for roofs", "Wrap-up"]
    session = await sessions.get(rt, session_id)
    assert [(a.title, a.position) for a in session.activities] == [
        ("Dot voting", 0),
        ("Ideas for roofs", 1),
        ("Wrap-up", 2),
    ]

    # the full page shows the same agenda
    plan = await client.get(f"/sessions/{session_id}")
    assert titles_in_order(plan.text) == ["Dot voting", "Ideas for roofs", "Wrap-up"]


async def test_agenda_errors_come_back_in_the_block(client: Client, rt: Any) -> None:
    facilitator = await make_account(rt)
    await login(client, facilitator.email)
    session_id = await create_session(client)
    response = await agenda(client, session_id, action="add", title="", minutes="10")
    assert response.status_code == 400
    assert response.text.lstrip().startswith('<section id="agenda"')
    assert 'role="alert"' in response.text
    assert "The activity title is required." in response.text
    response = await agenda(client, session_id, action="add", title="Long", minutes="900")
    assert response.status_code == 400
    assert "Minutes must be between 1 and 600." in response.text
    response = await agenda(client, session_id, action="add", title="Odd", type="juggling")
    assert response.status_code == 400
    response = await agenda(client, session_id, htmx=False, action="save", activity_id="999999", title="Ghost")
    assert response.status_code == 404
    assert titles_in_order((await client.get(f"/sessions/{session_id}")).text) == [
        "Welcome",
        "Ideas",
        "Wrap-up",
    ]


async def test_agenda_without_htmx_redirects_back(client: Client, rt: Any) -> None:
    facilitator = await make_account(rt)
    await login(client, facilitator.email)
    session_id = await create_session(client)
    response = await agenda(client, session_id, htmx=False, action="add", title="Plain form", minutes="5")
    assert response.status_code in (302, 303)
    assert response.headers["location"] == f"/sessions/{session_id}#agenda"
    assert "Plain form" in titles_in_order((await client.get(f"/sessions/{session_id}")).text)


async def test_agenda_needs_csrf(client: Client, rt: Any) -> None:
    facilitator = await make_account(rt)
    await login(client, facilitator.email)
    session_id = await create_session(client)
    response = await client.post(f"/sessions/{session_id}/agenda", data={"action": "add", "title": "Sneaky"})
    assert response.status_code == 403
    assert len(await activity_ids(rt, session_id)) == 3


# --- facilitators and visibility -----------------------------------------------------------


async def test_co_facilitator(client: Client, app: Litestar, rt: Any) -> None:
    lead = await make_account(rt)
    co = await make_account(rt)
    outsider = await make_account(rt)
    researcher = await make_account(rt, "researcher")
    await login(client, lead.email)
    session_id = await create_session(client)

    async with AsyncTestClient(app=app) as co_client, AsyncTestClient(app=app) as outsider_client:
        await login(co_client, co.email)
        assert (await co_client.get(f"/sessions/{session_id}")).status_code == 404

        response = await form_post(
            client,
            f"/sessions/{session_id}/facilitators",
            {"email": co.email.upper()},
            follow_redirects=False,
        )
        assert response.status_code in (302, 303)
        assert response.headers["location"] == f"/sessions/{session_id}#facilitators"
        plan = await client.get(f"/sessions/{session_id}")
        assert co.email in plan.text and lead.email in plan.text

        # the co-facilitator now sees and plans it
        plan = await co_client.get(f"/sessions/{session_id}")
        assert plan.status_code == 200 and "Green roofs lab" in plan.text
        assert "Green roofs lab" in (await co_client.get("/sessions")).text
        response = await agenda(co_client, session_id, action="add", title="Co's item", minutes="5")
        assert response.status_code == 200 and "Co&#39;s item" in response.text

        # a third facilitator does not
        await login(outsider_client, outsider.email)
        assert (await outsider_client.get(f"/sessions/{session_id}")).status_code == 404
        assert "Green roofs lab" not in (await outsider_client.get("/sessions")).text

    # errors: twice, unknown email, not a facilitator
    response = await form_post(client, f"/sessions/{session_id}/facilitators", {"email": co.email})
    assert response.status_code == 409
    assert "That person already runs this session." in response.text
    response = await form_post(client, f"/sessions/{session_id}/facilitators", {"email": "nobody@example.org"})
    assert response.status_code == 400
    assert "No facilitator account with that email." in response.text
    response = await form_post(client, f"/sessions/{session_id}/facilitators", {"email": researcher.email})
    assert response.status_code == 400
    assert len(await sessions.facilitators(rt, session_id)) == 2


async def test_others_sessions_are_not_found(client: Client, app: Litestar, rt: Any) -> None:
    owner = await make_account(rt)
    other = await make_account(rt)
    await login(client, owner.email)
    session_id = await create_session(client)
    async with AsyncTestClient(app=app) as other_client:
        await login(other_client, other.email)
        assert (await other_client.get(f"/sessions/{session_id}")).status_code == 404
        assert (await other_client.get("/sessions/999999")).status_code == 404
        response = await form_post(other_client, f"/sessions/{session_id}", {"title": "Hijacked"})
        assert response.status_code == 404
        response = await agenda(other_client, session_id, htmx=False, action="add", title="Hijacked")
        assert response.status_code == 404
        # htmx gets the message for the flash region instead of a page
        response = await agenda(other_client, session_id, action="add", title="Hijacked")
        assert response.status_code == 404
        assert response.headers.get("hx-retarget") == "#flash"
        assert "<html" not in response.text and 'role="alert"' in response.text
        response = await form_post(other_client, f"/sessions/{session_id}/facilitators", {"email": other.email})
        assert response.status_code == 404
    session = await sessions.get(rt, session_id)
    assert session.title == "Green roofs lab"
    assert [a.title for a in session.activities] == ["Welcome", "Ideas", "Wrap-up"]
    assert len(await sessions.facilitators(rt, session_id)) == 1


async def test_admin_sees_every_session(client: Client, app: Litestar, rt: Any) -> None:
    owner = await make_account(rt)
    admin = await make_account(rt, "admin")
    await login(client, owner.email)
    session_id = await create_session(client)
    async with AsyncTestClient(app=app) as admin_client:
        await login(admin_client, admin.email)
        assert (await admin_client.get(f"/sessions/{session_id}")).status_code == 200
        assert "Green roofs lab" in (await admin_client.get("/sessions")).text
