"""A session with one participant of each consent choice, through the real API, for the coding and
export tests; and the researchers who study it."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any

from litestar.testing import AsyncTestClient

from tests.conftest import api_token, make_account

# display name, consent, organisation: what may leave the app depends on the consent.
PEOPLE = [
    ("Wilhelmina Refuse", "none", "Nopeorg Holding"),
    ("Anna Nonymous", "anonymous", "Hiddenorg Foundation"),
    ("Pseudo Person", "pseudonymous", "Secretorg Consultancy"),
    ("Nadia Named", "named", "Openorg Gemeente"),
]
BODIES = {
    "none": "Refused idea about district heating",
    "anonymous": "Anonymous barrier: tenants are not at the table",
    "pseudonymous": '=HYPERLINK("http://evil") pseudonymous booster',
    "named": "Named insight: neighbours trust neighbours",
}


@dataclass
class Lab:
    session_id: int
    join_code: str
    facilitator: dict[str, str]
    people: dict[str, dict[str, Any]] = field(default_factory=dict)  # consent -> {"id", "token", "note_id"}
    hidden_note_id: int = 0


async def make_lab(client: AsyncTestClient[Any], rt: Any, title: str = "Warm streets") -> Lab:
    facilitator = await make_account(rt)
    headers = await api_token(client, facilitator.email)
    made = await client.post(
        "/api/v1/sessions",
        json={"title": title, "kind": "workshop", "city": "Delft", "agenda": [{"title": "Ideas", "prompt": "Go"}]},
        headers=headers,
    )
    assert made.status_code == 201, made.text
    session = made.json()
    assert (await client.post(f"/api/v1/sessions/{session['id']}/start", headers=headers)).status_code == 200
    lab = Lab(session_id=session["id"], join_code=session["join_code"], facilitator=headers)
    for name, choice, organisation in PEOPLE:
        joined = await client.post(
            "/api/v1/join",
            json={
                "join_code": lab.join_code,
                "display_name": name,
                "consent": choice,
                "organisation": organisation,
                "city": "Delft",
                "sector": "citizen",
            },
        )
        assert joined.status_code == 201, joined.text
        token = joined.json()["token"]
        note = await client.post(
            f"/api/v1/sessions/{lab.session_id}/notes",
            json={"client_id": str(uuid.uuid4()), "body": BODIES[choice], "kind": "idea"},
            headers={"Authorization": f"Bearer {token}"},
        )
        assert note.status_code == 201, note.text
        lab.people[choice] = {"id": joined.json()["participant_id"], "token": token, "note_id": note.json()["id"]}
    hidden = await client.post(
        f"/api/v1/sessions/{lab.session_id}/notes",
        json={"client_id": str(uuid.uuid4()), "body": "Spam that was hidden", "kind": "idea"},
        headers={"Authorization": f"Bearer {lab.people['named']['token']}"},
    )
    lab.hidden_note_id = hidden.json()["id"]
    moderated = await client.post(
        f"/api/v1/sessions/{lab.session_id}/notes/{lab.hidden_note_id}/moderation",
        json={"action": "hide"},
        headers=headers,
    )
    assert moderated.status_code == 200, moderated.text
    return lab


async def researcher(client: AsyncTestClient[Any], rt: Any, lab: Lab | None = None) -> tuple[Any, dict[str, str]]:
    """A researcher account and its API headers; `lab` is the session they study: its facilitator
    grants them access."""
    account = await make_account(rt, "researcher")
    if lab is not None:
        body = {"email": account.email, "session_id": lab.session_id}
        granted = await client.post("/api/v1/research/grants", json=body, headers=lab.facilitator)
        assert granted.status_code == 201, granted.text
    return account, await api_token(client, account.email)
