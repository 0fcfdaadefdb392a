"""Checks for values from forms and JSON, shared by every service. Messages are catalog ids with
%(name)s values, so pages show them in the reader's language (labs.errors.Text)."""

from __future__ import annotations

import enum
import math
from datetime import date, datetime
from typing import Any, TypeVar

from labs.errors import Invalid

E = TypeVar("E", bound=enum.Enum)

# Ids and counters are 32-bit integers in PostgreSQL (SQLite stops at 64 bits): a larger number
# names nothing and is refused here rather than by the database.
LARGEST = 2**31 - 1


def text(value: Any, field: str, label: str, limit: int, *, required: bool = False) -> str:
    """Trimmed text of at most `limit` characters, without NUL; `label` (marked with N_) names it
    in messages."""
    result = str(value or "").strip()
    if "\x00" in result:
        # No text column of PostgreSQL can hold a NUL character (and nobody types one).
        raise Invalid("%(label)s contains a NUL character.", {field: "Remove the NUL character."}, label=label)
    if required and not result:
        raise Invalid("%(label)s is required.", {field: "%(label)s is required."}, label=label)
    if len(result) > limit:
        raise Invalid(
            "%(label)s is longer than %(limit)s characters.",
            {field: "At most %(limit)s characters."},
            label=label,
            limit=limit,
        )
    return result


def choice(enum_cls: type[E], value: Any, field: str) -> E:
    try:
        return enum_cls(value)
    except ValueError:
        allowed = ", ".join(str(m.value) for m in enum_cls)
        raise Invalid(
            "Unknown %(field)s %(value)r; allowed: %(allowed)s.",
            {field: "Choose one of: %(allowed)s."},
            field=field,
            value=value,
            allowed=allowed,
        ) from None


def flag(value: Any, field: str) -> bool:
    """A yes/no: JSON true/false, or a form's checkbox ("1", "on"; absent or "" is no)."""
    if isinstance(value, bool):
        return value
    text = str(value if value is not None else "").strip().lower()
    if text in ("", "0", "off", "false", "no"):
        return False
    if text in ("1", "on", "true", "yes"):
        return True
    raise Invalid("%(field)s must be true or false.", {field: "Yes or no."}, field=field)


def integer(value: Any, field: str) -> int:
    try:
        if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
            raise ValueError
        result = int(value)
    except (TypeError, ValueError, OverflowError):
        raise Invalid("%(field)s must be a number.", {field: "Must be a number."}, field=field) from None
    if not -LARGEST <= result <= LARGEST:
        raise Invalid(
            "%(field)s is out of range (at most %(largest)s).", {field: "Out of range."}, field=field, largest=LARGEST
        )
    return result


def number(value: Any, field: str, *, required: bool = False) -> float | None:
    """A finite decimal number; empty is None unless required."""
    if value in (None, ""):
        if required:
            raise Invalid("%(field)s is required.", {field: "Give a number."}, field=field)
        return None
    try:
        if isinstance(value, bool):
            raise ValueError
        result = float(str(value).strip().replace(",", ".")) if isinstance(value, str) else float(value)
    except (TypeError, ValueError):
        raise Invalid("%(field)s must be a number.", {field: "Must be a number."}, field=field) from None
    if not math.isfinite(result):
        raise Invalid("%(field)s must be a number.", {field: "Must be a number."}, field=field)
    return result


def day(value: Any, field: str, label: str, *, required: bool = False) -> date | None:
    """A calendar date (YYYY-MM-DD, as a date input sends it)."""
    if value in (None, ""):
        if required:
            raise Invalid("%(label)s is required.", {field: "Give a date (YYYY-MM-DD)."}, label=label)
        return None
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value).strip())
    except ValueError:
        raise Invalid(
            "%(label)s must be a date (YYYY-MM-DD), not %(value)r.",
            {field: "Give a date (YYYY-MM-DD)."},
            label=label,
            value=str(value),
        ) from None


def email(value: Any, field: str, label: str) -> str | None:
    """An optional email address: something@domain, at most 254 characters, lower-cased domain."""
    result = text(value, field, label, 254)
    if not result:
        return None
    local, at, domain = result.rpartition("@")
    if not at or not local or "." not in domain or any(ch.isspace() for ch in result):
        raise Invalid(
            "%(label)s is not an email address.", {field: "An email address, e.g. name@example.org."}, label=label
        )
    return f"{local}@{domain.lower()}"
