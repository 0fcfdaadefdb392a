"""A living lab's Theory of Change: the chain from activities through outputs and short-, medium-
and long-term outcomes to impact, joined by "leads to" links that never form a cycle; the actors,
context factors (boosters and barriers) and assumptions around it; and the recorded outcomes
attached to its nodes. Every change is an event on the community's stream, which is its history."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from labs import catalogue, events, validate
from labs.catalogue import Audience
from labs.errors import Conflict, Invalid, NotFound
from labs.events import Actor, Stream
from labs.i18n import N_
from labs.models import (
    Account,
    Community,
    CommunityKind,
    Indicator,
    LabSession,
    Outcome,
    TocKind,
    TocLink,
    TocNode,
    TocNodeOutcome,
)
from labs.runtime import Runtime
from labs.services import communities

CHAIN = (
    TocKind.activity,
    TocKind.output,
    TocKind.short_term,
    TocKind.medium_term,
    TocKind.long_term,
    TocKind.impact,
)
AROUND = (TocKind.actor, TocKind.booster, TocKind.barrier, TocKind.assumption)
# Indicators measure outcomes (and impact): the nodes they may hang on.
MEASURABLE = (TocKind.short_term, TocKind.medium_term, TocKind.long_term, TocKind.impact)
MAX_TITLE = 200
MAX_TEXT = 5000


@dataclass
class Theory:
    """A living lab's whole Theory of Change, read at once."""

    lab: Community
    nodes: list[TocNode] = field(default_factory=list)
    links: list[TocLink] = field(default_factory=list)
    outcomes: dict[int, list[Outcome]] = field(default_factory=dict)  # node id -> attached outcomes

    def node(self, node_id: int | None) -> TocNode | None:
        return next((n for n in self.nodes if n.id == node_id), None)

    def of_kind(self, kind: TocKind | str) -> list[TocNode]:
        return [n for n in self.nodes if n.kind == kind]

    @property
    def chain(self) -> list[TocNode]:
        return [n for n in self.nodes if n.kind in CHAIN]

    def about(self, node_id: int) -> list[TocNode]:
        return [n for n in self.nodes if n.about_id == node_id]


def node_data(node: TocNode) -> dict[str, Any]:
    return {
        "id": node.id,
        "kind": node.kind.value,
        "title": node.title,
        "description": node.description,
        "about_id": node.about_id,
    }


def link_data(link: TocLink) -> dict[str, Any]:
    return {"id": link.id, "from_id": link.from_id, "to_id": link.to_id}


def theory_data(theory: Theory) -> dict[str, Any]:
    return {
        "community_id": theory.lab.id,
        "nodes": [{**node_data(n), "outcome_ids": [o.id for o in theory.outcomes.get(n.id, [])]} for n in theory.nodes],
        "links": [link_data(link) for link in theory.links],
    }


# --- reading -------------------------------------------------------------------------------


async def load_lab(db: AsyncSession, community_id: int) -> Community:
    lab = await db.get(Community, community_id)
    if lab is None or lab.kind is not CommunityKind.living_lab:
        raise NotFound("No such living lab.")
    return lab


async def lab_for(db: AsyncSession, community_id: int, account: Account) -> Community:
    """A living lab the account may change: one it runs (labs.services.communities decides)."""
    lab = await communities.load_for(db, community_id, account)
    if lab.kind is not CommunityKind.living_lab:
        raise NotFound("No such living lab.")
    return lab


async def labs(rt: Runtime) -> list[Community]:
    async with rt.db.read() as db:
        found = await db.scalars(
            select(Community).where(Community.kind == CommunityKind.living_lab).order_by(Community.name)
        )
        return list(found.all())


async def _theory(db: AsyncSession, community_id: int) -> Theory:
    lab = await load_lab(db, community_id)
    nodes = (await db.scalars(select(TocNode).where(TocNode.community_id == lab.id).order_by(TocNode.id))).all()
    links = (await db.scalars(select(TocLink).where(TocLink.community_id == lab.id).order_by(TocLink.id))).all()
    attached = await db.execute(
        select(TocNodeOutcome.node_id, Outcome)
        .join(Outcome, Outcome.id == TocNodeOutcome.outcome_id)
        .join(TocNode, TocNode.id == TocNodeOutcome.node_id)
        .where(TocNode.community_id == lab.id)
        .order_by(Outcome.id)
    )
    outcomes: dict[int, list[Outcome]] = {}
    for node_id, outcome in attached.all():
        outcomes.setdefault(node_id, []).append(outcome)
    return Theory(lab, list(nodes), list(links), outcomes)


async def theory(rt: Runtime, community_id: int) -> Theory:
    async with rt.db.read() as db:
        return await _theory(db, community_id)


async def attachable_outcomes(rt: Runtime, community_id: int) -> list[Outcome]:
    """Outcomes recorded for this lab or after its sessions: the ones a node can point to."""
    async with rt.db.read() as db:
        return await _attachable(db, community_id)


async def history(rt: Runtime, community_id: int) -> tuple[Community, list[dict[str, Any]]]:
    """Every change on the lab's stream (Theory of Change, indicators, experiments), newest first,
    as researchers may read it, each with the name of the account that made it (`by`)."""
    async with rt.db.read() as db:
        lab = await load_lab(db, community_id)
        rows = list(reversed(await events.since(db, Stream.community(community_id), 0)))
        views = await events.visible(db, [events.wire(e) for e in rows], Audience.researcher)
        ids = {e.actor_id for e in rows if e.actor_id is not None}
        found = await db.execute(select(Account.id, Account.display_name).where(Account.id.in_(ids)))
        names: dict[int, str] = {account_id: name for account_id, name in found.all()}
    return lab, [{**view, "by": names.get(row.actor_id or 0)} for view, row in zip(views, rows, strict=True)]


async def _node(db: AsyncSession, community_id: int, node_id: Any, field_name: str = "node_id") -> TocNode:
    node = await db.get(TocNode, validate.integer(node_id, field_name))
    if node is None or node.community_id != community_id:
        raise NotFound("No such element in this Theory of Change.", {field_name: "Choose an element of this lab."})
    return node


# --- validation ----------------------------------------------------------------------------


async def _fields(
    db: AsyncSession, community_id: int, data: dict[str, Any], node_id: int | None = None
) -> dict[str, Any]:
    kind = validate.choice(TocKind, data.get("kind"), "kind")
    about_id = None
    if data.get("about_id") not in (None, ""):
        about = await _node(db, community_id, data["about_id"], "about_id")
        if kind in CHAIN:
            raise Invalid(
                "Only actors, boosters, barriers and assumptions are about another element.",
                {"about_id": "Leave empty for a step of the chain."},
            )
        if about.kind not in CHAIN or about.id == node_id:
            raise Invalid(
                "An actor, factor or assumption is about a step of the chain.",
                {"about_id": "Choose an activity, output, outcome or impact."},
            )
        about_id = about.id
    return {
        "kind": kind,
        "title": validate.text(data.get("title"), "title", N_("The title"), MAX_TITLE, required=True),
        "description": validate.text(data.get("description"), "description", N_("The description"), MAX_TEXT),
        "about_id": about_id,
    }


def _leads_back(links: list[TocLink], from_id: int, to_id: int) -> bool:
    """Would from -> to close a cycle, i.e. does to_id already lead (through links) to from_id?"""
    onward: dict[int, list[int]] = {}
    for link in links:
        onward.setdefault(link.from_id, []).append(link.to_id)
    seen, todo = set(), [to_id]
    while todo:
        here = todo.pop()
        if here == from_id:
            return True
        if here not in seen:
            seen.add(here)
            todo.extend(onward.get(here, []))
    return False


def _node_payload(cls: type[catalogue.TocNodeFields], node: TocNode) -> catalogue.TocNodeFields:
    return cls(
        community_id=node.community_id,
        node_id=node.id,
        kind=node.kind.value,
        title=node.title,
        description=node.description,
        about_id=node.about_id,
    )


# --- changes -------------------------------------------------------------------------------


async def add_node(rt: Runtime, account: Account, community_id: int, data: dict[str, Any]) -> TocNode:
    async with events.change(rt) as tx:
        await lab_for(tx.db, community_id, account)
        node = TocNode(community_id=community_id, **await _fields(tx.db, community_id, data))
        tx.db.add(node)
        await tx.db.flush()
        await tx.emit(
            Stream.community(community_id), _node_payload(catalogue.TocNodeAdded, node), Actor.account(account.id)
        )
    return node


async def update_node(rt: Runtime, account: Account, community_id: int, node_id: int, data: dict[str, Any]) -> TocNode:
    async with events.change(rt) as tx:
        await lab_for(tx.db, community_id, account)
        node = await _node(tx.db, community_id, node_id)
        fields = await _fields(tx.db, community_id, data, node.id)
        if (node.kind in CHAIN) != (fields["kind"] in CHAIN):
            links = await tx.db.scalar(
                select(TocLink.id).where((TocLink.from_id == node.id) | (TocLink.to_id == node.id)).limit(1)
            )
            if fields["kind"] not in CHAIN and links is not None:
                raise Conflict(
                    "This step has links; remove them before making it an actor, factor or assumption.",
                    {"kind": "Remove its links first."},
                )
        for key, value in fields.items():
            setattr(node, key, value)
        await tx.emit(
            Stream.community(community_id), _node_payload(catalogue.TocNodeUpdated, node), Actor.account(account.id)
        )
    return node


async def remove_node(rt: Runtime, account: Account, community_id: int, node_id: int) -> None:
    """Remove an element with its links; its indicators (and their measurements) go with it, so a
    node that has indicators is refused: they are the lab's record."""
    async with events.change(rt) as tx:
        await lab_for(tx.db, community_id, account)
        node = await _node(tx.db, community_id, node_id)
        if await tx.db.scalar(select(Indicator.id).where(Indicator.node_id == node.id).limit(1)) is not None:
            raise Conflict("This outcome has indicators; remove them first, or keep the outcome.")
        await tx.db.execute(delete(TocLink).where((TocLink.from_id == node.id) | (TocLink.to_id == node.id)))
        await tx.db.delete(node)
        await tx.emit(
            Stream.community(community_id),
            catalogue.TocNodeRemoved(community_id=community_id, node_id=node_id, title=node.title),
            Actor.account(account.id),
        )


async def add_link(rt: Runtime, account: Account, community_id: int, data: dict[str, Any]) -> TocLink:
    async with events.change(rt) as tx:
        await lab_for(tx.db, community_id, account)
        source = await _node(tx.db, community_id, data.get("from_id"), "from_id")
        target = await _node(tx.db, community_id, data.get("to_id"), "to_id")
        if source.kind not in CHAIN or target.kind not in CHAIN:
            raise Invalid(
                "Links join steps of the chain: activities, outputs, outcomes and impact.",
                {"to_id": "Choose a step of the chain."},
            )
        if source.id == target.id:
            raise Invalid("A step cannot lead to itself.", {"to_id": "Choose another step."})
        links = list((await tx.db.scalars(select(TocLink).where(TocLink.community_id == community_id))).all())
        if any(link.from_id == source.id and link.to_id == target.id for link in links):
            raise Conflict("These steps are already linked.", {"to_id": "Already linked."})
        if _leads_back(links, source.id, target.id):
            raise Invalid(
                "“%(to)s” already leads to “%(from)s”: this link would make a cycle.",
                {"to_id": "This link would make a cycle."},
                to=target.title,
                **{"from": source.title},
            )
        link = TocLink(community_id=community_id, from_id=source.id, to_id=target.id)
        tx.db.add(link)
        await tx.db.flush()
        await tx.emit(
            Stream.community(community_id),
            catalogue.TocLinkAdded(community_id=community_id, link_id=link.id, from_id=source.id, to_id=target.id),
            Actor.account(account.id),
        )
    return link


async def remove_link(rt: Runtime, account: Account, community_id: int, link_id: int) -> None:
    async with events.change(rt) as tx:
        await lab_for(tx.db, community_id, account)
        link = await tx.db.get(TocLink, link_id)
        if link is None or link.community_id != community_id:
            raise NotFound("No such link in this Theory of Change.")
        await tx.db.delete(link)
        await tx.emit(
            Stream.community(community_id),
            catalogue.TocLinkRemoved(
                community_id=community_id, link_id=link.id, from_id=link.from_id, to_id=link.to_id
            ),
            Actor.account(account.id),
        )


async def attach_outcome(rt: Runtime, account: Account, community_id: int, node_id: int, outcome_id: Any) -> None:
    """Attach an outcome recorded after one of the lab's sessions (or for the lab) to a node."""
    async with events.change(rt) as tx:
        await lab_for(tx.db, community_id, account)
        node = await _node(tx.db, community_id, node_id)
        outcome = await tx.db.get(Outcome, validate.integer(outcome_id, "outcome_id"))
        allowed = {o.id for o in await _attachable(tx.db, community_id)}
        if outcome is None or outcome.id not in allowed:
            raise NotFound("No such outcome of this living lab.", {"outcome_id": "Choose an outcome of this lab."})
        if await tx.db.get(TocNodeOutcome, (node.id, outcome.id)) is not None:
            raise Conflict("This outcome is already attached here.", {"outcome_id": "Already attached."})
        tx.db.add(TocNodeOutcome(node_id=node.id, outcome_id=outcome.id))
        await tx.emit(
            Stream.community(community_id),
            catalogue.TocOutcomeAttached(community_id=community_id, node_id=node.id, outcome_id=outcome.id),
            Actor.account(account.id),
        )


async def detach_outcome(rt: Runtime, account: Account, community_id: int, node_id: int, outcome_id: int) -> None:
    async with events.change(rt) as tx:
        await lab_for(tx.db, community_id, account)
        node = await _node(tx.db, community_id, node_id)
        row = await tx.db.get(TocNodeOutcome, (node.id, outcome_id))
        if row is None:
            raise NotFound("This outcome is not attached here.")
        await tx.db.delete(row)
        await tx.emit(
            Stream.community(community_id),
            catalogue.TocOutcomeDetached(community_id=community_id, node_id=node.id, outcome_id=outcome_id),
            Actor.account(account.id),
        )


async def _attachable(db: AsyncSession, community_id: int) -> list[Outcome]:
    sessions = select(LabSession.id).where(LabSession.community_id == community_id)
    found = await db.scalars(
        select(Outcome)
        .where((Outcome.community_id == community_id) | Outcome.session_id.in_(sessions))
        .order_by(Outcome.id.desc())
    )
    return list(found.all())
