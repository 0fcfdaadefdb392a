# ruff: noqa: E501  (demo content is prose: long sentences read better unbroken)
"""The living-lab part of `labs demo`: a poll and a rating scale on the live meeting's agenda (for
a newcomer to run from the console and answer from a phone), and two neighbourhood energy
collectives working with their municipalities as living labs. The first has a Theory of Change,
indicators with a baseline and two later measurements (one taken from a live scale in one of its
sessions), and an experiment with its evaluation that became a case; the second is there to
compare with. Everything goes through the services, so the labs' streams hold the real history."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any

from labs.models import Account, TocNode
from labs.runtime import Runtime
from labs.services import (
    communities,
    experiments,
    followups,
    indicators,
    outcomes,
    participants,
    polls,
    sessions,
    toc,
)

CLIENT = "labs-demo-livinglab"  # the "address" demo participants join from, for the rate limiter


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


# --- the living labs -----------------------------------------------------------------------

RESIDENTS = [
    ("Fatima", "citizen"),
    ("Henk", "citizen"),
    ("Joyce", "citizen"),
    ("Wim", "citizen"),
    ("Esra", "civil_society"),
    ("Ruud", "government"),
]


async def _lab(rt: Runtime, who: Account, name: str, city: str, description: str, started_on: date) -> int:
    data = {
        "name": name,
        "kind": "living_lab",
        "city": city,
        "description": description,
        "started_on": started_on.isoformat(),
    }
    return (await communities.create(rt, who, data)).id


async def _nodes(
    rt: Runtime, who: Account, lab: int, items: list[tuple[str, str, str, str | None]]
) -> dict[str, TocNode]:
    """(key, kind, title, about key) -> the lab's Theory of Change elements, by key."""
    made: dict[str, TocNode] = {}
    for key, kind, title, about in items:
        data = {"kind": kind, "title": title, "about_id": made[about].id if about else None}
        made[key] = await toc.add_node(rt, who, lab, data)
    return made


async def _links(
    rt: Runtime, who: Account, lab: int, nodes: dict[str, TocNode], pairs: list[tuple[str, str]]
) -> dict[tuple[str, str], int]:
    return {
        (a, b): (await toc.add_link(rt, who, lab, {"from_id": nodes[a].id, "to_id": nodes[b].id})).id for a, b in pairs
    }


async def _evenings(
    rt: Runtime, who: Account, lab: int, evenings: list[tuple[str, datetime, list[int]]]
) -> list[tuple[int, int]]:
    """Sessions of the lab, (title, when, readiness points) each, whose residents answer a readiness
    scale; closed and revealed. Returns (session id, scale's poll id) each. A resident joins a later
    evening with the lab's device token of their earlier one, so they are the same member again: a
    returning member."""
    devices: dict[str, str] = {}  # by resident's name
    return [await _evening(rt, who, lab, title, when, readiness, devices) for title, when, readiness in evenings]


async def _evening(
    rt: Runtime, who: Account, lab: int, title: str, when: datetime, readiness: list[int], devices: dict[str, str]
) -> tuple[int, int]:
    session = await sessions.create(
        rt,
        who,
        {
            "title": title,
            "kind": "co_creation_lab",
            "community_id": lab,
            "language": "nl",
            "starts_at": when,
            "agenda": [{"title": "Welkom en terugblik", "type": "reflection", "minutes": 10}],
        },
    )
    scale = await polls.create(
        rt,
        who,
        session.id,
        {
            "kind": "scale",
            "question": "Hoe klaar voelt u zich voor een aansluiting op het warmtenet?",
            "scale_min": 1,
            "scale_max": 5,
            "min_label": "Helemaal niet",
            "max_label": "Helemaal klaar",
        },
    )
    await sessions.start(rt, who, session.id)
    await sessions.activate(rt, who, session.id, scale["activity_id"])
    await polls.set_status(rt, who, session.id, scale["id"], "open")
    for (name, sector), points in zip(RESIDENTS, readiness, strict=False):
        joined = await participants.join(
            rt,
            session.join_code,
            {"display_name": name, "consent": "anonymous", "sector": sector},
            client=CLIENT,
            device=devices.get(name),
        )
        person = joined.participant
        if joined.device:
            devices[name] = joined.device
        await polls.answer(
            rt, session.id, scale["id"], {"client_id": str(uuid.uuid4()), "number": points}, participant=person
        )
    await polls.set_status(rt, who, session.id, scale["id"], "reveal")
    await sessions.close(rt, who, session.id)
    return session.id, scale["id"]


async def living_labs(rt: Runtime, facilitator: Account) -> dict[str, Any]:
    now = datetime.now(UTC)
    today = now.date()
    baseline_on = today - timedelta(days=330)
    zonnewijk = await _lab(
        rt,
        facilitator,
        "Energiecoöperatie Zonnewijk en gemeente Deventer",
        "Deventer",
        "Een energiecoöperatie van bewoners werkt met de gemeente Deventer aan een eerlijke warmtetransitie in de wijk: eerst isoleren, dan samen kiezen voor een warmtenet.",
        baseline_on - timedelta(days=60),
    )
    nodes = await _nodes(
        rt,
        facilitator,
        zonnewijk,
        [
            ("cafes", "activity", "Maandelijkse energiecafés in het buurthuis", None),
            ("ambassadors", "activity", "Buurtambassadeurs doen energiescans aan de keukentafel", None),
            ("scans", "output", "Huishoudens krijgen een gratis energiescan", None),
            ("insulate", "short_term", "Huishoudens isoleren hun woning", None),
            ("ready", "short_term", "Bewoners voelen zich klaar voor een warmtenet", None),
            ("bills", "medium_term", "Lagere energierekeningen, ook voor huurders", None),
            ("gas", "long_term", "De wijk gaat van het gas af", None),
            ("impact", "impact", "Een eerlijke warmtetransitie in Deventer", None),
            ("coop", "actor", "Energiecoöperatie Zonnewijk", "cafes"),
            ("city", "actor", "Gemeente Deventer, team warmtetransitie", "gas"),
            ("trust", "booster", "Vertrouwen in buren", "ambassadors"),
            ("subsidies", "barrier", "Versnipperde subsidies", "insulate"),
            ("landlords", "barrier", "Verhuurders wachten af", "insulate"),
            (
                "assume",
                "assumption",
                "Bewoners nemen advies eerder aan van een buur dan van de gemeente",
                "ambassadors",
            ),
        ],
    )
    links = await _links(
        rt,
        facilitator,
        zonnewijk,
        nodes,
        [
            ("cafes", "scans"),
            ("ambassadors", "scans"),
            ("scans", "insulate"),
            ("cafes", "ready"),
            ("insulate", "bills"),
            ("ready", "gas"),
            ("bills", "impact"),
            ("gas", "impact"),
        ],
    )
    insulated = await indicators.define(
        rt,
        facilitator,
        zonnewijk,
        nodes["insulate"].id,
        {
            "name": "Huishoudens met dak- of vloerisolatie",
            "unit": "%",
            "direction": "higher",
            "source": "survey",
            "baseline": 22,
            "baseline_on": baseline_on.isoformat(),
            "target": 50,
            "target_on": (today + timedelta(days=400)).isoformat(),
            "range_min": 0,
            "range_max": 100,
        },
    )
    for days_ago, value, wave in ((200, 27, "interim"), (40, 34, "interim")):
        await indicators.record(
            rt,
            facilitator,
            zonnewijk,
            insulated.id,
            {
                "value": value,
                "measured_on": (today - timedelta(days=days_ago)).isoformat(),
                "wave": wave,
                "note": "Enquête onder 180 huishoudens",
            },
        )
    ready = await indicators.define(
        rt,
        facilitator,
        zonnewijk,
        nodes["ready"].id,
        {
            "name": "Bereidheid voor een warmtenet (1-5)",
            "unit": "score",
            "direction": "higher",
            "source": "survey",
            "baseline": 2.2,
            "baseline_on": baseline_on.isoformat(),
            "target": 3.5,
            "target_on": (today + timedelta(days=400)).isoformat(),
            "range_min": 1,
            "range_max": 5,
        },
    )
    await indicators.record(
        rt,
        facilitator,
        zonnewijk,
        ready.id,
        {"value": 2.6, "measured_on": (today - timedelta(days=150)).isoformat(), "wave": "interim"},
    )
    (cafe, _), (evening, scale_id) = await _evenings(
        rt,
        facilitator,
        zonnewijk,
        [
            ("Energiecafé Zonnewijk: wat weten we van warmtenetten?", now - timedelta(days=45), [2, 3, 3, 2]),
            ("Buurtavond Zonnewijk: samen naar een warmtenet?", now - timedelta(hours=3), [3, 4, 3, 4, 2, 4]),
        ],
    )
    await indicators.from_poll(rt, facilitator, zonnewijk, ready.id, {"poll_id": scale_id, "wave": "interim"})

    trial = await experiments.plan(
        rt,
        facilitator,
        zonnewijk,
        {
            "title": "Buurtambassadeurs voor de energiescan",
            "hypothesis": "Als buren de energiescan aan de keukentafel uitleggen, laten meer huishoudens hun woning isoleren, omdat bewoners een buur eerder vertrouwen dan de gemeente.",
            "link_id": links[("scans", "insulate")],
            "topics": "energie, isolatie, participatie",
            "sdgs": "7, 11",
        },
    )
    # The actions are follow-ups: two owners answered through their private links, one is overdue
    # (for the facilitator's list), one is still to come.
    for title, owner, email, days, answer in (
        (
            "Zes ambassadeurs werven en trainen",
            "Fatima (coöperatie)",
            None,
            -120,
            {
                "progress": "in_progress",
                "what_was_done": "Zes ambassadeurs zijn getraind; ze bezoeken nu elke week huishoudens met de scan.",
                "evidence": "Trainingslijst en 38 ingeplande scans",
            },
        ),
        (
            "Scans plannen in de Bloemenbuurt",
            "Ruud (gemeente)",
            None,
            -60,
            {
                "progress": "adopted",
                "what_was_done": "De gemeente plant de scans nu zelf in, samen met de coöperatie.",
                "adopting_city": "Deventer",
            },
        ),
        ("Resultaten van de scans delen met de corporatie", "Joyce (coöperatie)", None, -20, None),
        (
            "Verhuurders uitnodigen voor een eigen avond",
            "Esra (huurdersvereniging)",
            "esra@huurders.example",
            30,
            None,
        ),
    ):
        action = await experiments.add_action(
            rt,
            facilitator,
            zonnewijk,
            trial.id,
            {
                "title": title,
                "owner": owner,
                "owner_email": email,
                "due_on": (today + timedelta(days=days)).isoformat(),
            },
        )
        if answer:
            await followups.answer(rt, outcomes.token_of(rt, action.check_in), answer)
    for session_id in (cafe, evening):
        await experiments.link_session(rt, facilitator, zonnewijk, trial.id, session_id)
    await experiments.evaluate(
        rt,
        facilitator,
        zonnewijk,
        trial.id,
        {
            "result": "partly",
            "tried": "Zes buurtambassadeurs bezochten 140 huishoudens met de energiescan en een lijst van drie maatregelen.",
            "worked": "Huurders vroegen drie keer zoveel scans aan; een buur aan de keukentafel maakte de drempel laag.",
            "did_not_work": "Eigenaar-bewoners in gemengde complexen bleven achter: zij wachten op de VvE.",
            "for_whom": "Huurders van de corporatie en ouderen die alleen wonen.",
            "context": "Een naoorlogse wijk met veel huurwoningen en een actieve coöperatie.",
            "why": "Vertrouwen in buren woog zwaarder dan de folder van de gemeente; VvE-besluiten vragen een eigen route.",
            "evidence": "Scanaanvragen: 38 (was 9 in het jaar ervoor); enquête isolatie 22% → 34%.",
        },
    )
    case = await experiments.to_case(rt, facilitator, zonnewijk, trial.id, {"city": "Deventer", "country": "NL"})

    kanaleneiland = await _lab(
        rt,
        facilitator,
        "Buurtenergie Kanaleneiland en gemeente Utrecht",
        "Utrecht",
        "Bewoners van Kanaleneiland en de gemeente Utrecht proberen samen energiearmoede te verminderen met kleine maatregelen en energiecoaches.",
        baseline_on - timedelta(days=30),
    )
    other = await _nodes(
        rt,
        facilitator,
        kanaleneiland,
        [
            ("coaches", "activity", "Energiecoaches bij mensen thuis", None),
            ("kits", "output", "Huishoudens krijgen een pakket kleine maatregelen", None),
            ("use", "short_term", "Huishoudens gebruiken minder energie", None),
            ("poverty", "impact", "Minder energiearmoede in Kanaleneiland", None),
            ("trust", "booster", "Vertrouwen in buren", "coaches"),
            ("subsidies", "barrier", "Versnipperde subsidies", "kits"),
            ("language", "barrier", "Informatie alleen in het Nederlands", "coaches"),
        ],
    )
    other_links = await _links(
        rt, facilitator, kanaleneiland, other, [("coaches", "kits"), ("kits", "use"), ("use", "poverty")]
    )
    usage = await indicators.define(
        rt,
        facilitator,
        kanaleneiland,
        other["use"].id,
        {
            "name": "Gemiddeld gasverbruik per huishouden",
            "unit": "m³/jaar",
            "direction": "lower",
            "source": "municipal_data",
            "baseline": 1250,
            "baseline_on": baseline_on.isoformat(),
            "target": 1000,
            "target_on": (today + timedelta(days=700)).isoformat(),
        },
    )
    for days_ago, value in ((180, 1190), (20, 1105)):
        await indicators.record(
            rt,
            facilitator,
            kanaleneiland,
            usage.id,
            {"value": value, "measured_on": (today - timedelta(days=days_ago)).isoformat(), "wave": "interim"},
        )
    coaches = await experiments.plan(
        rt,
        facilitator,
        kanaleneiland,
        {
            "title": "Energiecoaches die de taal van de buurt spreken",
            "hypothesis": "Als coaches in de eigen taal van bewoners uitleg geven, gebruiken meer huishoudens het pakket, omdat de uitleg aansluit.",
            "link_id": other_links[("kits", "use")],
            "topics": "energie, energiearmoede, participatie",
            "sdgs": "1, 7",
        },
    )
    await _evenings(
        rt,
        facilitator,
        kanaleneiland,
        [
            ("Energiecafé Kanaleneiland", now - timedelta(days=120), [3, 4, 3]),
            ("Energiecafé Kanaleneiland: terugblik met de coaches", now - timedelta(days=60), [4, 5, 3, 4]),
        ],
    )
    await experiments.evaluate(
        rt,
        facilitator,
        kanaleneiland,
        coaches.id,
        {
            "result": "worked",
            "tried": "Vier coaches spraken Arabisch, Turks of Tamazight en bezochten 95 huishoudens.",
            "worked": "Bijna alle bezochte huishoudens gebruikten het pakket; buren vroegen zelf om een bezoek.",
            "for_whom": "Huishoudens die weinig Nederlands lezen.",
            "context": "Een wijk waar veel talen worden gesproken en de gemeente weinig bereik had.",
            "why": "Uitleg in de eigen taal en van iemand uit de buurt.",
            "evidence": "Gasverbruik 1250 → 1105 m³; 91 van 95 pakketten in gebruik bij het tweede bezoek.",
        },
    )
    return {
        "labs": [zonnewijk, kanaleneiland],
        "case_id": case.id,
        "street_evening": evening,
    }
