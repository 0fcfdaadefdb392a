"""`labs cases import` and `labs cases export` through the real entry point: a round trip through
an empty database gives the same cases; bad rows are reported by line with their reason and stop
the import unless --skip-bad-rows; wrong columns, bad encoding and too many rows write nothing."""

from __future__ import annotations

import csv
import io
import sqlite3
from pathlib import Path

import pytest

from labs.services.case_csv import COLUMNS, MAX_ROWS
from tests.test_cli import _env, run, sqlite_path

GOOD = [
    {
        "title": "Buurtambassadeurs",
        "summary": 'Bewoners gaan langs.\nMet een "energiescan", gratis.',
        "city": "Groningen",
        "country": "NL",
        "sdgs": "7;11;13",
        "topics": "warmtetransitie;energiecoöperatie",
        "stage": "implemented",
        "organisation": "Gemeente Groningen",
        "links": "https://example.org/a https://example.org/b",
        "boosters": "Buren, vertrouwen",
        "barriers": "Tijd",
        "status": "published",
    },
    {
        "title": "Leefstraten",
        "summary": "",
        "city": "Gent",
        "country": "BE",
        "sdgs": "3;11",
        "topics": "mobility",
        "stage": "scaled",
        "organisation": "",
        "links": "",
        "boosters": "",
        "barriers": "",
        "status": "archived",
    },
    {
        "title": "Klimaatkvarter",
        "summary": "Regnvand i gaderne",
        "city": "København",
        "country": "DK",
        "sdgs": "",
        "topics": "",
        "stage": "idea",
        "organisation": "",
        "links": "",
        "boosters": "",
        "barriers": "Øre",
        "status": "published",
    },
]


def write_csv(path: Path, rows: list[dict[str, str]], columns: tuple[str, ...] | list[str] = COLUMNS) -> Path:
    with path.open("w", encoding="utf-8", newline="") as fh:
        writer = csv.DictWriter(fh, fieldnames=list(columns), lineterminator="\n")
        writer.writeheader()
        writer.writerows(rows)
    return path


def case_count(env: dict[str, str]) -> int:
    with sqlite3.connect(sqlite_path(env)) as db:
        return int(db.execute('SELECT count(*) FROM "case"').fetchone()[0])


@pytest.fixture
def ready(tmp_path: Path) -> dict[str, str]:
    env = _env(tmp_path / "a")
    assert run(env, "db", "upgrade").returncode == 0
    return env


def test_export_then_import_into_an_empty_database_gives_the_same_cases(ready: dict[str, str], tmp_path: Path) -> None:
    source = write_csv(tmp_path / "in.csv", GOOD)
    imported = run(ready, "cases", "import", str(source))
    assert imported.returncode == 0, imported.stderr
    assert "Imported 3 case(s)" in imported.stdout
    assert "Importing" in imported.stderr  # the progress bar

    first = run(ready, "cases", "export")
    assert first.returncode == 0, first.stderr
    exported = list(csv.DictReader(io.StringIO(first.stdout)))
    assert exported == GOOD  # what went in comes out, oldest first

    other = _env(tmp_path / "b")
    assert run(other, "db", "upgrade").returncode == 0
    (tmp_path / "export.csv").write_text(first.stdout, encoding="utf-8")
    assert run(other, "cases", "import", str(tmp_path / "export.csv")).returncode == 0
    written = run(other, "cases", "export", "-o", str(tmp_path / "again.csv"))
    assert "Exported 3 case(s)" in written.stdout
    assert (tmp_path / "again.csv").read_text(encoding="utf-8") == first.stdout


def test_bad_rows_are_reported_by_line_and_nothing_is_written(ready: dict[str, str], tmp_path: Path) -> None:
    rows = [
        GOOD[0],  # lines 2-3: its summary holds a line break
        {**GOOD[1], "sdgs": "3;18"},  # line 4
        {**GOOD[2], "stage": "finished", "title": ""},  # line 5
        {**GOOD[1], "title": "Fine"},  # line 6
        {**GOOD[1], "country": "Atlantis"},  # line 7
        {**GOOD[1], "status": "submitted"},  # line 8
    ]
    path = write_csv(tmp_path / "bad.csv", rows)
    result = run(ready, "cases", "import", str(path))
    assert result.returncode != 0
    assert "line 4: sdgs: There is no SDG 18" in result.stderr
    assert "line 5: title: The title is required.; stage: Unknown stage 'finished'" in result.stderr
    assert "line 7: country: Unknown country code 'Atlantis'" in result.stderr
    assert "line 8: status: 'submitted' is not published or archived" in result.stderr
    assert "4 bad row(s)" in result.stderr and "nothing was imported" in result.stderr
    assert case_count(ready) == 0

    skipped = run(ready, "cases", "import", "--skip-bad-rows", str(path))
    assert skipped.returncode == 0, skipped.stderr
    assert "Imported 2 case(s)" in skipped.stdout and "skipped 4 bad row(s)" in skipped.stdout
    assert case_count(ready) == 2


def test_wrong_columns_bad_encoding_and_empty_files_are_refused(ready: dict[str, str], tmp_path: Path) -> None:
    wrong = write_csv(tmp_path / "wrong.csv", [{"name": "x", "town": "y"}], ["name", "town"])
    result = run(ready, "cases", "import", str(wrong))
    assert result.returncode != 0
    assert "Wrong columns (missing title, city, country; unknown 'name', 'town')" in result.stderr

    latin = tmp_path / "latin1.csv"
    latin.write_bytes(("title,city,country\nOk,Gent,BE\nCaf\u00e9,K\u00f8ge,DK\n").encode("latin-1"))
    result = run(ready, "cases", "import", str(latin))
    assert result.returncode != 0 and "not UTF-8 text (near line 3)" in result.stderr

    short = tmp_path / "short.csv"
    short.write_text("title,city,country\nOnly two,Gent\n", encoding="utf-8")
    result = run(ready, "cases", "import", str(short))
    assert "line 2: 2 fields where the header has 3" in result.stderr

    empty = tmp_path / "empty.csv"
    empty.write_text("", encoding="utf-8")
    assert "The file is empty" in run(ready, "cases", "import", str(empty)).stderr
    assert case_count(ready) == 0


def test_a_file_over_the_limit_is_refused_whole(ready: dict[str, str], tmp_path: Path) -> None:
    big = tmp_path / "big.csv"
    with big.open("w", encoding="utf-8") as fh:
        fh.write("title,city,country\n")
        for i in range(50_000):
            fh.write(f"Case {i},Utrecht,NL\n")
    result = run(ready, "cases", "import", str(big))
    assert result.returncode != 0
    assert f"more than {MAX_ROWS:,} cases" in result.stderr and "Nothing was imported" in result.stderr
    assert case_count(ready) == 0


def test_import_needs_a_migrated_database(tmp_path: Path) -> None:
    env = _env(tmp_path / "fresh")
    path = write_csv(tmp_path / "in.csv", GOOD)
    result = run(env, "cases", "import", str(path))
    assert result.returncode != 0 and "labs db upgrade" in result.stderr
