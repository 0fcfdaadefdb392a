"""How fast the case library answers at 10,000 cases: every filter, full-text search, deep pages,
topic suggestions and a case's page, timed through the service functions the pages and the API
call (labs.services.cases), on a fresh SQLite file (as shipped: WAL, synchronous=FULL) and, with
--database-url, on a fresh PostgreSQL database.

The library is filled with `import_cases` (the path of `labs cases import`): one transaction,
one case.created event per case. Cases are made from a fixed seed: titles and summaries from a
vocabulary of urban words, 60 cities in 20 countries, 1 to 3 SDGs, 1 to 4 of 40 topics, a stage.

    .venv/bin/python bench/case_search.py [--cases 10000] [--repeat 25]
    .venv/bin/python bench/case_search.py --database-url postgresql://postgres@127.0.0.1:5432/postgres
"""

from __future__ import annotations

import argparse
import asyncio
import random
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import environment_note, percentile, pg_database

from labs import migrate
from labs.db import Database
from labs.models import CaseStage, CaseStatus
from labs.paging import Page
from labs.runtime import Runtime
from labs.services import cases
from labs.settings import Settings, normalise_db_url

# Urban words people search for, then made-up ones: 2,000 words drawn Zipf-like (the k-th word
# about 1/k as often as the first), so common words are in many cases and rare ones in few.
URBAN = [
    "green",
    "roof",
    "heat",
    "network",
    "district",
    "energy",
    "cooperative",
    "tenants",
    "housing",
    "corporation",
    "street",
    "play",
    "school",
    "garden",
    "rain",
    "water",
    "climate",
    "adaptation",
    "bicycle",
    "mobility",
    "parking",
    "data",
    "platform",
    "citizens",
    "budget",
    "youth",
    "elderly",
    "care",
    "loneliness",
    "health",
    "food",
    "market",
    "circular",
    "waste",
    "repair",
    "shop",
    "library",
    "square",
    "tree",
    "shade",
    "river",
    "bridge",
    "safety",
    "lighting",
    "inclusion",
    "migrants",
    "jobs",
    "training",
    "startup",
    "innovation",
    "warmtetransitie",
    "buurt",
    "bewoners",
    "wijk",
    "zorg",
    "groen",
    "fiets",
    "plein",
    "jongeren",
    "ouderen",
    "wonen",
]
SYLLABLES = ["ka", "ro", "li", "mun", "te", "sa", "vo", "ber", "in", "do", "pa", "gel", "us", "ri", "tan"]
WORDS = URBAN + [a + b + c for a in SYLLABLES for b in SYLLABLES for c in SYLLABLES][: 2000 - len(URBAN)]
WEIGHTS = [1 / rank for rank in range(1, len(WORDS) + 1)]
TOPICS = [f"{a} {b}" for a, b in zip(URBAN[::2], URBAN[1::2], strict=False)][:40]
COUNTRIES = (
    "NL",
    "BE",
    "DE",
    "DK",
    "ES",
    "FR",
    "IT",
    "PT",
    "SE",
    "FI",
    "PL",
    "AT",
    "CZ",
    "IE",
    "GB",
    "CO",
    "BR",
    "KE",
    "IN",
    "ID",
)
PLACES = [("Utrecht", "NL")] + [(f"City{i:02d}", COUNTRIES[i % len(COUNTRIES)]) for i in range(1, 60)]


def words(rng: random.Random, k: int) -> str:
    return " ".join(rng.choices(WORDS, weights=WEIGHTS, k=k))


def make_cases(count: int, seed: int = 7) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    rows = []
    for i in range(count):
        city, country = rng.choice(PLACES)
        rows.append(
            cases.check_fields(
                {
                    "title": " ".join(rng.choices(WORDS, k=rng.randint(3, 7))).capitalize() + f" {i}",
                    "summary": " ".join(rng.choices(WORDS, k=rng.randint(30, 80))),
                    "city": city,
                    "country": country,
                    "sdgs": rng.sample(range(1, 18), rng.randint(1, 3)),
                    "topics": rng.sample(TOPICS, rng.randint(1, 4)),
                    "stage": rng.choice(list(CaseStage)).value,
                    "organisation": f"Organisation {rng.randint(1, 400)}",
                    "boosters": " ".join(rng.choices(WORDS, k=20)),
                    "barriers": " ".join(rng.choices(WORDS, k=20)),
                }
            )
            | {"status": CaseStatus.published}
        )
    return rows


async def timed(fn: Callable[[], Awaitable[Any]], repeat: int) -> tuple[Any, list[float]]:
    result = await fn()  # warm: the first call compiles statements and fills the page cache
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        result = await fn()
        times.append((time.perf_counter() - start) * 1000)
    return result, sorted(times)


async def run(url: str, count: int, repeat: int) -> list[tuple[str, str, str, str]]:
    rt = Runtime(Settings(database_url=url, secret_key="bench", database_pool=True), Database(url))
    rows = make_cases(count)
    start = time.perf_counter()
    await cases.import_cases(rt, rows)
    fill = time.perf_counter() - start
    some_case = (await cases.list_cases(rt, {"city": "Utrecht"})).items[0]
    queries: list[tuple[str, Callable[[], Awaitable[Any]]]] = [
        ("newest, page 1", lambda: cases.list_cases(rt)),
        ("newest, page 200", lambda: cases.list_cases(rt, page=200)),
        ("q=green (the most common word)", lambda: cases.list_cases(rt, {"q": "green"})),
        ("q=warmtetr (a prefix)", lambda: cases.list_cases(rt, {"q": "warmtetr"})),
        ("q=bridge (a rarer word)", lambda: cases.list_cases(rt, {"q": "bridge"})),
        ("q=green roof tenants (3 words)", lambda: cases.list_cases(rt, {"q": "green roof tenants"})),
        ("q=zzzz (no match)", lambda: cases.list_cases(rt, {"q": "zzzz"})),
        ("sdg=11", lambda: cases.list_cases(rt, {"sdg": 11})),
        (f"topic={TOPICS[3]}", lambda: cases.list_cases(rt, {"topic": TOPICS[3]})),
        ("city=utrecht", lambda: cases.list_cases(rt, {"city": "utrecht"})),
        ("country=NL, stage=pilot", lambda: cases.list_cases(rt, {"country": "NL", "stage": "pilot"})),
        ("q=water, sdg=6, stage=scaled", lambda: cases.list_cases(rt, {"q": "water", "sdg": 6, "stage": "scaled"})),
        ("topic suggestions", lambda: cases.topic_suggestions(rt)),
        ("cities and countries", lambda: cases.places(rt)),
        ("a case's page (record)", lambda: cases.case_record(rt, some_case.id)),
    ]
    out = [("fill: import_cases", f"{count:,} cases", f"{fill * 1000:,.0f}", f"{count / fill:,.0f} cases/s")]
    for name, fn in queries:
        result, times = await timed(fn, repeat)
        found = f"{result.total:,}" if isinstance(result, Page) else ""
        out.append((name, found, f"{statistics.median(times):.1f}", f"{percentile(times, 95):.1f}"))
    await rt.db.dispose()
    return out


def print_table(title: str, rows: list[tuple[str, str, str, str]]) -> None:
    print(f"\n{title}\n")
    head = ("query", "matches", "median ms", "p95 ms")
    widths = [max(len(str(r[i])) for r in [head, *rows]) for i in range(4)]
    print("| " + " | ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)) + " |")
    print("|" + "|".join("-" * (w + 2) for w in widths) + "|")
    for r in rows:
        print("| " + " | ".join(str(v).ljust(w) for v, w in zip(r, widths, strict=True)) + " |")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--cases", type=int, default=10_000)
    parser.add_argument("--repeat", type=int, default=25, help="timed runs per query (after one warm-up)")
    parser.add_argument("--database-url", default=None, help="also a fresh database on this PostgreSQL server")
    args = parser.parse_args()
    print(f"Case library at {args.cases:,} cases; {args.repeat} runs per query. {environment_note()}")
    with tempfile.TemporaryDirectory() as tmp:
        url = f"sqlite+aiosqlite:///{tmp}/labs.db"
        migrate.upgrade(url)
        print_table("SQLite (FTS5)", asyncio.run(run(url, args.cases, args.repeat)))
    if args.database_url:
        with pg_database(args.database_url) as plain:
            assert plain
            url = normalise_db_url(plain)
            migrate.upgrade(url)
            print_table("PostgreSQL (GIN full-text index)", asyncio.run(run(url, args.cases, args.repeat)))


if __name__ == "__main__":
    main()
