# ruff: noqa: E501  (demo content is prose: long sentences read better unbroken)
"""A lived-in demo: a learning community of Dutch and European cities with three meetings, shared
cases, notes, clusters, a vote, outcomes with follow-ups, and one complete trace from a case
shared in the first meeting to a new case derived from it, presented in the third.

Everything is made through the services, so the event log is the one a real run would leave.
Afterwards the two past meetings are moved back in time (their rows and events are mapped onto
their planned date and duration, order kept), so timelines look like months of work; what was
recorded after a meeting closed (outcomes, follow-ups) keeps its real time. The third meeting is
left live, with its current activity open, for a newcomer to join from a phone.

Everyone joins from "their own phone" (the community's device cookie), so people who come to
several meetings are one member; labs.demo_community adds a member who came back on another
device and was merged by the facilitator.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from typing import Any

from sqlalchemy import select

from labs import demo_community, demo_hall, demo_library, demo_livinglab
from labs.errors import Conflict
from labs.models import (
    Account,
    Activity,
    CaseShare,
    Cluster,
    ConsentRecord,
    Event,
    LabSession,
    Note,
    Participant,
    SessionFacilitator,
    Vote,
    VoteRound,
)
from labs.runtime import Runtime
from labs.services import (
    accounts,
    cases,
    communities,
    followups,
    grants,
    notes,
    outcomes,
    participants,
    record,
    sessions,
    votes,
)

DEMO_PASSWORD = "labs-demo-2026"
ADMIN_EMAIL = "admin@labs.example"
COMMUNITY_NAME = "Lerende gemeenschap Wijkvernieuwing"
CLIENT = "labs-demo"  # the "address" participants join from, for the rate limiter

ACCOUNTS = [
    ("admin", ADMIN_EMAIL, "Labs-beheer"),
    ("facilitator", "sanne.devries@labs.example", "Sanne de Vries"),
    ("facilitator", "youssef.elamrani@labs.example", "Youssef El Amrani"),
    ("researcher", "marieke.jansen@labs.example", "Marieke Jansen"),
]

# --- cases ---------------------------------------------------------------------------------

CASES: dict[str, dict[str, Any]] = {
    "groningen": {
        "title": "Buurtambassadeurs voor de warmtetransitie",
        "summary": (
            "Bewoners die hun eigen huis al hebben verduurzaamd, gaan als buurtambassadeur langs bij "
            "hun buren: een keukentafelgesprek, een gratis energiescan en hulp bij subsidies. De "
            "gemeente betaalt een wijkcoördinator; de energiecoöperatie leidt de ambassadeurs op."
        ),
        "city": "Groningen",
        "country": "NL",
        "sdgs": [7, 11, 13],
        "topics": ["warmtetransitie", "bewonersparticipatie", "energiecoöperatie", "buurtambassadeurs"],
        "stage": "implemented",
        "boosters": (
            "Buren vertrouwen buren meer dan de gemeente. Een betaalde coördinator houdt de "
            "vrijwilligers bij elkaar. Open data over energielabels per straat helpt kiezen waar je begint."
        ),
        "barriers": (
            "Vrijwilligers raken overbelast. VvE's besluiten traag. Subsidieregels veranderen vaak. "
            "Huurders kunnen zelf weinig beslissen over hun woning."
        ),
        "organisation": "Gemeente Groningen met de buurtenergiecoöperatie",
    },
    "rotterdam": {
        "title": "Wijkakkoord: bewoners beslissen mee over de wijkagenda",
        "summary": (
            "In het wijkakkoord leggen bewoners, gemeente en partners samen vast wat de wijk de komende "
            "jaren nodig heeft. Een wijkraad van gekozen bewoners beheert een deel van het budget en "
            "legt elk jaar verantwoording af op een open bewonersavond."
        ),
        "city": "Rotterdam",
        "country": "NL",
        "sdgs": [10, 11, 16],
        "topics": ["participatie", "wijkbudget", "lokale democratie"],
        "stage": "scaled",
        "boosters": "Een echte eigen begroting; een vaste ambtelijke contactpersoon; jaarlijkse open verantwoording.",
        "barriers": (
            "Jongeren en nieuwe bewoners doen weinig mee; wijkraadsleden worden overvraagd; spanning "
            "met de gemeenteraad over wie uiteindelijk beslist."
        ),
        "organisation": "Gemeente Rotterdam",
    },
    "utrecht": {
        "title": "Gezonde wijk: een beweegroute langs groen en ontmoetingsplekken",
        "summary": (
            "Bewoners, huisartsen en de gemeente ontwierpen samen een wandelroute van drie kilometer "
            "langs groen, bankjes en ontmoetingsplekken. Huisartsen verwijzen mensen met eenzaamheid "
            "of overgewicht naar wekelijkse wandelgroepen."
        ),
        "city": "Utrecht",
        "country": "NL",
        "sdgs": [3, 11],
        "topics": ["gezondheid", "groen", "eenzaamheid", "gezonde verstedelijking"],
        "stage": "pilot",
        "boosters": "Huisartsen als verwijzers; lage kosten; het resultaat is zichtbaar op straat.",
        "barriers": "Financiering na de pilot is onzeker; gezondheidseffecten zijn lastig te meten.",
        "organisation": "Gemeente Utrecht en het wijkgezondheidscentrum",
    },
    "eindhoven": {
        "title": "Living lab slimme straatverlichting met bewoners",
        "summary": (
            "In een living lab testen bewoners, een lichtbedrijf en de gemeente lantaarnpalen met "
            "sensoren die dimmen als er niemand op straat is. Bewoners bepalen samen welke data wel en "
            "niet verzameld mogen worden."
        ),
        "city": "Eindhoven",
        "country": "NL",
        "sdgs": [7, 9, 11],
        "topics": ["smart city", "living lab", "data-ethiek", "energiebesparing"],
        "stage": "pilot",
        "boosters": "Een datacharter dat bewoners mee opstelden; software die snel aan te passen is.",
        "barriers": "Wantrouwen over camera's; de aanbesteding maakt opschalen met dezelfde partner lastig.",
        "organisation": "Gemeente Eindhoven",
    },
    "antwerpen": {
        "title": "Tijdelijke invulling van leegstaande winkelpanden",
        "summary": (
            "Eigenaren van leegstaande panden in aanloopstraten stellen ze tegen lage huur beschikbaar "
            "aan starters, ateliers en buurtinitiatieven. De stad bemiddelt; na een jaar kan de "
            "gebruiker doorstromen naar een gewoon huurcontract."
        ),
        "city": "Antwerpen",
        "country": "BE",
        "sdgs": [8, 11],
        "topics": ["leegstand", "aanloopstraten", "ondernemerschap", "tijdelijk gebruik"],
        "stage": "implemented",
        "boosters": "Een stadsmakelaar die eigenaren persoonlijk benadert; een standaardcontract voor tijdelijk gebruik.",
        "barriers": "Eigenaren speculeren op hogere huur; brandveiligheidseisen kosten starters veel geld.",
        "organisation": "Stad Antwerpen",
    },
    "gent": {
        "title": "Leefstraten: bewoners maken hun straat tijdelijk autovrij",
        "summary": (
            "Bewoners vragen zelf aan om hun straat een paar maanden autovrij te maken en richten haar "
            "in met groen, zitplekken en speelruimte. De stad regelt de vergunningen en geeft een coach."
        ),
        "city": "Gent",
        "country": "BE",
        "sdgs": [3, 11, 13],
        "topics": ["mobiliteit", "openbare ruimte", "bewonersinitiatief", "spelen"],
        "stage": "scaled",
        "boosters": (
            "De aanvraag komt van bewoners zelf; een tijdelijke proef verlaagt de drempel; een coach van de stad."
        ),
        "barriers": "Parkeerdruk in de straten eromheen; niet elke straat heeft trekkers die het organiseren.",
        "organisation": "Stad Gent",
    },
    "aarhus": {
        "title": "Rainwater as a resource: community-led climate adaptation",
        "summary": (
            "Residents, the water utility and the municipality redesigned a social housing estate so "
            "that rainwater is held in green basins, channels and play areas instead of the sewer. "
            "Residents co-designed the landscape in walk-and-talk workshops."
        ),
        "city": "Aarhus",
        "country": "DK",
        "sdgs": [6, 11, 13],
        "topics": ["climate adaptation", "social housing", "co-design", "green infrastructure"],
        "stage": "implemented",
        "boosters": "The utility co-funds because it saves on sewers; early resident workshops; visible quick wins.",
        "barriers": "Long approval procedures; unclear maintenance duties between utility and housing association.",
        "organisation": "Aarhus Municipality and the water utility",
    },
    "bilbao": {
        "title": "Temporary use as a bridge in waterfront regeneration",
        "summary": (
            "While a former industrial peninsula is redeveloped in phases, artists, start-ups and "
            "neighbourhood groups use the old warehouses. Residents and creative groups have a seat "
            "at the planning table for each phase."
        ),
        "city": "Bilbao",
        "country": "ES",
        "sdgs": [8, 9, 11],
        "topics": ["urban regeneration", "temporary use", "creative industries", "waterfront"],
        "stage": "scaled",
        "boosters": "A long-term public-private management body; temporary uses keep the area alive during works.",
        "barriers": "Rising rents push out the first creative users; flood defence works delay the phases.",
        "organisation": "Bilbao City Council",
    },
    "leiden": {
        "title": "Langer thuis in de buurt: wonen met zorg in een bestaande flat",
        "summary": (
            "Een woningcorporatie, een zorgorganisatie en de gemeente bouwen een flat om tot woningen "
            "voor ouderen, met op de begane grond een ontmoetingsruimte en zorgsteunpunt dat open is "
            "voor de hele buurt."
        ),
        "city": "Leiden",
        "country": "NL",
        "sdgs": [3, 10, 11],
        "topics": ["wonen en zorg", "ouderen", "woningcorporaties", "ontmoeting"],
        "stage": "pilot",
        "boosters": "Corporatie en zorgorganisatie financieren samen; buurtbewoners gebruiken de ontmoetingsruimte ook.",
        "barriers": "Regels over het scheiden van wonen en zorg; personeelstekort in de zorg.",
        "organisation": "Gemeente Leiden",
    },
}

DERIVED_CASE = {
    "title": "Warm Holtenbroek: buurtambassadeurs met huurders voorop",
    "summary": (
        "Overgenomen van de Groningse buurtambassadeurs en aangepast aan een wijk met veel "
        "corporatiewoningen: de corporatie zit vanaf het begin aan tafel, de ambassadeurs beginnen bij "
        "huurders, en gemeente en corporatie betalen de coördinator samen."
    ),
    "city": "Zwolle",
    "country": "NL",
    "sdgs": [7, 10, 11, 13],
    "topics": ["warmtetransitie", "buurtambassadeurs", "huurders", "woningcorporaties"],
    "stage": "pilot",
    "boosters": (
        "De corporatie betaalt mee; bekende gezichten uit de wijk als ambassadeur; trainingsmateriaal "
        "en advies uit Groningen."
    ),
    "barriers": (
        "Isolatie van corporatiewoningen volgt de planning van de corporatie, niet die van de buurt; "
        "eigenaar-bewoners in gemengde complexen wachten op elkaar."
    ),
    "organisation": "Gemeente Zwolle met de woningcorporatie",
}

# --- people --------------------------------------------------------------------------------


def _person(name: str, consent: str, sector: str | None, organisation: str | None, city: str | None) -> dict:
    return {"display_name": name, "consent": consent, "sector": sector, "organisation": organisation, "city": city}


PEOPLE = {
    "anouk": _person("Anouk Bos", "named", "government", "Gemeente Groningen", "Groningen"),
    "pieter": _person("Pieter van Dam", "named", "government", "Gemeente Zwolle", "Zwolle"),
    "lotte": _person("Lotte", "pseudonymous", "knowledge_institution", "Hanzehogeschool Groningen", "Groningen"),
    "karin": _person("Karin", "anonymous", "citizen", None, "Groningen"),
    "jeroen": _person("Jeroen", "none", "civil_society", "Buurtenergiecoöperatie", "Groningen"),
    "hatice": _person("Hatice Yilmaz", "named", "civil_society", "Woningcorporatie in Zwolle", "Zwolle"),
    "sofie": _person("Sofie Claes", "named", "government", "Stad Gent", "Gent"),
    "gast": _person("Gast", "none", None, None, None),
    "bakker": _person("Meneer Bakker", "pseudonymous", "citizen", None, "Zwolle"),
    "mads": _person("Mads Sørensen", "named", "government", "Aarhus Municipality", "Aarhus"),
    "ane": _person("Ane E.", "pseudonymous", "government", "Bilbao City Council", "Bilbao"),
    "noor": _person("Noor", "anonymous", "citizen", "Wijkraad", "Rotterdam"),
    "thomas": _person("Thomas Peeters", "named", "government", "Stad Antwerpen", "Antwerpen"),
    "femke": _person("Femke", "pseudonymous", "knowledge_institution", "Erasmus Universiteit Rotterdam", "Rotterdam"),
    "ruben": _person("Ruben", "none", "business", "Sociale onderneming", "Rotterdam"),
    "daan": _person("Daan Visser", "named", "government", "Gemeente Utrecht", "Utrecht"),
    "ilse": _person("Ilse", "pseudonymous", "business", "Adviesbureau", "Eindhoven"),
    "mirjam": _person("Mirjam", "anonymous", "citizen", "Bewonersvereniging Holtenbroek", "Zwolle"),
}


@dataclass
class _Meeting:
    session: LabSession
    target: datetime  # when it "really" happened
    people: dict[str, Participant] = field(default_factory=dict)
    note_ids: dict[str, int] = field(default_factory=dict)
    ran_from: datetime | None = None
    ran_to: datetime | None = None

    @property
    def id(self) -> int:
        return self.session.id

    def activity(self, position: int) -> Activity:
        return self.session.activities[position]


class _Demo:
    def __init__(self, rt: Runtime) -> None:
        self.rt = rt
        self.accounts: dict[str, Account] = {}
        self.cases: dict[str, int] = {}
        # Each person's phone keeps the community's device cookie: later meetings know them.
        self.devices: dict[str, str | None] = {}

    async def join(self, meeting: _Meeting, *keys: str) -> None:
        for key in keys:
            joined = await participants.join(
                self.rt, meeting.session.join_code, PEOPLE[key], client=CLIENT, device=self.devices.get(key)
            )
            meeting.people[key] = joined.participant
            self.devices[key] = joined.device

    async def proxy(self, meeting: _Meeting, by: str, key: str) -> None:
        meeting.people[key] = await participants.add_proxy(self.rt, self.accounts[by], meeting.id, PEOPLE[key])

    async def note(
        self,
        meeting: _Meeting,
        who: str,
        body: str,
        kind: str = "idea",
        *,
        case: str | None = None,
        key: str | None = None,
        proxy_by: str | None = None,
    ) -> int:
        """A note by a participant (who = a PEOPLE key), by a facilitator (who = an account key),
        or by a facilitator for a proxy participant (proxy_by = the facilitator)."""
        data: dict[str, Any] = {"client_id": str(uuid.uuid4()), "body": body, "kind": kind}
        if case:
            data["case_id"] = self.cases[case]
        if proxy_by:
            data["participant_id"] = meeting.people[who].id
            payload, _ = await notes.post(self.rt, meeting.id, data, account=self.accounts[proxy_by])
        elif who in self.accounts:
            payload, _ = await notes.post(self.rt, meeting.id, data, account=self.accounts[who])
        else:
            payload, _ = await notes.post(self.rt, meeting.id, data, participant=meeting.people[who])
        if key:
            meeting.note_ids[key] = payload["id"]
        return int(payload["id"])

    async def next(self, meeting: _Meeting, by: str) -> None:
        meeting.session = await sessions.activate_next(self.rt, self.accounts[by], meeting.id)


# --- the story -----------------------------------------------------------------------------


def _at(day: date, hour: int, minute: int = 0) -> datetime:
    # Meetings start in the afternoon, Dutch time (UTC+1/+2): stored as UTC.
    return datetime.combine(day, time(hour, minute), tzinfo=UTC)


async def load_demo(rt: Runtime) -> dict[str, Any]:
    """Build the demo; refuse (Conflict) when it was loaded before. Returns what to print."""
    if await accounts.by_email(rt, ADMIN_EMAIL) is not None:
        raise Conflict(
            f"Demo data is already loaded here ({ADMIN_EMAIL} exists); loading it twice would duplicate it. "
            "Use a fresh database (set LABS_DATA_DIR or LABS_DATABASE_URL) for a new demo."
        )
    demo = _Demo(rt)
    for role, email, name in ACCOUNTS:
        key = email.split("@")[0].split(".")[0]
        demo.accounts[key] = await accounts.create(
            rt, email=email, password=DEMO_PASSWORD, role=role, display_name=name
        )
    sanne = demo.accounts["sanne"]
    # Her integrations, listed on her account page and the admins' token page (never their secrets).
    for token_name, days in (("Gemeentedashboard Zwolle", 90), ("R-analyse", 30)):
        await accounts.create_api_token(rt, sanne, name=token_name, expires_in_days=days)

    today = datetime.now(UTC).date()
    first_day = today - timedelta(weeks=23)
    second_day = today - timedelta(weeks=9)

    community = await communities.create(
        rt,
        sanne,
        {
            "name": COMMUNITY_NAME,
            "kind": "learning_community",
            "description": (
                "Een leergemeenschap van G32-steden en Europese partners die elkaars wijkaanpakken delen: "
                "de warmtetransitie in de buurt, bewonersbudgetten, leefbare straten en wonen met zorg. "
                "Ambtenaren, bewoners, corporaties en onderzoekers verdiepen zich in elkaars casussen in "
                "een vertrouwde setting; wat elders wordt overgenomen, volgen we na."
            ),
            "started_on": first_day - timedelta(weeks=4),
        },
    )
    for case_key, data in CASES.items():
        demo.cases[case_key] = (
            await cases.create_case(rt, demo.accounts["youssef"] if case_key != "groningen" else sanne, data)
        ).id

    m1 = await _first_meeting(demo, community.id, _at(first_day, 11, 30))
    m2 = await _second_meeting(demo, community.id, _at(second_day, 12, 0))

    await _backdate(rt, m1, minutes=85)
    await _backdate(rt, m2, minutes=85)
    trace = await _after_the_meetings(demo, m1, m2, community.id)
    derived_id = demo.cases["zwolle"]

    library = await demo_library.build_library(rt, sanne, demo.accounts["youssef"], demo.cases["gent"], m2.id)
    m3 = await _third_meeting(demo, community.id)
    live_polls = await demo_livinglab.live_polls(rt, sanne, m3.id)
    living_labs = await demo_livinglab.living_labs(rt, sanne)
    karin = m1.people["karin"].member_id
    assert karin is not None
    merged = await demo_community.rejoin_and_merge(
        rt, sanne, community.id, m3.session.join_code, PEOPLE["karin"], karin
    )
    erased = await demo_community.erase_on_request(rt, demo.accounts["admin"], m1.people["gast"].id)
    await _research_access(demo, community.id)
    coders = await _coding(demo, m1)
    big = await demo_hall.hall(rt, sanne)

    live = await sessions.get(rt, m3.id)
    current = next(a for a in live.activities if a.id == live.current_activity_id)
    listed = await cases.list_cases(rt)
    return {
        "password": DEMO_PASSWORD,
        "accounts": [{"email": email, "role": role, "name": name} for role, email, name in ACCOUNTS + coders],
        "community": {"id": community.id, "name": community.name, "merged_member": merged, "erasure": erased},
        "sessions": [
            {"id": s.id, "title": s.title, "status": s.status.value, "join_code": s.join_code}
            for s in [await sessions.get(rt, m.id) for m in (m1, m2, m3)]
        ],
        "live": {
            "id": live.id,
            "title": live.title,
            "join_code": live.join_code,
            "activity": current.title,
            "waiting": (await notes.waiting(rt, live.id)).total,
        },
        "hall": big,
        "polls": [p["question"] for p in live_polls],
        "living_labs": living_labs,
        "cases": listed.total,
        "library": library,
        "cities": (await cases.places(rt))["cities"],
        "follow_ups": trace["follow_ups"],
        "trace": {
            "case_id": demo.cases["groningen"],
            "shared_in": m1.id,
            "outcome_id": trace["outcome_id"],
            "follow_up_id": trace["follow_up_id"],
            "derived_case_id": derived_id,
            "shared_again_in": m3.id,
        },
    }


# --- qualitative coding: a codebook, two researchers coding the first meeting, memos ----------

SECOND_RESEARCHER = ("researcher", "lucas.verbeek@labs.example", "Lucas Verbeek")
CODEBOOK = {
    "Vertrouwen": ("Wat bewoners over de drempel helpt: bekenden, de eigen straat.", "#59a14f", None),
    "Buren als boodschappers": ("Bewoners die andere bewoners benaderen.", "#76b7b2", "Vertrouwen"),
    "Organisatie": ("Wie de aanpak draagt en betaalt.", "#4e79a7", None),
    "Betaalde coördinatie": ("Een betaalde kracht die vrijwilligers verbindt.", "#a0cbe8", "Organisatie"),
    "Rol van de corporatie": ("De woningcorporatie als partner of als ontbrekende partij.", "#f28e2b", "Organisatie"),
    "Drempels": ("Wat de overdracht of de uitvoering tegenhoudt.", "#e15759", None),
    "Besluitvorming VvE": ("Trage besluiten van verenigingen van eigenaars.", "#ff9da7", "Drempels"),
    "Overlast in huis": ("Bezwaar tegen werk en mensen over de vloer.", "#b07aa1", "Drempels"),
    "Overdraagbaarheid": ("Aanwijzingen dat de praktijk in een andere stad kan werken.", "#edc948", None),
}
# (note key, code, coder, coded text or None for the whole note)
CODINGS = [
    ("trust", "Buren als boodschappers", "marieke", "Buren vertrouwen buren"),
    ("trust", "Vertrouwen", "lucas", None),
    ("coordinator", "Betaalde coördinatie", "marieke", None),
    ("coordinator", "Betaalde coördinatie", "lucas", "Een betaalde coördinator (16 uur per week)"),
    ("vve", "Besluitvorming VvE", "marieke", "Bij VvE's duurt een besluit over isolatie maanden"),
    ("tenants", "Rol van de corporatie", "marieke", "Zonder de corporatie aan tafel kun je weinig."),
    ("tenants", "Rol van de corporatie", "lucas", "Zonder de corporatie aan tafel"),
    ("corporation", "Rol van de corporatie", "lucas", None),
    ("agenda", "Vertrouwen", "lucas", "het werkt alleen als de buurt de agenda bepaalt"),
    ("holtenbroek", "Overdraagbaarheid", "marieke", None),
    ("holtenbroek", "Overdraagbaarheid", "lucas", "samen met de corporatie, en beginnen bij de huurders"),
    ("bakker", "Overlast in huis", "lucas", "niet weken mensen over de vloer"),
]


async def _coding(demo: _Demo, m1: _Meeting) -> list[tuple[str, str, str]]:
    """Two researchers code the first meeting with a shared codebook and write memos. Returns the
    account it adds, for the list printed at the end."""
    from labs.services import codebook, coding, memos

    rt = demo.rt
    role, email, name = SECOND_RESEARCHER
    demo.accounts["lucas"] = await accounts.create(
        rt, email=email, password=DEMO_PASSWORD, role=role, display_name=name
    )
    await grants.grant(rt, demo.accounts["sanne"], email, session_id=m1.id)
    marieke = demo.accounts["marieke"]
    codes: dict[str, int] = {}
    for code_name, (description, color, parent) in CODEBOOK.items():
        data = {"name": code_name, "description": description, "color": color, "parent_id": codes.get(parent or "")}
        codes[code_name] = (await codebook.create(rt, marieke, data)).id
    bodies = {n["id"]: n["body"] for n in await notes.wall(rt, m1.id, include_hidden=False)}
    for key, code_name, coder, text in CODINGS:
        note_id = m1.note_ids[key]
        span: dict[str, Any] = {}
        if text is not None:
            start = bodies[note_id].index(text)
            span = {"start": start, "end": start + len(text)}
        await coding.apply(rt, demo.accounts[coder], note_id, {"code_id": codes[code_name], **span})
    await memos.write(
        rt,
        marieke,
        {
            "code_id": codes["Rol van de corporatie"],
            "title": "Corporatie: partner of voorwaarde?",
            "body": "In Groningen een partner onder meer; in Zwolle (veel huurders) een voorwaarde vooraf. "
            "Vergelijken met de tweede bijeenkomst: speelt de corporatie daar ook mee?",
        },
    )
    await memos.write(
        rt,
        marieke,
        {
            "session_id": m1.id,
            "title": "Eerste indruk bijeenkomst 1",
            "body": "Boosters gaan vooral over vertrouwen en betaalde coördinatie; barrières over eigendom "
            "(VvE, huur). De overdracht naar Zwolle hangt aan de corporatie.",
        },
    )
    await memos.write(
        rt,
        demo.accounts["lucas"],
        {
            "note_id": m1.note_ids["trust"],
            "title": "Vertrouwen als mechanisme",
            "body": "Vergelijk met de literatuur over 'trusted messengers'; hier expliciet de eigen straat.",
        },
    )
    return [SECOND_RESEARCHER]


async def _research_access(demo: _Demo, community_id: int) -> None:
    """Marieke studies the whole community, granted by the admin (Lucas, who codes the first
    meeting, gets that meeting from its facilitator: see _coding)."""
    await grants.grant(demo.rt, demo.accounts["admin"], demo.accounts["marieke"].email, community_id=community_id)


async def _first_meeting(demo: _Demo, community_id: int, when: datetime) -> _Meeting:
    rt, sanne, youssef = demo.rt, demo.accounts["sanne"], demo.accounts["youssef"]
    session = await sessions.create(
        rt,
        sanne,
        {
            "title": "Bijeenkomst 1: Energie en eigenaarschap in de wijk",
            "description": (
                "Eerste bijeenkomst van de leergemeenschap. Groningen deelt de aanpak met buurtambassadeurs; "
                "samen zoeken we wat andere steden kunnen overnemen en wat ze dan moeten aanpassen."
            ),
            "kind": "learning_community_meeting",
            "community_id": community_id,
            "city": "Groningen",
            "language": "nl",
            "starts_at": when,
            "agenda": [
                {
                    "title": "Welkom en kennismaking",
                    "type": "discussion",
                    "minutes": 15,
                    "prompt": "Wie ben je, uit welke stad kom je, en welke wijkopgave neem je mee?",
                },
                {
                    "title": "Casus: buurtambassadeurs voor de warmtetransitie (Groningen)",
                    "type": "case_presentation",
                    "minutes": 25,
                    "prompt": "Wat helpt deze aanpak vooruit (boosters) en wat remt haar (barrières)? "
                    "Eén gedachte per briefje.",
                },
                {
                    "title": "Wat kunnen wij hiervan overnemen?",
                    "type": "brainstorm",
                    "minutes": 20,
                    "prompt": "Welk onderdeel zou in jouw stad of wijk werken, en wat moet je dan aanpassen?",
                },
                {
                    "title": "Stemronde: wat werken we uit?",
                    "type": "voting",
                    "minutes": 10,
                    "prompt": "Je hebt drie stemmen. Met welke ideeën willen we de komende maanden verder?",
                },
                {
                    "title": "Reflectie en afspraken",
                    "type": "reflection",
                    "minutes": 15,
                    "prompt": "Wat neem je mee naar huis, en wat doe je concreet vóór de volgende bijeenkomst?",
                },
            ],
        },
    )
    await sessions.add_facilitator(rt, sanne, session.id, youssef.email)
    m = _Meeting(session, when, ran_from=datetime.now(UTC))
    m.session = await sessions.start(rt, sanne, session.id)
    await demo.join(m, "anouk", "pieter", "lotte", "karin", "jeroen", "hatice", "sofie", "gast")
    await demo.proxy(m, "sanne", "bakker")

    # Welcome
    await demo.note(m, "anouk", "Wij willen weten hoe je bewoners vasthoudt als de eerste subsidie op is.", "question")
    await demo.note(
        m, "pieter", "In Zwolle zoeken we een aanpak voor Holtenbroek: veel huurders, weinig vertrouwen.", "insight"
    )
    await demo.note(
        m, "sofie", "Gent: leefstraten. Ik kom kijken hoe jullie bewoners de trekker laten zijn.", "insight"
    )

    # Case presentation
    await demo.next(m, "sanne")
    await cases.share_case(rt, sanne, m.id, demo.cases["groningen"], "Anouk Bos, Gemeente Groningen")
    g = "groningen"
    await demo.note(
        m,
        "pieter",
        "Buren vertrouwen buren: een ambassadeur uit de eigen straat komt binnen waar de gemeente niet binnenkomt.",
        "booster",
        case=g,
        key="trust",
    )
    await demo.note(
        m,
        "lotte",
        "Een betaalde coördinator (16 uur per week) houdt de vrijwilligers bij elkaar.",
        "booster",
        case=g,
        key="coordinator",
    )
    await demo.note(
        m,
        "hatice",
        "Bij VvE's duurt een besluit over isolatie maanden; ambassadeurs haken dan af.",
        "barrier",
        case=g,
        key="vve",
    )
    await demo.note(
        m,
        "karin",
        "De meeste mensen in mijn straat huren. Zonder de corporatie aan tafel kun je weinig.",
        "barrier",
        case=g,
        key="tenants",
    )
    await demo.note(
        m,
        "sofie",
        "Herkenbaar uit Gent: het werkt alleen als de buurt de agenda bepaalt, niet het energieloket.",
        "insight",
        case=g,
        key="agenda",
    )
    sellers = await demo.note(
        m, "jeroen", "Hoe voorkom je dat ambassadeurs als verkopers worden gezien?", "question", case=g
    )
    spam = await demo.note(m, "gast", "Goedkope zonnepanelen? Bel 06-12345678, vandaag nog 20% korting!", "idea")
    await notes.moderate(rt, sanne, m.id, spam, "hide")
    # The guest came to sell solar panels: Sanne removes them (the hidden spam stays hidden).
    await participants.remove(rt, sanne, m.id, m.people["gast"].id, "keep")
    # Youssef hides a question by mistake and restores it: the moderation log shows who did what.
    await notes.moderate(rt, youssef, m.id, sellers, "hide")
    await notes.moderate(rt, youssef, m.id, sellers, "restore")
    await notes.moderate(rt, sanne, m.id, m.note_ids["trust"], "pin")
    trust, tenants = "Vertrouwen in de buurt", "Huurders en VvE's"
    for key, cluster in (
        ("trust", trust),
        ("coordinator", trust),
        ("agenda", trust),
        ("vve", tenants),
        ("tenants", tenants),
    ):
        await notes.cluster_note(rt, youssef, m.id, m.note_ids[key], cluster)

    # Brainstorm
    await demo.next(m, "sanne")
    await demo.note(
        m,
        "pieter",
        "In Holtenbroek starten met vijf ambassadeurs, samen met de corporatie, en beginnen bij de huurders.",
        "idea",
        case=g,
        key="holtenbroek",
    )
    await demo.note(
        m,
        "hatice",
        "De corporatie betaalt mee aan de coördinator als haar huurders meedoen.",
        "idea",
        key="corporation",
    )
    await demo.note(
        m,
        "anouk",
        "Een warmte-ontbijt per portiek in plaats van een informatieavond in het buurthuis.",
        "idea",
        key="breakfast",
    )
    await demo.note(
        m,
        "lotte",
        "Studenten van de hogeschool als tijdelijke ambassadeurs in wijken waar nog niemand is.",
        "idea",
        key="students",
    )
    await demo.note(
        m,
        "bakker",
        "Ik ben 78 en wil best isoleren, maar niet weken mensen over de vloer.",
        "barrier",
        proxy_by="sanne",
        key="bakker",
    )
    await demo.note(
        m,
        "sofie",
        "Meet niet alleen geïsoleerde woningen, maar ook of buren elkaar beter kennen.",
        "insight",
        key="measure",
    )

    # Vote
    await demo.next(m, "sanne")
    await votes.open_round(rt, sanne, m.id, 3, "Welke ideeën werken we uit?")
    ballots = {
        "anouk": ["holtenbroek", "breakfast", "corporation"],
        "pieter": ["holtenbroek", "corporation", "students"],
        "lotte": ["students", "holtenbroek", "corporation"],
        "karin": ["corporation", "breakfast"],
        "hatice": ["corporation", "holtenbroek"],
        "sofie": ["holtenbroek", "breakfast", "students"],
    }
    for who, picks in ballots.items():
        for pick in picks:
            await votes.cast(rt, m.people[who], m.note_ids[pick])
    await votes.close_round(rt, sanne, m.id, reveal=True)

    # Reflection
    await demo.next(m, "sanne")
    await demo.note(
        m,
        "pieter",
        "Ik bespreek de aanpak met team Wijkgericht Werken en de corporatie in Zwolle.",
        "action",
        key="pieter_action",
    )
    await demo.note(m, "anouk", "Ik stuur het trainingsmateriaal voor ambassadeurs naar Zwolle.", "action")
    await demo.note(m, "sanne", "Volgende keer: terugkoppeling uit Zwolle, en de casus Rotterdam.", "action")
    await demo.note(m, "karin", "Fijn dat bewoners hier gewoon aan tafel zitten.", "insight")
    m.session = await sessions.close(rt, sanne, m.id)
    m.ran_to = datetime.now(UTC)
    return m


async def _second_meeting(demo: _Demo, community_id: int, when: datetime) -> _Meeting:
    rt, sanne, youssef = demo.rt, demo.accounts["sanne"], demo.accounts["youssef"]
    session = await sessions.create(
        rt,
        youssef,
        {
            "title": "Meeting 2: Deciding together on neighbourhood budgets and streets",
            "description": (
                "European exchange in Rotterdam. Rotterdam shows its neighbourhood agreement, Ghent its "
                "living streets; then we ask who gets a voice in such arrangements, and who is missing."
            ),
            "kind": "learning_community_meeting",
            "community_id": community_id,
            "city": "Rotterdam",
            "language": "en",
            "starts_at": when,
            "agenda": [
                {
                    "title": "Check-in: one thing that changed since the first meeting",
                    "type": "reflection",
                    "minutes": 10,
                    "prompt": "What did you try, hear or change since we last met?",
                },
                {
                    "title": "Case: the Rotterdam neighbourhood agreement",
                    "type": "case_presentation",
                    "minutes": 20,
                    "prompt": "What would make this work, or fail, in your city?",
                },
                {
                    "title": "Case: living streets in Ghent",
                    "type": "case_presentation",
                    "minutes": 20,
                    "prompt": "Boosters and barriers: one per note.",
                },
                {
                    "title": "Who gets a voice, and who is missing?",
                    "type": "discussion",
                    "minutes": 25,
                    "prompt": "Which groups are absent when neighbourhoods decide together? How would you reach them?",
                },
                {
                    "title": "Closing: commitments",
                    "type": "reflection",
                    "minutes": 10,
                    "prompt": "One thing you will do in the next two months.",
                },
            ],
        },
    )
    await sessions.add_facilitator(rt, youssef, session.id, sanne.email)
    m = _Meeting(session, when, ran_from=datetime.now(UTC))
    m.session = await sessions.start(rt, youssef, session.id)
    await demo.join(m, "anouk", "pieter", "mads", "ane", "noor", "thomas", "femke", "ruben", "sofie")

    await demo.note(
        m,
        "pieter",
        "Zwolle is drafting a pilot based on the Groningen ambassadors. Housing association on board!",
        "insight",
    )
    await demo.note(
        m, "mads", "In Aarhus we held walk-and-talks instead of meetings: far more tenants came.", "insight"
    )

    await demo.next(m, "youssef")
    await cases.share_case(rt, youssef, m.id, demo.cases["rotterdam"], "Noor, wijkraad")
    r = "rotterdam"
    await demo.note(m, "thomas", "A real budget of their own makes residents take it seriously.", "booster", case=r)
    await demo.note(
        m, "noor", "As a council member I spend ten hours a week on this, unpaid.", "barrier", case=r, key="overload"
    )
    await demo.note(
        m,
        "femke",
        "Does the city council accept decisions by the neighbourhood council? Who is accountable?",
        "question",
        case=r,
    )
    await demo.note(
        m, "ane", "In Bilbao the planning table works because its mandate is written down.", "insight", case=r
    )

    await demo.next(m, "youssef")
    await cases.share_case(rt, youssef, m.id, demo.cases["gent"], "Sofie Claes, Stad Gent")
    await cases.share_case(rt, youssef, m.id, demo.cases["aarhus"], "Mads Sørensen")
    await demo.note(
        m, "sofie", "The request has to come from residents. The city only coaches.", "booster", case="gent"
    )
    await demo.note(m, "ruben", "Shops at the corner fear losing customers who come by car.", "barrier", case="gent")
    await demo.note(
        m, "mads", "Combine a living street with rain gardens: two problems, one street.", "idea", case="aarhus"
    )

    await demo.next(m, "youssef")
    await demo.note(
        m, "noor", "Young people and newcomers are missing. Meetings at 8 pm don't suit them.", "insight", key="missing"
    )
    await demo.note(
        m,
        "femke",
        "Tenants with little Dutch hardly ever join. Translate, or work with community organisations.",
        "insight",
    )
    await demo.note(
        m,
        "thomas",
        "Antwerp could send two people to follow the Rotterdam neighbourhood council for a month.",
        "idea",
        key="exchange",
    )
    await demo.note(m, "youssef", "Parked: how do we pay residents for their time?", "question")
    await notes.cluster_note(rt, sanne, m.id, m.note_ids["missing"], "Who is missing")

    await demo.next(m, "youssef")
    await demo.note(m, "thomas", "Propose the exchange to my head of department next week.", "action")
    await demo.note(m, "anouk", "Try one walk-and-talk in Paddepoel instead of an information evening.", "action")
    m.session = await sessions.close(rt, youssef, m.id)
    m.ran_to = datetime.now(UTC)
    return m


async def _third_meeting(demo: _Demo, community_id: int) -> _Meeting:
    rt, sanne, youssef = demo.rt, demo.accounts["sanne"], demo.accounts["youssef"]
    now = datetime.now(UTC)
    when = now.replace(minute=(now.minute // 15) * 15, second=0, microsecond=0) - timedelta(minutes=30)
    session = await sessions.create(
        rt,
        sanne,
        {
            "title": "Bijeenkomst 3: Van inspiratie naar eigen praktijk",
            "description": (
                "Zwolle vertelt hoe de Groningse buurtambassadeurs in Holtenbroek zijn overgenomen en wat "
                "er anders moest. Daarna: wat heb je nodig om een praktijk uit een andere stad over te nemen?"
            ),
            "kind": "learning_community_meeting",
            "community_id": community_id,
            "city": "Zwolle",
            "language": "nl",
            "starts_at": when,
            "agenda": [
                {
                    "title": "Terugblik: wat is er sinds de vorige keer gebeurd?",
                    "type": "reflection",
                    "minutes": 10,
                    "prompt": "Noem één ding dat je hebt geprobeerd, gehoord of veranderd.",
                },
                {
                    "title": "Casus: Warm Holtenbroek (Zwolle), geleerd van Groningen",
                    "type": "case_presentation",
                    "minutes": 20,
                    "prompt": "Wat is er aangepast ten opzichte van Groningen, en waarom?",
                },
                {
                    "title": "Wat heb je nodig om een praktijk over te nemen?",
                    "type": "brainstorm",
                    "minutes": 25,
                    "prompt": "Denk aan een praktijk uit een andere stad die je zou willen overnemen. Wat heb je "
                    "nodig: mensen, geld, regels, kennis? Eén idee per briefje.",
                },
                {
                    "title": "Stemronde: onze agenda voor volgend jaar",
                    "type": "voting",
                    "minutes": 10,
                    "prompt": "Je hebt drie stemmen. Waar gaan we als leergemeenschap mee verder?",
                },
                {
                    "title": "Afsluiting en afspraken",
                    "type": "reflection",
                    "minutes": 10,
                    "prompt": "Wat doe jij vóór de volgende bijeenkomst?",
                },
            ],
        },
    )
    await sessions.add_facilitator(rt, sanne, session.id, youssef.email)
    m = _Meeting(session, when)
    m.session = await sessions.start(rt, sanne, session.id)
    await demo.join(m, "pieter", "anouk", "hatice", "daan", "ilse", "mirjam")

    await demo.note(
        m, "anouk", "We hebben in Paddepoel een wandelgesprek geprobeerd: drie keer zoveel huurders.", "insight"
    )
    await demo.note(
        m, "daan", "Utrecht kijkt naar de factsheet met boosters en barrières voor de beweegroute.", "insight"
    )

    await demo.next(m, "sanne")
    await cases.share_case(rt, sanne, m.id, demo.cases["zwolle"], "Pieter van Dam, Gemeente Zwolle")
    z = "zwolle"
    await demo.note(
        m, "hatice", "Dat wij als corporatie meebetalen, maakte huurders minder wantrouwig.", "booster", case=z
    )
    await demo.note(
        m, "mirjam", "Als bewoner werd ik ambassadeur omdat mijn buurvrouw het ook deed.", "booster", case=z
    )
    await demo.note(m, "ilse", "Hoe houden jullie de ambassadeurs vast na de pilot?", "question", case=z)
    await demo.note(m, "pieter", "Eigenaar-bewoners in gemengde complexen blijven achter.", "barrier", case=z)

    await demo.next(m, "sanne")
    await demo.note(m, "daan", "Een collega in de andere stad die je mag bellen als het vastloopt.", "idea")
    await demo.note(m, "ilse", "Budget voor een paar maanden proberen voordat er een beleidsbesluit ligt.", "idea")
    await demo.note(m, "mirjam", "Materiaal in gewone taal dat bewoners zelf kunnen aanpassen.", "idea")
    # From here on notes wait for approval (pre-moderation): Sanne approves one (the moderation log
    # shows it); another waits in the console's queue.
    await sessions.set_premoderation(rt, sanne, m.id, True)
    approved = await demo.note(m, "hatice", "Een buurtbudget dat de ambassadeurs zelf mogen besteden.", "idea")
    await notes.review(rt, sanne, m.id, approved, "approve")
    await demo.note(m, "pieter", "Eén vast aanspreekpunt bij de gemeente voor wie een praktijk overneemt.", "idea")
    return m


# --- moving past meetings back in time -----------------------------------------------------


async def _backdate(rt: Runtime, meeting: _Meeting, *, minutes: int) -> None:
    """Map the meeting's timestamps from when the loader ran it onto its planned date: a start at
    `target` and `minutes` long, order kept. Rows made after it closed keep their time."""
    assert meeting.ran_from is not None and meeting.ran_to is not None
    start, end = meeting.ran_from, meeting.ran_to
    scale = timedelta(minutes=minutes) / max(end - start, timedelta(milliseconds=1))

    planned = meeting.target - timedelta(weeks=3)  # when the facilitator prepared it

    def moved(value: datetime | None) -> datetime | None:
        if value is None or value > end:
            return value
        if value < start:
            return planned + (value - start)
        return meeting.target + (value - start) * scale

    sid = meeting.id
    async with rt.db.write() as db:
        session = await db.get(LabSession, sid)
        assert session is not None
        session.created_at = moved(session.created_at)  # type: ignore[assignment]
        session.started_at, session.closed_at = moved(session.started_at), moved(session.closed_at)
        by_session: list[tuple[Any, list[str]]] = [
            (SessionFacilitator, ["added_at"]),
            (Activity, ["opened_at", "closed_at"]),
            (Participant, ["joined_at"]),
            (Note, ["created_at", "updated_at"]),
            (Cluster, ["created_at"]),
            (VoteRound, ["opened_at", "closed_at", "revealed_at"]),
            (CaseShare, ["shared_at"]),
            (Event, ["at"]),
        ]
        for model, columns in by_session:
            for row in (await db.scalars(select(model).where(model.session_id == sid))).all():
                for column in columns:
                    setattr(row, column, moved(getattr(row, column)))
        people = select(Participant.id).where(Participant.session_id == sid)
        for model, column in ((ConsentRecord, "recorded_at"), (Vote, "created_at")):
            for row in (await db.scalars(select(model).where(model.participant_id.in_(people)))).all():
                setattr(row, column, moved(getattr(row, column)))


# --- after the meetings: outcomes, check-ins answered by their owners, a derived case ------


async def _after_the_meetings(demo: _Demo, m1: _Meeting, m2: _Meeting, community_id: int) -> dict[str, Any]:
    """What the meetings led to. Zwolle adapts the Groningen practice (the outcome, from the
    feedback notes and the case); its owner answers the check-ins through her private link (once
    "in progress", then again: adapted in Zwolle, the earlier answer kept in the log); the
    adaptation becomes a case derived from Groningen's, in one step. Antwerp's exchange with
    Rotterdam has an overdue check-in, a Rotterdam policy change a due one. The meetings are
    already moved back in time, so check-ins fall 1, 3 and 6 months after their real dates."""
    rt, sanne, youssef, marieke = demo.rt, demo.accounts["sanne"], demo.accounts["youssef"], demo.accounts["marieke"]
    first_day = outcomes.session_day(await sessions.get(rt, m1.id))
    second_day = outcomes.session_day(await sessions.get(rt, m2.id))
    await record.write_summary(rt, sanne, m1.id, SUMMARY_1)
    await record.write_summary(rt, youssef, m2.id, SUMMARY_2)

    trace_notes = [m1.note_ids[k] for k in ("trust", "tenants", "holtenbroek", "corporation")]
    tenant_cluster = next(c["id"] for c in await notes.clusters(rt, m1.id) if c["name"] == "Huurders en VvE's")
    adapted = await outcomes.record_outcome(
        rt,
        sanne,
        m1.id,
        {
            "kind": "adapted_practice",
            "title": "Zwolle past de Groningse buurtambassadeurs-aanpak aan voor Holtenbroek",
            "what_changed": (
                "De gemeente Zwolle en de woningcorporatie besloten een pilot met buurtambassadeurs in "
                "Holtenbroek te starten: huurders eerst, de corporatie vanaf het begin aan tafel, en een "
                "coördinator die gemeente en corporatie samen betalen."
            ),
            "who": "Gemeente Zwolle (team Wijkgericht Werken) en de woningcorporatie in Holtenbroek",
            "change_agent": "De leergemeenschap, met de buurtambassadeurs uit Groningen als voorbeeld",
            "when_on": (first_day + timedelta(weeks=11)).isoformat(),
            "where": "Zwolle",
            "significance": (
                "De eerste keer dat een praktijk uit de leergemeenschap in een andere stad wordt "
                "overgenomen, en aangepast aan een wijk waar vooral huurders wonen."
            ),
            "contribution": (
                "De casus uit Groningen en de boosters en barrières uit de eerste bijeenkomst gaven het "
                "ontwerp: beginnen bij huurders (barrière) en de corporatie laten meebetalen (idee dat "
                "in de stemronde hoog eindigde)."
            ),
            "evidence": "Projectplan 'Warm Holtenbroek'; gesprek met de projectleider van de gemeente Zwolle.",
            "verified_by": "Marieke Jansen (onderzoeker)",
            "verified_on": (first_day + timedelta(weeks=12)).isoformat(),
            "owner_name": "Eva Bosman",
            "owner_email": "eva.bosman@zwolle.example",
            "due_on": (first_day + timedelta(weeks=16)).isoformat(),
        },
        {"note_ids": trace_notes, "cluster_ids": [tenant_cluster], "case_ids": [demo.cases["groningen"]]},
    )
    one_month, three_months, _six = (await outcomes.view(rt, sanne, adapted.id)).follow_ups
    await followups.answer(
        rt,
        outcomes.token_of(rt, one_month),
        {
            "progress": "in_progress",
            "what_was_done": "Projectplan geschreven; de corporatie doet mee en betaalt de helft van de coördinator.",
            "evidence": "Projectplan 'Warm Holtenbroek' (versie 0.9).",
        },
    )
    three = outcomes.token_of(rt, three_months)
    await followups.answer(
        rt, three, {"progress": "in_progress", "what_was_done": "Zes ambassadeurs geworven; de training loopt."}
    )
    await followups.answer(
        rt,
        three,
        {
            "progress": "adapted",
            "what_was_done": (
                "De pilot is gestart met zes ambassadeurs (vier huurders, twee eigenaar-bewoners). In de eerste "
                "weken zijn 140 huishoudens gesproken en 38 energiescans aangevraagd."
            ),
            "evidence": "Voortgangsrapportage aan de gemeenteraad; https://zwolle.example/warm-holtenbroek",
            "adopting_city": "Zwolle",
            "adaptations": (
                "Huurders eerst in plaats van eigenaar-bewoners; de corporatie zit vanaf het begin aan tafel; "
                "gemeente en corporatie betalen de coördinator samen (12 uur per week)."
            ),
        },
    )
    view = await outcomes.view(rt, sanne, adapted.id)
    derived = await followups.derive_case(rt, sanne, adapted.id, followups.case_prefill(view) | DERIVED_CASE)
    demo.cases["zwolle"] = derived.id

    # After the second meeting: Antwerp and Rotterdam exchange civil servants (a check-in overdue).
    exchange = await outcomes.record_outcome(
        rt,
        youssef,
        m2.id,
        {
            "kind": "new_collaboration",
            "title": "Antwerpen en Rotterdam wisselen ambtenaren uit rond wijkbudgetten",
            "what_changed": (
                "Twee ambtenaren van Stad Antwerpen lopen een maand mee met de wijkraad in Rotterdam; "
                "daarna komt een Rotterdamse collega naar Antwerpen om te zien hoe de stadsmakelaar werkt."
            ),
            "who": "Stad Antwerpen en Gemeente Rotterdam",
            "change_agent": "De discussie in de tweede bijeenkomst",
            "when_on": (second_day + timedelta(weeks=3)).isoformat(),
            "where": "Antwerpen",
            "significance": "Kennis die in gesprekken blijft hangen wordt zo praktijkervaring: meelopen in plaats van lezen.",
            "contribution": "Het idee ontstond in de discussie 'wie heeft een stem, en wie ontbreekt?'.",
            "evidence": "Uitwisselingsafspraak tussen beide steden.",
            "owner_name": "Thomas Peeters",
            "owner_email": "thomas.peeters@antwerpen.example",
            "follow_up_months": "1, 4",
        },
        {"note_ids": [m2.note_ids["exchange"]], "case_ids": [demo.cases["rotterdam"], demo.cases["antwerpen"]]},
    )
    # And a commitment whose first check-in is due now; its owner has no email: copy the link.
    budget = await outcomes.record_outcome(
        rt,
        youssef,
        m2.id,
        {
            "kind": "policy_change",
            "title": "Rotterdam betaalt wijkraadsleden voor hun tijd",
            "what_changed": "De wijkraad in Rotterdam-Zuid stelt een vergoeding voor wijkraadsleden voor aan de gemeenteraad.",
            "who": "Gemeente Rotterdam, wijkraad Feijenoord",
            "where": "Rotterdam",
            "owner_name": "Karim Bouzid (wijkraad Feijenoord)",
            "due_on": (second_day + timedelta(weeks=12)).isoformat(),
            "follow_up_months": "2, 6",
        },
        {"note_ids": [m2.note_ids["overload"]], "case_ids": [demo.cases["rotterdam"]]},
    )

    # A community-level outcome: no session of its own.
    await outcomes.record_outcome(
        rt,
        marieke,
        None,
        {
            "community_id": community_id,
            "kind": "knowledge_product",
            "title": "Factsheet: boosters en barrières bij het overnemen van wijkpraktijken",
            "what_changed": (
                "De boosters en barrières uit de eerste twee bijeenkomsten zijn gebundeld in een factsheet "
                "die de G32-steden gebruiken bij het starten van nieuwe wijkaanpakken."
            ),
            "who": "Onderzoekers en ambtenaren van de leergemeenschap",
            "when_on": (second_day + timedelta(weeks=5)).isoformat(),
            "significance": "Maakt stilzwijgende kennis uit de bijeenkomsten deelbaar buiten de groep.",
            "contribution": "Gebaseerd op de notities van beide bijeenkomsten.",
            "evidence": "Factsheet (pdf) gedeeld via het stedennetwerk.",
            "follow_up_months": "12",
        },
        {"note_ids": [m1.note_ids["trust"], m2.note_ids["missing"]]},
    )
    states: dict[str, list[int]] = {}
    for outcome_id in (adapted.id, exchange.id, budget.id):
        for f in (await outcomes.view(rt, sanne if outcome_id == adapted.id else youssef, outcome_id)).follow_ups:
            states.setdefault(followups.state_of(f), []).append(f.id)
    return {"outcome_id": adapted.id, "follow_up_id": three_months.id, "follow_ups": states}


SUMMARY_1 = (
    "Groningen deelde de aanpak met buurtambassadeurs voor de warmtetransitie. De groep zag vertrouwen "
    "als de grootste booster (bekende gezichten uit de wijk) en de verdeling tussen huurders, VvE's en "
    "eigenaar-bewoners als de grootste barrière.\n\n"
    "Zwolle wil de aanpak in Holtenbroek proberen, met huurders voorop en de corporatie vanaf het begin aan "
    "tafel. Afgesproken: Groningen stuurt het trainingsmateriaal; de volgende bijeenkomst koppelt Zwolle terug."
)
SUMMARY_2 = (
    "Rotterdam en Antwerpen vergeleken hun wijkbudgetten. Een eigen budget maakt bewoners serieus, maar "
    "wijkraadsleden werken vele uren onbetaald en jongeren en nieuwkomers ontbreken.\n\n"
    "Afgesproken: een uitwisseling van ambtenaren tussen beide steden, en Rotterdam onderzoekt een vergoeding "
    "voor wijkraadsleden."
)
