"""The case-library part of `labs demo`: more cases from European and other cities (SDGs, topics,
every stage, one archived), a second adoption (a case derived from a shared one through an
outcome, visible on both case pages), and two projects sent through "Share a project": one waiting
in the review queue, one rejected."""

from __future__ import annotations

from typing import Any

from labs.models import Account
from labs.runtime import Runtime
from labs.services import cases, outcomes

MORE_CASES: list[dict[str, Any]] = [
    {
        "title": "Superblocks: streets returned to people",
        "summary": "Nine city blocks form one superblock: through traffic goes around it, the inner streets "
        "become squares with trees, benches and play space.",
        "city": "Barcelona",
        "country": "ES",
        "sdgs": [3, 11, 13],
        "topics": ["mobility", "public space", "health"],
        "stage": "scaled",
        "organisation": "Ajuntament de Barcelona",
        "links": ["https://www.barcelona.cat/"],
        "boosters": "Tactical urbanism first (paint and planters), permanent works later; data on noise and air.",
        "barriers": "Opposition from shop owners at the start; traffic pushed to the edge streets.",
    },
    {
        "title": "Tiny forests on school grounds",
        "summary": "Pupils, parents and a nature organisation plant a dense forest the size of a tennis court "
        "next to the school and use it for lessons.",
        "city": "Zaandam",
        "country": "NL",
        "sdgs": [4, 13, 15],
        "topics": ["groen", "onderwijs", "klimaatadaptatie"],
        "stage": "implemented",
        "organisation": "IVN Natuureducatie",
        "boosters": "Children as owners; a small, visible result within a year.",
        "barriers": "Maintenance in the summer holidays.",
    },
    {
        "title": "Energiecoaches in de wijk",
        "summary": "Vrijwillige energiecoaches helpen huishoudens met een laag inkomen hun energierekening "
        "te verlagen: kleine maatregelen, uitleg over de rekening, hulp bij regelingen.",
        "city": "Tilburg",
        "country": "NL",
        "sdgs": [1, 7],
        "topics": ["energiearmoede", "warmtetransitie", "bewonersparticipatie"],
        "stage": "scaled",
        "organisation": "Gemeente Tilburg met ContourdeTwern",
        "boosters": "Coaches uit de buurt; samenwerking met de schuldhulp.",
        "barriers": "Wantrouwen bij huishoudens die al vaak zijn teleurgesteld.",
    },
    {
        "title": "Participatory budgeting online and on the street",
        "summary": "Residents propose and vote on projects for 5% of the city's investment budget, online and "
        "at pop-up stands in every district.",
        "city": "Lisboa",
        "country": "PT",
        "sdgs": [11, 16],
        "topics": ["participatie", "wijkbudget", "lokale democratie"],
        "stage": "scaled",
        "organisation": "Câmara Municipal de Lisboa",
        "boosters": "Clear rules and a public tracker of every winning project.",
        "barriers": "Low turnout in the poorest districts until the pop-up stands came.",
    },
    {
        "title": "Heat plan for elderly residents",
        "summary": "On heat-wave days, neighbours and home-care workers call or visit elderly people living "
        "alone; cool rooms open in community centres.",
        "city": "Paris",
        "country": "FR",
        "sdgs": [3, 11, 13],
        "topics": ["hittestress", "ouderen", "eenzaamheid"],
        "stage": "implemented",
        "organisation": "Ville de Paris",
        "boosters": "A register people sign up to in spring; the same callers every year.",
        "barriers": "Reaching people who are not on any register.",
    },
    {
        "title": "Repair cafés in the public library",
        "summary": "Every Saturday volunteers repair appliances, clothes and bicycles with visitors in the "
        "library; the library lends tools.",
        "city": "Malmö",
        "country": "SE",
        "sdgs": [12],
        "topics": ["circular economy", "libraries"],
        "stage": "implemented",
        "boosters": "A free, warm, accessible place everyone already knows.",
        "barriers": "Spare parts; liability questions.",
    },
    {
        "title": "Rainwater squares",
        "summary": "Squares that are sports fields or playgrounds on dry days and hold rainwater after a "
        "cloudburst, slowly releasing it to the soil.",
        "city": "Rotterdam",
        "country": "NL",
        "sdgs": [6, 11, 13],
        "topics": ["klimaatadaptatie", "water", "public space"],
        "stage": "scaled",
        "organisation": "Gemeente Rotterdam",
        "boosters": "Designing with residents and the water board together.",
        "barriers": "Cleaning after a storm; explaining why the square is sometimes wet.",
    },
    {
        "title": "Informal settlement upgrading with residents' maps",
        "summary": "Residents map their own neighbourhood (paths, water points, flooding) with phones; the "
        "maps steer the city's upgrading works.",
        "city": "Nairobi",
        "country": "KE",
        "sdgs": [6, 11, 17],
        "topics": ["data", "participatie", "housing"],
        "stage": "pilot",
        "organisation": "Muungano wa Wanavijiji with the county",
        "boosters": "Maps made by residents are trusted by residents.",
        "barriers": "Land tenure questions stall works.",
    },
    {
        "title": "Cargo-bike sharing for shops",
        "summary": "Small shops share electric cargo bikes for deliveries in the old town, booked by app.",
        "city": "Freiburg",
        "country": "DE",
        "sdgs": [9, 11],
        "topics": ["mobility", "logistics"],
        "stage": "ended",
        "boosters": "A subsidy for the first two years.",
        "barriers": "Ended when the subsidy stopped: the bookings did not cover the maintenance.",
    },
    {
        "title": "Woningdelen voor jongeren en ouderen",
        "summary": "Ouderen met een te groot huis verhuren een kamer aan een student, die in ruil een paar "
        "uur per week helpt.",
        "city": "Deventer",
        "country": "NL",
        "sdgs": [10, 11],
        "topics": ["wonen", "ouderen", "eenzaamheid"],
        "stage": "idea",
        "organisation": "Humanitas",
        "barriers": "Huurtoeslag en AOW-regels maken het ingewikkeld.",
    },
]
# Kept on record, out of the library's lists.
ARCHIVED = {
    "title": "Smart lampposts pilot",
    "summary": "Lampposts with sensors for traffic, air quality and noise, tested in one street.",
    "city": "Eindhoven",
    "country": "NL",
    "sdgs": [9, 11],
    "topics": ["data", "smart city"],
    "stage": "ended",
    "barriers": "Residents worried about cameras; the data was hardly used.",
}
PENDING = {
    "title": "Community kitchens in vacant shops",
    "summary": "Empty shop units become kitchens where neighbours cook together twice a week; surplus food "
    "comes from the market.",
    "city": "Bologna",
    "country": "IT",
    "sdgs": ["2", "11", "12"],
    "topics": ["food", "vacancy", "eenzaamheid"],
    "stage": "pilot",
    "boosters": "Shop owners are glad the units are used.",
    "barriers": "Food safety rules for volunteers.",
    "name": "Giulia Rossi",
    "email": "giulia.rossi@example.org",
}
REJECTED = {
    "title": "Buy our parking sensors",
    "summary": "Our company sells parking sensors. Contact sales for a quote.",
    "city": "Amsterdam",
    "country": "NL",
    "stage": "implemented",
    "name": "Sales team",
    "email": "sales@example.com",
}


async def build_library(
    rt: Runtime, curator: Account, reviewer: Account, gent_case_id: int, second_meeting_id: int
) -> dict[str, Any]:
    """More cases, an adoption of the Gent case in Utrecht, and two submissions."""
    added = [await cases.create_case(rt, curator, data) for data in MORE_CASES]
    old = await cases.create_case(rt, curator, ARCHIVED)
    await cases.archive_case(rt, curator, old.id)

    # Utrecht adapts Gent's living streets after the second meeting, and it becomes a case of its own.
    adopted = await outcomes.record_outcome(
        rt,
        reviewer,
        second_meeting_id,
        {
            "kind": "adapted_practice",
            "title": "Utrecht start speelstraten naar het voorbeeld van de Gentse leefstraten",
            "what_changed": "Twee straten in Utrecht-Oost zijn deze zomer zes weken autovrij; bewoners richten ze in.",
            "who": "Gemeente Utrecht en bewoners van twee straten",
            "where": "Utrecht",
            "significance": "De eerste leefstraten buiten België in de leergemeenschap.",
            "contribution": "De casus uit Gent, gedeeld in de tweede bijeenkomst.",
            "evidence": "Collegebesluit en verkeersbesluit.",
        },
        {"case_ids": [gent_case_id]},
    )
    derived = await cases.derive_case(
        rt,
        reviewer,
        gent_case_id,
        adopted.id,
        {
            "title": "Speelstraten in Utrecht-Oost",
            "summary": "Naar het voorbeeld van de Gentse leefstraten: zes weken per zomer autovrij, ingericht door "
            "de bewoners, met een vaste contactpersoon bij de gemeente.",
            "city": "Utrecht",
            "country": "NL",
            "stage": "pilot",
            "boosters": "Het Gentse draaiboek; enthousiaste bewoners die zelf buren benaderden.",
            "barriers": "Parkeerplaatsen elders vinden voor zes weken.",
        },
    )

    waiting = await cases.submit_project(rt, PENDING, "en")
    spam = await cases.submit_project(rt, REJECTED, "nl")
    await cases.reject_submission(rt, reviewer, spam.id, "Advertising, not a project.")
    return {"added": len(added) + 1, "derived_case_id": derived.id, "pending_submission_id": waiting.id}
