"""The living-lab part of `labs demo`: a poll and a rating scale on the live meeting's agenda, for
a newcomer to run from the console and answer from a phone."""

from __future__ import annotations

from typing import Any

from labs.models import Account
from labs.runtime import Runtime
from labs.services import polls


async def live_polls(rt: Runtime, facilitator: Account, session_id: int) -> list[dict[str, Any]]:
    """A poll and a scale at the end of the live meeting's agenda, ready to open."""
    poll = await polls.create(
        rt,
        facilitator,
        session_id,
        {
            "kind": "single",
            "question": "Welke praktijk uit een andere stad wil jij als eerste overnemen?",
            "options": [
                "Buurtambassadeurs (Groningen, Zwolle)",
                "Bewonersbudget (Rotterdam)",
                "Stadsmakelaar (Antwerpen)",
                "Iets anders",
            ],
            "title": "Peiling: welke praktijk eerst?",
            "minutes": 3,
        },
    )
    scale = await polls.create(
        rt,
        facilitator,
        session_id,
        {
            "kind": "scale",
            "question": "Hoe klaar voel jij je om een praktijk uit een andere stad over te nemen?",
            "scale_min": 1,
            "scale_max": 5,
            "min_label": "Helemaal niet",
            "max_label": "Helemaal klaar",
            "title": "Schaal: hoe klaar ben je?",
            "minutes": 3,
        },
    )
    return [poll, scale]
