"""Form helpers shared by the page handlers."""

from __future__ import annotations

from typing import Any

from litestar import Request
from litestar.datastructures import State


async def form_data(request: Request[Any, Any, State]) -> dict[str, Any]:
    """The posted form as a dict: repeated fields become lists, the CSRF field is dropped."""
    form = await request.form()
    data: dict[str, Any] = {}
    for key in form:
        if key == "_csrf_token":
            continue
        values = form.getall(key)
        data[key] = values if len(values) > 1 else values[0]
    return data


def safe_next(target: str | None, default: str = "/") -> str:
    """Only same-site paths: never redirect to another host after login."""
    if target and target.startswith("/") and not target.startswith("//") and "\\" not in target:
        return target
    return default
