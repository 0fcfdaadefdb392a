"""Checks for values from forms and JSON, shared by every service. Messages are catalog ids with
%(name)s values, so pages show them in the reader's language (labs.errors.Text)."""

from __future__ import annotations

import enum
from typing import Any, TypeVar

from labs.errors import Invalid

E = TypeVar("E", bound=enum.Enum)


def text(value: Any, field: str, label: str, limit: int, *, required: bool = False) -> str:
    """Trimmed text of at most `limit` characters; `label` (marked with N_) names it in messages."""
    result = str(value or "").strip()
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


def integer(value: Any, field: str) -> int:
    try:
        if isinstance(value, bool):
            raise ValueError
        return int(value)
    except (TypeError, ValueError):
        raise Invalid("%(field)s must be a number.", {field: "Must be a number."}, field=field) from None
