"""The trace researchers cite: shared case -> session -> feedback notes and clusters -> outcomes ->
follow-ups -> practice adopted in another city -> derived case (and on, where that case is shared
again), for a case, a session or a community.

`trace` builds it as a graph of nodes and edges, limited to the sessions the account may study
(labs.services.grants) and leaving out hidden and deleted notes and notes of participants who
chose no research use. The page draws it (labs.web.lineage_svg), lists it by date, and offers it as
GraphML (`graphml`) and W3C PROV-JSON (`prov_json`). No person is ever a node: notes are content,
cities and organisations are the agents."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import date, datetime, time
from typing import Any
from xml.etree import ElementTree as ET

from sqlalchemy import or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from labs import consent, paging
from labs.models import (
    Account,
    Case,
    CaseShare,
    Cluster,
    Community,
    FollowUp,
    FollowUpStatus,
    LabSession,
    Note,
    NoteApproval,
    Outcome,
    OutcomeSource,
    Participant,
)
from labs.runtime import Runtime
from labs.services import grants
from labs.services.grants import Scope

# Node kinds in the order a trace runs; the page's legend follows it.
KINDS = ("case", "session", "note", "cluster", "outcome", "follow_up", "adoption")
ADOPTED = ("adopted", "adapted", "scaled")
LABEL_LIMIT = 80


@dataclass
class Node:
    key: str  # "<kind>:<id>"
    kind: str
    label: str
    at: datetime | None
    city: str | None = None
    href: str | None = None
    detail: str = ""
    derived: bool = False  # a case that grew from an adopted practice


@dataclass(frozen=True)
class Edge:
    source: str
    target: str
    # shared_in, produced, feedback_on, grouped_in, source_of, led_to, checked_by, adopted_as,
    # became, derived_into
    relation: str


@dataclass
class Graph:
    root: str
    title: str
    nodes: dict[str, Node] = field(default_factory=dict)
    edges: list[Edge] = field(default_factory=list)

    def add(self, node: Node) -> Node:
        return self.nodes.setdefault(node.key, node)

    def link(self, source: str, target: str, relation: str) -> None:
        edge = Edge(source, target, relation)
        if source in self.nodes and target in self.nodes and edge not in self.edges:
            self.edges.append(edge)

    def dated(self) -> list[Node]:
        """Every node by date (undated last), the order of the list beside the picture."""
        far = datetime.max.replace(tzinfo=None)
        return sorted(self.nodes.values(), key=lambda n: (_naive(n.at) or far, KINDS.index(n.kind), n.key))

    def hrefs(self) -> dict[str, str]:
        """Where each node leads: its own page, or for a node that lives only in the dated list
        (an anchor), the page of that list that holds it (the page shows PER_PAGE at a time)."""
        found = {}
        for index, node in enumerate(self.dated()):
            href = node.href or ""
            if href.startswith("#"):
                href = f"?page={index // paging.PER_PAGE + 1}{href}"
            found[node.key] = href
        return found

    def sources_of(self, key: str) -> list[tuple[str, Node]]:
        return [(e.relation, self.nodes[e.source]) for e in self.edges if e.target == key]


def _naive(value: datetime | None) -> datetime | None:
    return value.replace(tzinfo=None) if value is not None else None


def _when(value: date | datetime | None) -> datetime | None:
    if value is None or isinstance(value, datetime):
        return value
    return datetime.combine(value, time(12, 0))


def _short(text: str) -> str:
    text = " ".join((text or "").split())
    return text if len(text) <= LABEL_LIMIT else text[: LABEL_LIMIT - 1].rstrip() + "…"


class _Tracer:
    def __init__(self, db: AsyncSession, scope: Scope, graph: Graph) -> None:
        self.db, self.scope, self.graph = db, scope, graph
        self.cases_done: set[int] = set()
        self.sessions_done: set[tuple[int, int | None]] = set()

    # --- nodes ----------------------------------------------------------------------------

    def case_node(self, case: Case) -> Node:
        return self.graph.add(
            Node(
                f"case:{case.id}",
                "case",
                case.title,
                case.created_at,
                city=case.city,
                href=f"/research/cases/{case.id}/lineage",
                detail=_short(case.summary),
                derived=case.derived_from_id is not None,
            )
        )

    def session_node(self, session: LabSession) -> Node:
        return self.graph.add(
            Node(
                f"session:{session.id}",
                "session",
                session.title,
                session.started_at or session.starts_at or session.created_at,
                city=session.city,
                href=f"/research/sessions/{session.id}/lineage",
            )
        )

    # --- walking --------------------------------------------------------------------------

    async def case(self, case: Case) -> None:
        """A case, every session in scope it was shared in, and what followed from it there."""
        self.case_node(case)
        if case.id in self.cases_done:
            return
        self.cases_done.add(case.id)
        shares = await self.db.scalars(
            select(LabSession)
            .join(CaseShare, CaseShare.session_id == LabSession.id)
            .where(CaseShare.case_id == case.id, self.scope.session_filter(LabSession.id))
            .order_by(CaseShare.shared_at)
        )
        for session in shares.unique().all():
            self.session_node(session)
            self.graph.link(f"case:{case.id}", f"session:{session.id}", "shared_in")
            await self.session(session, focus=case.id)

    async def session(self, session: LabSession, focus: int | None = None) -> None:
        """A session's part of the trace. With `focus` (a case id) only what concerns that case:
        its feedback notes and the outcomes it inspired; without, every outcome of the session."""
        if (session.id, focus) in self.sessions_done:
            return
        self.sessions_done.add((session.id, focus))
        here = self.session_node(session).key
        shared = list(
            (
                await self.db.scalars(
                    select(Case).join(CaseShare, CaseShare.case_id == Case.id).where(CaseShare.session_id == session.id)
                )
            )
            .unique()
            .all()
        )
        if focus is None:
            for case in shared:
                self.case_node(case)
                self.graph.link(f"case:{case.id}", here, "shared_in")
        about = [focus] if focus is not None else [c.id for c in shared]
        outcomes = await self._outcomes(session.id, focus)
        source_notes, source_clusters = await self._sources(outcomes)
        notes = await self._notes(session.id, about, source_notes)
        for note in notes:
            self.graph.add(
                Node(
                    f"note:{note.id}",
                    "note",
                    _short(note.body),
                    note.created_at,
                    href=f"/research/sessions/{session.id}/replay?note={note.id}#note-{note.id}",
                    detail=note.kind.value,
                )
            )
            self.graph.link(here, f"note:{note.id}", "produced")
            if note.case_id is not None:
                self.graph.link(f"case:{note.case_id}", f"note:{note.id}", "feedback_on")
        cluster_ids = {n.cluster_id for n in notes if n.cluster_id is not None} | source_clusters
        if cluster_ids:
            clusters = await self.db.scalars(
                select(Cluster).where(Cluster.id.in_(cluster_ids), Cluster.session_id == session.id)
            )
            for cluster in clusters.all():
                self.graph.add(
                    Node(
                        f"cluster:{cluster.id}",
                        "cluster",
                        cluster.name,
                        cluster.created_at,
                        href=f"/research/sessions/{session.id}/replay#cluster-{cluster.id}",
                    )
                )
                self.graph.link(here, f"cluster:{cluster.id}", "produced")
        for note in notes:
            if note.cluster_id is not None:
                self.graph.link(f"note:{note.id}", f"cluster:{note.cluster_id}", "grouped_in")
        for outcome, sources in outcomes:
            await self.outcome(outcome, sources, city=session.city)
            self.graph.link(here, f"outcome:{outcome.id}", "led_to")

    async def _outcomes(self, session_id: int, focus: int | None) -> list[tuple[Outcome, list[OutcomeSource]]]:
        found = list(
            (await self.db.scalars(select(Outcome).where(Outcome.session_id == session_id).order_by(Outcome.id))).all()
        )
        result = []
        for outcome in found:
            sources = list(
                (await self.db.scalars(select(OutcomeSource).where(OutcomeSource.outcome_id == outcome.id))).all()
            )
            if focus is None or await self._concerns(outcome, sources, focus):
                result.append((outcome, sources))
        return result

    async def _concerns(self, outcome: Outcome, sources: list[OutcomeSource], case_id: int) -> bool:
        """An outcome belongs to a case's trace when the case, a note about it, or a cluster with
        such a note is among its sources, or a case was derived from it."""
        if any(s.case_id == case_id for s in sources):
            return True
        note_ids = [s.note_id for s in sources if s.note_id is not None]
        cluster_ids = [s.cluster_id for s in sources if s.cluster_id is not None]
        about = select(Note.id).where(
            Note.case_id == case_id, or_(Note.id.in_(note_ids), Note.cluster_id.in_(cluster_ids))
        )
        if await self.db.scalar(about.limit(1)) is not None:
            return True
        return await self.db.scalar(select(Case.id).where(Case.from_outcome_id == outcome.id).limit(1)) is not None

    async def _sources(self, outcomes: list[tuple[Outcome, list[OutcomeSource]]]) -> tuple[set[int], set[int]]:
        notes = {s.note_id for _, sources in outcomes for s in sources if s.note_id is not None}
        clusters = {s.cluster_id for _, sources in outcomes for s in sources if s.cluster_id is not None}
        return notes, clusters

    async def _notes(self, session_id: int, about: list[int], also: set[int]) -> list[Note]:
        """Feedback on the cases in view, and the notes outcomes came from; never hidden or deleted
        notes, nor notes of participants who chose no research use."""
        if not about and not also:
            return []
        query = (
            select(Note)
            .outerjoin(Participant, Participant.id == Note.participant_id)
            .where(
                Note.session_id == session_id,
                Note.hidden.is_(False),
                Note.approval == NoteApproval.approved,
                Note.deleted.is_(False),
                or_(Note.participant_id.is_(None), consent.counted()),
                or_(Note.case_id.in_(about), Note.id.in_(also)),
            )
            .order_by(Note.created_at, Note.id)
        )
        return list((await self.db.scalars(query)).all())

    async def outcome(self, outcome: Outcome, sources: list[OutcomeSource], city: str | None = None) -> None:
        key = f"outcome:{outcome.id}"
        self.graph.add(
            Node(
                key,
                "outcome",
                outcome.title,
                _when(outcome.when_on) or outcome.created_at,
                city=outcome.where,
                href=f"#node-outcome-{outcome.id}",
                detail=outcome.kind.value,
            )
        )
        for s in sources:
            if s.note_id is not None:
                self.graph.link(f"note:{s.note_id}", key, "source_of")
            if s.cluster_id is not None:
                self.graph.link(f"cluster:{s.cluster_id}", key, "source_of")
            if s.case_id is not None:
                case = await self.db.get(Case, s.case_id)
                if case is not None:
                    self.case_node(case)
                    self.graph.link(f"case:{case.id}", key, "source_of")
        last = key
        # Check-ins that were answered: what the owner reported (planned ones have nothing to trace yet).
        answered = select(FollowUp).where(FollowUp.outcome_id == outcome.id, FollowUp.status == FollowUpStatus.answered)
        for follow_up in (await self.db.scalars(answered.order_by(FollowUp.due_on))).all():
            fkey = f"follow_up:{follow_up.id}"
            progress = follow_up.progress.value if follow_up.progress else ""
            self.graph.add(
                Node(
                    fkey,
                    "follow_up",
                    _short(follow_up.findings) or progress,
                    follow_up.done_at or _when(follow_up.due_on),
                    href=f"#node-follow_up-{follow_up.id}",
                    detail=progress,
                )
            )
            self.graph.link(key, fkey, "checked_by")
            adoption = _adoption(follow_up)
            if adoption is not None:
                akey = f"adoption:{follow_up.id}"
                self.graph.add(
                    Node(
                        akey,
                        "adoption",
                        adoption,
                        follow_up.done_at,
                        city=adoption,
                        href=f"#node-adoption-{follow_up.id}",
                    )
                )
                self.graph.link(fkey, akey, "adopted_as")
                last = akey
        derived = list((await self.db.scalars(select(Case).where(Case.from_outcome_id == outcome.id))).all())
        if last == key and derived and outcome.where and outcome.where != city:
            # No check-in said where it was adopted: the outcome's own "where" does.
            akey = f"adoption:o{outcome.id}"
            self.graph.add(
                Node(
                    akey,
                    "adoption",
                    outcome.where,
                    _when(outcome.when_on),
                    city=outcome.where,
                    href=f"#node-adoption-o{outcome.id}",
                )
            )
            self.graph.link(key, akey, "adopted_as")
            last = akey
        for case in derived:
            self.case_node(case)
            self.graph.link(last, f"case:{case.id}", "became")
            if case.derived_from_id is not None:
                self.graph.link(f"case:{case.derived_from_id}", f"case:{case.id}", "derived_into")
            await self.case(case)


def _adoption(follow_up: FollowUp) -> str | None:
    """The city a check-in says the practice was adopted, adapted or scaled in, if any."""
    if follow_up.adopting_city and follow_up.progress is not None and follow_up.progress.value in ADOPTED:
        return follow_up.adopting_city
    return None


async def _origin(db: AsyncSession, case: Case) -> Case:
    """The first case of a family: a derived case's trace starts where its practice came from."""
    seen = {case.id}
    while case.derived_from_id is not None and case.derived_from_id not in seen:
        parent = await db.get(Case, case.derived_from_id)
        if parent is None:
            break
        seen.add(parent.id)
        case = parent
    return case


async def trace(
    rt: Runtime,
    account: Account | None,
    *,
    case_id: int | None = None,
    session_id: int | None = None,
    community_id: int | None = None,
) -> Graph:
    """The trace of one case (from the first case of its family), one session, or one community."""
    async with rt.db.read() as db:
        scope = await grants.check(db, account, case_id=case_id, session_id=session_id, community_id=community_id)
        if case_id is not None:
            case = await db.get(Case, case_id)
            assert case is not None
            graph = Graph(root=f"case:{case.id}", title=case.title)
            tracer = _Tracer(db, scope, graph)
            await tracer.case(await _origin(db, case))
            tracer.case_node(case)
        elif session_id is not None:
            session = await db.get(LabSession, session_id)
            assert session is not None
            graph = Graph(root=f"session:{session.id}", title=session.title)
            await _Tracer(db, scope, graph).session(session)
        else:
            community = await db.get(Community, community_id)
            assert community is not None
            graph = Graph(root=f"community:{community.id}", title=community.name)
            tracer = _Tracer(db, scope, graph)
            sessions = await db.scalars(
                select(LabSession)
                .where(LabSession.community_id == community.id, scope.session_filter(LabSession.id))
                .order_by(LabSession.starts_at.nulls_last(), LabSession.id)
            )
            for session in sessions.all():
                await tracer.session(session)
            standalone = await db.scalars(
                select(Outcome).where(Outcome.community_id == community.id, Outcome.session_id.is_(None))
            )
            for outcome in standalone.all():
                sources = list(
                    (await db.scalars(select(OutcomeSource).where(OutcomeSource.outcome_id == outcome.id))).all()
                )
                await tracer.outcome(outcome, sources)
        return graph


# --- downloads ------------------------------------------------------------------------------

GRAPHML_NS = "http://graphml.graphdrawing.org/xmlns"
NODE_KEYS = ("kind", "label", "city", "date", "url", "detail")


def graphml(graph: Graph, base_url: str) -> bytes:
    """GraphML (directed) with each node's kind, label, city, date and url, and each edge's
    relation: networkx.read_graphml and Gephi open it."""
    ET.register_namespace("", GRAPHML_NS)
    root = ET.Element(f"{{{GRAPHML_NS}}}graphml")
    for name in NODE_KEYS:
        ET.SubElement(
            root, f"{{{GRAPHML_NS}}}key", id=name, attrib={"for": "node", "attr.name": name, "attr.type": "string"}
        )
    ET.SubElement(
        root,
        f"{{{GRAPHML_NS}}}key",
        id="relation",
        attrib={"for": "edge", "attr.name": "relation", "attr.type": "string"},
    )
    body = ET.SubElement(root, f"{{{GRAPHML_NS}}}graph", id=graph.root, edgedefault="directed")
    hrefs = graph.hrefs()
    for node in graph.dated():
        element = ET.SubElement(body, f"{{{GRAPHML_NS}}}node", id=node.key)
        values = {
            "kind": "derived_case" if node.derived else node.kind,
            "label": node.label,
            "city": node.city or "",
            "date": node.at.isoformat() if node.at else "",
            "url": _absolute(base_url, hrefs[node.key], graph),
            "detail": node.detail,
        }
        for name in NODE_KEYS:
            ET.SubElement(element, f"{{{GRAPHML_NS}}}data", key=name).text = _xml_safe(values[name])
    for number, edge in enumerate(graph.edges):
        element = ET.SubElement(body, f"{{{GRAPHML_NS}}}edge", id=f"e{number}", source=edge.source, target=edge.target)
        ET.SubElement(element, f"{{{GRAPHML_NS}}}data", key="relation").text = edge.relation
    return ET.tostring(root, encoding="utf-8", xml_declaration=True)


_XML_BAD = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f]")


def _xml_safe(text: str) -> str:
    # Control characters a participant may have pasted are not allowed in XML 1.0.
    return _XML_BAD.sub("", text)


def _absolute(base_url: str, href: str, graph: Graph) -> str:
    if href.startswith("?"):
        href = _page_of(graph) + href
    return base_url.rstrip("/") + href


def _page_of(graph: Graph) -> str:
    kind, _, number = graph.root.partition(":")
    return f"/research/{kind}s/{number}/lineage".replace("communitys", "communities")


PROV_TYPES = {
    "case": "labs:Case",
    "note": "labs:Note",
    "cluster": "labs:Cluster",
    "outcome": "labs:Outcome",
    "follow_up": "labs:FollowUp",
}


def prov_json(graph: Graph, base_url: str) -> str:
    """W3C PROV-JSON: cases, notes, clusters, outcomes and follow-ups are entities; sessions and
    adoptions are activities; cities are agents. A session `used` the cases shared in it; notes,
    clusters and outcomes `wasGeneratedBy` their session; an outcome `wasDerivedFrom` its sources,
    a follow-up from its outcome, a derived case from the case and outcome it grew from (and
    `wasGeneratedBy` the adoption); cases and outcomes are `wasAttributedTo` their city."""
    namespace = base_url.rstrip("/") + "/"

    def ident(key: str) -> str:
        kind, _, number = key.partition(":")
        return f"labs:{kind}/{number}"

    def stamp(value: datetime) -> dict[str, str]:
        return {"$": value.isoformat(), "type": "xsd:dateTime"}

    doc: dict[str, Any] = {
        "prefix": {"labs": namespace, "xsd": "http://www.w3.org/2001/XMLSchema#"},
        "entity": {},
        "activity": {},
        "agent": {},
        "used": {},
        "wasGeneratedBy": {},
        "wasDerivedFrom": {},
        "wasAttributedTo": {},
    }
    counters: dict[str, int] = {}

    def relation(kind: str, **attrs: Any) -> None:
        counters[kind] = counters.get(kind, 0) + 1
        doc[kind][f"_:{kind}{counters[kind]}"] = attrs

    def city_agent(city: str) -> str:
        slug = re.sub(r"[^a-z0-9]+", "-", city.lower()).strip("-") or "city"
        agent = f"labs:city/{slug}"
        doc["agent"][agent] = {
            "prov:type": {"$": "prov:Organization", "type": "prov:QUALIFIED_NAME"},
            "prov:label": city,
        }
        return agent

    for node in graph.dated():
        attrs: dict[str, Any] = {"prov:label": node.label}
        if node.at is not None and node.kind not in ("session", "adoption"):
            attrs["labs:date"] = stamp(node.at)
        if node.city:
            attrs["labs:city"] = node.city
        if node.kind in ("session", "adoption"):
            if node.at is not None:
                attrs["prov:startTime"] = node.at.isoformat()
            attrs["prov:type"] = {
                "$": f"labs:{'Session' if node.kind == 'session' else 'Adoption'}",
                "type": "prov:QUALIFIED_NAME",
            }
            doc["activity"][ident(node.key)] = attrs
        else:
            attrs["prov:type"] = {"$": PROV_TYPES[node.kind], "type": "prov:QUALIFIED_NAME"}
            doc["entity"][ident(node.key)] = attrs
            if node.kind in ("case", "outcome") and node.city:
                relation("wasAttributedTo", **{"prov:entity": ident(node.key), "prov:agent": city_agent(node.city)})
    for edge in graph.edges:
        source = graph.nodes[edge.source]
        s, t = ident(edge.source), ident(edge.target)
        if edge.relation == "shared_in":
            relation("used", **{"prov:activity": t, "prov:entity": s})
        elif source.kind in ("session", "adoption"):
            # produced, led_to (by a session) and became (by an adoption)
            relation("wasGeneratedBy", **{"prov:entity": t, "prov:activity": s})
        elif edge.relation == "adopted_as":
            relation("used", **{"prov:activity": t, "prov:entity": s})
        else:
            # feedback_on, grouped_in, source_of, checked_by, became, derived_into: later from earlier
            relation("wasDerivedFrom", **{"prov:generatedEntity": t, "prov:usedEntity": s})
    return json.dumps({k: v for k, v in doc.items() if v}, ensure_ascii=False, indent=1)


def kinds_in(graph: Graph) -> Iterable[str]:
    present = {n.kind for n in graph.nodes.values()}
    return [k for k in KINDS if k in present]
