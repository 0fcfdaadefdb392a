"""The conference part of `labs demo`: a live city conversation in a hall, with a wall of 240 notes
posted at once (the room's "everyone, post your idea now"), one pinned, a few hidden, two
clusters. On it the projector shows pinned first and then the newest on one screen, a phone keeps
its wall short with "Older notes" below, and the console filters by kind, cluster and hidden."""

from __future__ import annotations

import asyncio
from typing import Any

from labs.models import Account
from labs.runtime import Runtime
from labs.services import notes, participants, sessions

IDEAS = [
    ("idea", "Groene daken op alle scholen in de wijk"),
    ("idea", "Een buurtbatterij voor de zonnepanelen van de flat"),
    ("question", "Wie betaalt het onderhoud na de eerste vijf jaar?"),
    ("booster", "De corporatie wil meedoen als huurders meebeslissen"),
    ("barrier", "Geen plek voor fietsenstallingen in de smalle straten"),
    ("insight", "Bewoners komen eerder naar een wandelgesprek dan naar een avond"),
    ("action", "Volgende maand een proefstraat met tijdelijk groen"),
    ("idea", "Regenwater opvangen onder het plein bij de markt"),
]
PEOPLE, EACH = 16, 15  # 240 notes; 15 each stays within the posting limit's burst of 20


async def hall(rt: Runtime, facilitator: Account) -> dict[str, Any]:
    session = await sessions.create(
        rt,
        facilitator,
        {
            "title": "Stadsgesprek: de wijk van 2040",
            "description": "Een zaal vol bewoners, ambtenaren en ondernemers; iedereen schrijft tegelijk.",
            "kind": "workshop",
            "city": "Utrecht",
            "language": "nl",
            "agenda": [
                {
                    "title": "Iedereen tegelijk: jouw idee voor de wijk",
                    "type": "brainstorm",
                    "minutes": 10,
                    "prompt": "Wat maakt jouw wijk in 2040 beter? Schrijf één idee per briefje.",
                }
            ],
        },
    )
    session = await sessions.start(rt, facilitator, session.id)
    people = [
        (
            await participants.join(
                rt, session.join_code, {"display_name": f"Deelnemer {i + 1}", "consent": "anonymous"}, f"demo-hall-{i}"
            )
        ).participant
        for i in range(PEOPLE)
    ]

    async def post(i: int) -> dict[str, Any]:
        kind, body = IDEAS[i % len(IDEAS)]
        data = {"client_id": f"demo-hall-{i}", "body": f"{body} ({i + 1})", "kind": kind}
        return (await notes.post(rt, session.id, data, participant=people[i % PEOPLE]))[0]

    # All at once, as in the hall: the posts share a few transactions (group commit).
    posted = await asyncio.gather(*(post(i) for i in range(PEOPLE * EACH)))
    await notes.moderate(rt, facilitator, session.id, posted[0]["id"], "pin")
    for note in posted[5:8]:
        await notes.moderate(rt, facilitator, session.id, note["id"], "hide")
    for note in posted[10:40:3]:
        await notes.cluster_note(rt, facilitator, session.id, note["id"], "Groen")
    for note in posted[11:40:4]:
        await notes.cluster_note(rt, facilitator, session.id, note["id"], "Energie")
    return {"id": session.id, "title": session.title, "join_code": session.join_code, "notes": len(posted)}
