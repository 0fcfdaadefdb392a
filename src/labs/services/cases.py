"""Cases: urban projects and initiatives people share. Create and edit them, find them by city,
SDG, topic or text, present them in a session (which puts them in the session's event log), and
record that an adopted practice became a new case derived from the one it learned from."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from functools import cache
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.ext.asyncio import AsyncSession

from labs import catalogue, events, validate
from labs.errors import Conflict, Forbidden, Invalid, NotFound
from labs.events import Actor, Stream
from labs.i18n import N_
from labs.models import Account, Activity, Case, CaseShare, CaseStage, Outcome, Role, SessionStatus
from labs.runtime import Runtime
from labs.services.sessions import load_for

MAX_TITLE = 200
MAX_CITY = 120
MAX_TEXT = 5000
MAX_TOPIC = 40
MAX_TOPICS = 12
MAX_URL = 500
MAX_PRESENTER = 120
SDG_RANGE = range(1, 18)

# Two-letter codes Babel knows that are not countries (or are placeholders).
_NOT_COUNTRIES = {"EU", "EZ", "UN", "QO", "XA", "XB", "ZZ"}


@cache
def _countries() -> frozenset[str]:
    from babel import Locale

    codes = (str(code) for code in Locale("en").territories)
    return frozenset(c for c in codes if len(c) == 2 and c.isalpha() and c not in _NOT_COUNTRIES)


# --- shapes --------------------------------------------------------------------------------


def case_data(case: Case) -> dict[str, Any]:
    return {
        "id": case.id,
        "title": case.title,
        "summary": case.summary,
        "city": case.city,
        "country": case.country,
        "sdgs": list(case.sdgs or []),
        "topics": list(case.topics or []),
        "stage": case.stage.value,
        "boosters": case.boosters,
        "barriers": case.barriers,
        "organisation": case.organisation,
        "url": case.url,
        "derived_from_id": case.derived_from_id,
        "from_outcome_id": case.from_outcome_id,
    }


def share_data(share: CaseShare, case: Case) -> dict[str, Any]:
    return {
        "id": share.id,
        "case_id": share.case_id,
        "session_id": share.session_id,
        "activity_id": share.activity_id,
        "presenter": share.presenter,
        "case": case_data(case),
    }


# --- validation ----------------------------------------------------------------------------


def _country(value: Any) -> str:
    code = str(value or "").strip().upper()
    if not code:
        raise Invalid("The country is required.", {"country": "Give the two-letter country code, e.g. NL."})
    if len(code) != 2 or code not in _countries():
        raise Invalid(
            f"Unknown country code {value!r}; use the ISO 3166-1 two-letter code (NL, BE, DE, DK, ES…).",
            {"country": "A two-letter ISO country code, e.g. NL."},
        )
    return code


def _sdgs(value: Any) -> list[int]:
    if value in (None, ""):
        return []
    if isinstance(value, str):
        value = [part for part in value.replace(";", ",").split(",") if part.strip()]
    if not isinstance(value, Iterable):
        raise Invalid("SDGs must be a list of numbers from 1 to 17.", {"sdgs": "Numbers from 1 to 17."})
    goals: set[int] = set()
    for item in value:
        try:
            if isinstance(item, bool):
                raise ValueError
            goal = int(str(item).strip()) if not isinstance(item, int) else item
        except (TypeError, ValueError):
            raise Invalid(f"SDG {item!r} is not a number; use 1 to 17.", {"sdgs": "Numbers from 1 to 17."}) from None
        if goal not in SDG_RANGE:
            raise Invalid(f"There is no SDG {goal}; the goals are numbered 1 to 17.", {"sdgs": "Numbers from 1 to 17."})
        goals.add(goal)
    return sorted(goals)


def _topics(value: Any) -> list[str]:
    if value in (None, ""):
        return []
    if isinstance(value, str):
        value = value.split(",")
    if not isinstance(value, Iterable):
        raise Invalid("Topics must be a list of short words.", {"topics": "A list of short topics."})
    topics: list[str] = []
    seen: set[str] = set()
    for item in value:
        if not isinstance(item, str):
            raise Invalid("Each topic must be text.", {"topics": "A list of short topics."})
        topic = " ".join(item.split())
        if not topic:
            continue
        if len(topic) > MAX_TOPIC:
            raise Invalid(
                f"Topic {topic!r} is longer than {MAX_TOPIC} characters.",
                {"topics": f"Each topic at most {MAX_TOPIC} characters."},
            )
        if topic.casefold() not in seen:
            seen.add(topic.casefold())
            topics.append(topic)
    if len(topics) > MAX_TOPICS:
        raise Invalid(f"At most {MAX_TOPICS} topics per case.", {"topics": f"At most {MAX_TOPICS} topics."})
    return topics


def _url(value: Any) -> str | None:
    url = validate.text(value, "url", N_("The link"), MAX_URL)
    if url and not url.lower().startswith(("http://", "https://")):
        raise Invalid("The link must start with http:// or https://.", {"url": "Start with https://."})
    return url or None


def _fields(data: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "title": validate.text(data.get("title"), "title", N_("The title"), MAX_TITLE, required=True),
        "summary": validate.text(data.get("summary"), "summary", N_("The summary"), MAX_TEXT),
        "city": validate.text(data.get("city"), "city", N_("The city"), MAX_CITY, required=True),
        "country": _country(data.get("country")),
        "sdgs": _sdgs(data.get("sdgs")),
        "topics": _topics(data.get("topics")),
        "stage": validate.choice(CaseStage, data.get("stage") or "idea", "stage"),
        "boosters": validate.text(data.get("boosters"), "boosters", N_("The boosters"), MAX_TEXT),
        "barriers": validate.text(data.get("barriers"), "barriers", N_("The barriers"), MAX_TEXT),
        "organisation": validate.text(data.get("organisation"), "organisation", N_("The organisation"), 200) or None,
        "url": _url(data.get("url")),
    }


def _may_edit(account: Account, case: Case) -> None:
    if account.role is not Role.admin and case.created_by_id != account.id:
        raise Forbidden("Only the person who added this case, or an admin, can change it.")


async def _load(db: AsyncSession, case_id: int) -> Case:
    case = await db.get(Case, validate.integer(case_id, "case_id"))
    if case is None:
        raise NotFound("No such case.")
    return case


# --- reading -------------------------------------------------------------------------------


async def get_case(rt: Runtime, case_id: int) -> Case:
    async with rt.db.read() as db:
        return await _load(db, case_id)


def _filters(filters: Mapping[str, Any] | None, extra: Mapping[str, Any]) -> dict[str, Any]:
    merged = {**(filters or {}), **extra}
    unknown = set(merged) - {"city", "sdg", "topic", "q", "stage", "country"}
    if unknown:
        raise Invalid(f"Unknown case filter {sorted(unknown)[0]!r}; allowed: city, sdg, topic, q, stage, country.")
    return {key: value for key, value in merged.items() if value not in (None, "")}


async def list_cases(rt: Runtime, filters: Mapping[str, Any] | None = None, **kw: Any) -> list[Case]:
    """Cases, newest first. Filters (all optional, combined with AND): city (exact, any case),
    sdg (1 to 17), topic (exact, any case), q (text in title, summary, city, organisation, boosters,
    barriers), stage and country. Pass them as a mapping (e.g. query parameters) or keywords."""
    f = _filters(filters, kw)
    query = select(Case).order_by(Case.created_at.desc(), Case.id.desc())
    if "city" in f:
        query = query.where(func.lower(Case.city) == str(f["city"]).strip().lower())
    if "country" in f:
        query = query.where(Case.country == str(f["country"]).strip().upper())
    if "stage" in f:
        query = query.where(Case.stage == validate.choice(CaseStage, f["stage"], "stage"))
    if "q" in f:
        text = str(f["q"]).strip()[:200]
        pattern = "%" + text.lower().replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
        query = query.where(
            or_(
                *(
                    func.lower(column).like(pattern, escape="\\")
                    for column in (
                        Case.title,
                        Case.summary,
                        Case.city,
                        Case.organisation,
                        Case.boosters,
                        Case.barriers,
                    )
                )
            )
        )
    sdg = _sdgs([f["sdg"]])[0] if "sdg" in f else None
    topic = " ".join(str(f["topic"]).split()).casefold() if "topic" in f else None
    async with rt.db.read() as db:
        cases = list((await db.scalars(query)).all())
    # JSON list membership differs between SQLite and PostgreSQL; case lists are small: filter here.
    if sdg is not None:
        cases = [c for c in cases if sdg in (c.sdgs or [])]
    if topic is not None:
        cases = [c for c in cases if topic in {t.casefold() for t in (c.topics or [])}]
    return cases


async def shares_of(rt: Runtime, case_id: int) -> list[CaseShare]:
    """Where and when a case was presented."""
    async with rt.db.read() as db:
        rows = await db.scalars(select(CaseShare).where(CaseShare.case_id == case_id).order_by(CaseShare.id))
        return list(rows.all())


async def shared_in(rt: Runtime, session_id: int) -> list[Case]:
    """The cases presented in a session, in the order they were shared (each once)."""
    async with rt.db.read() as db:
        rows = await db.scalars(
            select(Case)
            .join(CaseShare, CaseShare.case_id == Case.id)
            .where(CaseShare.session_id == session_id)
            .order_by(CaseShare.id)
        )
        seen: dict[int, Case] = {}
        for case in rows.all():
            seen.setdefault(case.id, case)
        return list(seen.values())


# --- changes -------------------------------------------------------------------------------


async def create_case(rt: Runtime, account: Account, data: Mapping[str, Any]) -> Case:
    fields = _fields(data)
    async with rt.db.write() as db:
        case = Case(**fields, created_by_id=account.id)
        db.add(case)
    return case


async def share_case(
    rt: Runtime,
    account: Account,
    session_id: int,
    case_id: int,
    presenter: str | None,
    activity_id: int | None = None,
) -> CaseShare:
    """Present a case in a session the account runs. Without activity_id it goes with the
    current activity. Notes can then be about this case."""
    name = validate.text(presenter, "presenter", N_("The presenter's name"), MAX_PRESENTER) or None
    async with events.change(rt) as tx:
        session = await load_for(tx.db, session_id, account)
        if session.status is SessionStatus.closed:
            raise Conflict("This session is closed; cases can be shared while it is planned or live.")
        case = await _load(tx.db, case_id)
        if activity_id in (None, ""):
            activity_id = session.current_activity_id
        else:
            activity = await tx.db.get(Activity, validate.integer(activity_id, "activity_id"))
            if activity is None or activity.session_id != session_id:
                raise Invalid("That activity is not part of this session.", {"activity_id": "Unknown activity."})
            activity_id = activity.id
        twice = await tx.db.scalar(
            select(CaseShare.id).where(
                CaseShare.session_id == session_id,
                CaseShare.case_id == case.id,
                CaseShare.activity_id.is_(None) if activity_id is None else CaseShare.activity_id == activity_id,
            )
        )
        if twice:
            raise Conflict("This case is already shared in this activity.")
        share = CaseShare(case_id=case.id, session_id=session_id, activity_id=activity_id, presenter=name)
        tx.db.add(share)
        await tx.db.flush()
        await tx.emit(
            Stream.session(session_id),
            catalogue.build(catalogue.CaseShared, share_data(share, case)),
            Actor.account(account.id),
        )
    return share


async def derive_case(
    rt: Runtime, account: Account, from_case_id: int, outcome_id: int, data: Mapping[str, Any]
) -> Case:
    """An adopted practice becomes a new case, derived from the case it learned from, through the
    outcome that records the adoption. SDGs and topics are inherited unless data gives them.
    "case.derived" opens the new case's own stream."""
    async with events.change(rt) as tx:
        original = await _load(tx.db, from_case_id)
        outcome = await tx.db.get(Outcome, validate.integer(outcome_id, "outcome_id"))
        if outcome is None:
            raise NotFound("No such outcome.")
        inherited = {"sdgs": original.sdgs, "topics": original.topics}
        fields = _fields({**inherited, **{k: v for k, v in data.items() if v not in (None, "")}})
        case = Case(**fields, derived_from_id=original.id, from_outcome_id=outcome.id, created_by_id=account.id)
        tx.db.add(case)
        await tx.db.flush()
        await tx.emit(
            Stream.case(case.id),
            catalogue.CaseDerived(
                case=catalogue.build(catalogue.CaseState, case_data(case)),
                from_case_id=original.id,
                outcome_id=outcome.id,
            ),
            Actor.account(account.id),
        )
    return case
