"""The case library as CSV: what `labs cases export` writes and `labs cases import` reads, so that
an export imported into an empty database gives the same cases.

Reading streams the file and checks every row before anything is written; a file-level problem
(not UTF-8, wrong columns, more than MAX_ROWS rows) stops it with one clear message, and bad rows
are each reported with their line number and reason."""

from __future__ import annotations

import csv
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import IO, Any

from labs.errors import Invalid
from labs.models import Case, CaseStatus
from labs.services.cases import field_problems

COLUMNS = (
    "title",
    "summary",
    "city",
    "country",
    "sdgs",
    "topics",
    "stage",
    "organisation",
    "links",
    "boosters",
    "barriers",
    "status",
)
REQUIRED = ("title", "city", "country")
# One import is one transaction: bounded, so it neither holds the write lock for minutes nor
# builds an unbounded list in memory. Larger libraries come in several files.
MAX_ROWS = 20_000
LIST_SEPARATOR = ";"  # within sdgs and topics (topics cannot hold one); links are separated by spaces


class CsvProblem(Invalid):
    """The file as a whole cannot be imported; nothing was written."""


@dataclass
class RowError:
    line: int
    reason: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.reason}"


@dataclass
class Checked:
    rows: list[dict[str, Any]] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)


def row_of(case: Case) -> dict[str, str]:
    return {
        "title": case.title,
        "summary": case.summary,
        "city": case.city,
        "country": case.country,
        "sdgs": LIST_SEPARATOR.join(str(n) for n in case.sdgs or []),
        "topics": LIST_SEPARATOR.join(case.topics or []),
        "stage": case.stage.value,
        "organisation": case.organisation or "",
        "links": " ".join(case.links or []),
        "boosters": case.boosters,
        "barriers": case.barriers,
        "status": case.status.value,
    }


def write_header(out: IO[str]) -> csv.DictWriter[str]:
    writer = csv.DictWriter(out, fieldnames=COLUMNS, lineterminator="\n")
    writer.writeheader()
    return writer


def _header(names: list[str]) -> list[str]:
    names = [n.strip().lower() for n in names]
    unknown = [n for n in names if n not in COLUMNS]
    missing = [n for n in REQUIRED if n not in names]
    twice = sorted({n for n in names if names.count(n) > 1})
    if unknown or missing or twice:
        parts = []
        if missing:
            parts.append("missing " + ", ".join(missing))
        if unknown:
            parts.append("unknown " + ", ".join(repr(n) for n in unknown))
        if twice:
            parts.append("repeated " + ", ".join(twice))
        raise CsvProblem(
            "Wrong columns (%(problems)s). The first line must name the columns; allowed: %(allowed)s "
            "(required: %(required)s).",
            problems="; ".join(parts),
            allowed=", ".join(COLUMNS),
            required=", ".join(REQUIRED),
        )
    return names


def _row(values: dict[str, str]) -> tuple[dict[str, Any] | None, list[str]]:
    fields, problems = field_problems(values)
    reasons = [f"{name}: {p.message}" for p in problems for name in list(p.field_errors)[:1]]
    try:
        status = CaseStatus(values.get("status") or "published")
        if status not in (CaseStatus.published, CaseStatus.archived):
            raise ValueError
    except ValueError:
        reasons.append(f"status: {values.get('status')!r} is not published or archived")
        status = CaseStatus.published
    if reasons:
        return None, reasons
    return {**fields, "status": status}, []


def _lines(binary: IO[bytes]) -> Iterator[str]:
    """The file's text lines, decoded one by one so that bytes that are not UTF-8 are reported
    with their line number (a UTF-8 character never contains the newline byte)."""
    for number, raw in enumerate(binary, 1):
        try:
            line = raw.decode("utf-8-sig" if number == 1 else "utf-8")
        except UnicodeDecodeError:
            raise CsvProblem(
                "The file is not UTF-8 text (near line %(line)s). Save it as CSV UTF-8 and import it again.",
                line=number,
            ) from None
        yield line


def read(binary: IO[bytes], progress: Callable[[int], None] | None = None) -> Checked:
    """Check every row of a CSV file (streamed). Raises CsvProblem for the file as a whole."""
    counter = _Counter(_lines(binary), progress)
    reader = csv.reader(counter)
    checked = Checked()
    try:
        try:
            header = _header(next(reader))
        except StopIteration:
            raise CsvProblem("The file is empty; its first line must name the columns.") from None
        count = 0
        while True:
            start = counter.lines + 1
            try:
                values = next(reader)
            except StopIteration:
                break
            if not any(v.strip() for v in values):
                continue
            count += 1
            if count > MAX_ROWS:
                raise CsvProblem(
                    "The file has more than %(limit)s cases; import at most %(limit)s per file (split it).",
                    limit=f"{MAX_ROWS:,}",
                )
            if len(values) != len(header):
                checked.errors.append(RowError(start, f"{len(values)} fields where the header has {len(header)}"))
                continue
            row, reasons = _row(dict(zip(header, values, strict=True)))
            if row is None:
                checked.errors.append(RowError(start, "; ".join(reasons)))
            else:
                checked.rows.append(row)
    except csv.Error as e:
        raise CsvProblem(
            "The file is not valid CSV (line %(line)s: %(error)s).", line=counter.lines, error=str(e)
        ) from None
    return checked


class _Counter:
    """Counts lines (for row numbers) and bytes (for the progress bar) as the reader pulls them."""

    def __init__(self, lines: Iterable[str], progress: Callable[[int], None] | None) -> None:
        self._lines = iter(lines)
        self._progress = progress
        self.lines = 0

    def __iter__(self) -> _Counter:
        return self

    def __next__(self) -> str:
        line = next(self._lines)
        self.lines += 1
        if self._progress:
            self._progress(len(line.encode()))
        return line
