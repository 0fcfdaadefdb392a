"""One page of a list: every list on a page or in the API is read a page at a time."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Generic, TypeVar

from sqlalchemy import Select, func, select
from sqlalchemy.ext.asyncio import AsyncSession

from labs.errors import Invalid

T = TypeVar("T")
PER_PAGE = 50
MAX_PER_PAGE = 200


@dataclass(frozen=True)
class Page(Generic[T]):
    items: list[T]
    number: int
    size: int
    total: int

    @property
    def pages(self) -> int:
        return max(1, -(-self.total // self.size))

    @property
    def has_next(self) -> bool:
        return self.number < self.pages

    @property
    def has_previous(self) -> bool:
        return self.number > 1

    def meta(self) -> dict[str, int]:
        """What the API says about the page next to its items."""
        return {"page": self.number, "per_page": self.size, "total": self.total, "pages": self.pages}


def numbers(page: Any, per_page: Any = None) -> tuple[int, int]:
    """Page number (from 1) and size from a query string, checked."""
    try:
        number = int(1 if page in (None, "") else page)
        size = int(PER_PAGE if per_page in (None, "") else per_page)
    except (TypeError, ValueError):
        raise Invalid("page and per_page must be whole numbers.", {"page": "A whole number from 1."}) from None
    if number < 1 or not 1 <= size <= MAX_PER_PAGE:
        raise Invalid(
            "page starts at 1; per_page is between 1 and %(most)s.",
            {"page": "A whole number from 1."},
            most=MAX_PER_PAGE,
        )
    return number, size


async def fetch(db: AsyncSession, query: Select[Any], page: Any = 1, per_page: Any = None) -> Page[Any]:
    """Rows of `query` (ordered by the caller) on one page, with the total count."""
    number, size = numbers(page, per_page)
    total = int(await db.scalar(select(func.count()).select_from(query.order_by(None).subquery())) or 0)
    rows = (await db.execute(query.limit(size).offset((number - 1) * size))).all()
    items = [row[0] if len(row) == 1 else tuple(row) for row in rows]
    return Page(items, number, size, total)


def of(items: list[T], page: Any = 1, per_page: Any = None) -> Page[T]:
    """One page of a list already in memory (a trace, a log, a chart table); a page past the
    end shows the last one."""
    number, size = numbers(page, per_page)
    last = max(1, -(-len(items) // size))
    number = min(number, last)
    return Page(items[(number - 1) * size : number * size], number, size, len(items))
