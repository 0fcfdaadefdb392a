"""The living-lab JSON API (/api/v1/livinglabs): Theory of Change, indicators and measurements,
and the lab's event stream. Bearer tokens of facilitators (changes) and researchers (reading)."""

from __future__ import annotations

from typing import Any

import msgspec
from litestar import Router, get, post

from labs.catalogue import Audience
from labs.events import Stream
from labs.runtime import Runtime
from labs.services import compare, indicators, toc
from labs.web.api import stream_events
from labs.web.auth import Identity
from labs.web.livinglab import _account, editors, staff


class NodeIn(msgspec.Struct):
    kind: str
    title: str
    description: str = ""
    about_id: int | None = None


class LinkIn(msgspec.Struct):
    from_id: int
    to_id: int


class IndicatorIn(msgspec.Struct):
    node_id: int
    name: str
    unit: str
    source: str
    baseline: float
    baseline_on: str
    target: float
    target_on: str
    direction: str = "higher"
    range_min: float | None = None
    range_max: float | None = None


class MeasurementIn(msgspec.Struct):
    value: float
    measured_on: str
    unit: str | None = None
    wave: str | None = None
    note: str = ""


class ImportIn(msgspec.Struct):
    csv: str  # the file's text: the API takes JSON bodies only


class FromPollIn(msgspec.Struct):
    poll_id: int
    option: int | None = None  # choice polls: the option counted from 1
    wave: str | None = None
    measured_on: str | None = None
    note: str = ""


def _dict(data: msgspec.Struct) -> dict[str, Any]:
    return msgspec.to_builtins(data)


@get("/livinglabs", guards=staff, summary="Living labs")
async def list_labs(rt: Runtime) -> list[dict[str, Any]]:
    return [{"id": lab.id, "name": lab.name, "city": lab.city} for lab in await toc.labs(rt)]


@get("/livinglabs/results", guards=staff, summary="Every lab's results, IATI-style (result, indicator, periods)")
async def results(rt: Runtime) -> dict[str, Any]:
    return {"results": await compare.iati(rt)}


@get("/livinglabs/{lab_id:int}/toc", guards=staff, summary="A living lab's Theory of Change")
async def get_toc(rt: Runtime, lab_id: int) -> dict[str, Any]:
    return toc.theory_data(await toc.theory(rt, lab_id))


@post("/livinglabs/{lab_id:int}/toc/nodes", guards=editors, status_code=201, summary="Add an element")
async def add_node(rt: Runtime, identity: Identity, lab_id: int, data: NodeIn) -> dict[str, Any]:
    return toc.node_data(await toc.add_node(rt, _account(identity), lab_id, _dict(data)))


@post("/livinglabs/{lab_id:int}/toc/links", guards=editors, status_code=201, summary="Add a 'leads to' link")
async def add_link(rt: Runtime, identity: Identity, lab_id: int, data: LinkIn) -> dict[str, Any]:
    return toc.link_data(await toc.add_link(rt, _account(identity), lab_id, _dict(data)))


@get("/livinglabs/{lab_id:int}/indicators", guards=staff, summary="Indicators with their measurements")
async def list_indicators(rt: Runtime, lab_id: int) -> list[dict[str, Any]]:
    return [indicators.course_data(c) for c in await indicators.courses(rt, lab_id)]


@post("/livinglabs/{lab_id:int}/indicators", guards=editors, status_code=201, summary="Define an indicator")
async def define(rt: Runtime, identity: Identity, lab_id: int, data: IndicatorIn) -> dict[str, Any]:
    made = await indicators.define(rt, _account(identity), lab_id, data.node_id, _dict(data))
    return indicators.indicator_data(made)


@post(
    "/livinglabs/{lab_id:int}/indicators/{indicator_id:int}/measurements",
    guards=editors,
    status_code=201,
    summary="Record a measurement",
)
async def measure(
    rt: Runtime, identity: Identity, lab_id: int, indicator_id: int, data: MeasurementIn
) -> dict[str, Any]:
    made = await indicators.record(rt, _account(identity), lab_id, indicator_id, _dict(data))
    return indicators.measurement_data(made)


@post(
    "/livinglabs/{lab_id:int}/indicators/{indicator_id:int}/measurements/import",
    guards=editors,
    status_code=201,
    summary='Import measurements from a CSV file\'s text ({"csv"}): all rows or none',
)
async def import_csv(rt: Runtime, identity: Identity, lab_id: int, indicator_id: int, data: ImportIn) -> dict[str, Any]:
    made = await indicators.import_csv(rt, _account(identity), lab_id, indicator_id, data.csv.encode())
    return {"imported": len(made), "measurements": [indicators.measurement_data(m) for m in made]}


@post(
    "/livinglabs/{lab_id:int}/indicators/{indicator_id:int}/measurements/from-poll",
    guards=editors,
    status_code=201,
    summary="Take a closed poll's result as a measurement",
)
async def from_poll(
    rt: Runtime, identity: Identity, lab_id: int, indicator_id: int, data: FromPollIn
) -> dict[str, Any]:
    made = await indicators.from_poll(rt, _account(identity), lab_id, indicator_id, _dict(data))
    return indicators.measurement_data(made)


@get("/livinglabs/{lab_id:int}/events", guards=staff, summary="The lab's events after seq N (its history)")
async def lab_events(rt: Runtime, lab_id: int, after: int = 0, limit: int = 1000) -> dict[str, Any]:
    async with rt.db.read() as db:
        await toc.load_lab(db, lab_id)
    return await stream_events(rt, Stream.community(lab_id), after, limit, Audience.researcher)


routes: list[Any] = [
    Router(
        path="/api/v1",
        route_handlers=[
            list_labs,
            results,
            get_toc,
            add_node,
            add_link,
            list_indicators,
            define,
            measure,
            import_csv,
            from_poll,
            lab_events,
        ],
    )
]
