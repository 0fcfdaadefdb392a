"""Pages after the session: its record (a closed session's page), the facilitator's summary,
outcomes recorded from notes and clusters (from the console in two clicks, or afterwards), their
check-ins, the facilitator's follow-up list with links and a CSV of due links, and the owner's
check-in form behind its private link (no account)."""

from __future__ import annotations

import csv
import io
from typing import Annotated, Any

from litestar import Request, Response, get, post
from litestar.datastructures import State
from litestar.params import QueryParameter
from litestar.response import Redirect

from labs.errors import LabsError, NotFound
from labs.i18n import N_
from labs.models import Account, LabSession, Note, OutcomeKind, Progress, Role
from labs.runtime import Runtime
from labs.services import followups, outcomes, record, sessions
from labs.web import auth
from labs.web.auth import Identity
from labs.web.forms import form_data
from labs.web.render import LANG_COOKIE, failed, page

Req = Request[Any, Any, State]
staff = [auth.require(Role.facilitator, Role.researcher)]
facilitators = [auth.facilitator]

OUTCOME_KINDS = [k.value for k in OutcomeKind]
PROGRESS = [p.value for p in Progress]


def base_url(request: Req) -> str:
    return str(request.base_url).rstrip("/")


def _me(identity: Identity) -> Account:
    assert identity.account
    return identity.account


# --- the session record --------------------------------------------------------------------


async def _readable(rt: Runtime, account: Account, session_id: int) -> tuple[LabSession, bool]:
    """The session and whether the reader runs it (facilitators: theirs only; researchers: any,
    without the hidden notes)."""
    if account.role is Role.researcher:
        return await sessions.get(rt, session_id), False
    return await sessions.get_for(rt, session_id, account), True


async def record_page(request: Req, rt: Runtime, account: Account, session_id: int, **extra: Any) -> Response[Any]:
    _session, runs = await _readable(rt, account, session_id)
    found = await record.session_record(rt, session_id)
    return page(
        request,
        "sessions/record.html",
        block=extra.pop("block", None),
        r=found,
        runs=runs,
        tab="record",
        form=extra.pop("form", {}),
        errors=extra.pop("errors", {}),
        **extra,
    )


@get("/sessions/{session_id:int}/record", guards=staff)
async def session_record(request: Req, rt: Runtime, identity: Identity, session_id: int) -> Response[Any]:
    return await record_page(request, rt, _me(identity), session_id)


@post("/sessions/{session_id:int}/summary", guards=facilitators)
async def write_summary(request: Req, rt: Runtime, identity: Identity, session_id: int) -> Response[Any]:
    data = await form_data(request)
    try:
        await record.write_summary(rt, _me(identity), session_id, data.get("summary"))
    except LabsError as e:
        return await record_page(request, rt, _me(identity), session_id, block="summary", **failed(e, data))
    if request.headers.get("hx-request") == "true":
        return await record_page(request, rt, _me(identity), session_id, block="summary", saved=True)
    return Redirect(f"/sessions/{session_id}/record#summary")


# --- recording an outcome ------------------------------------------------------------------


async def _form_choices(rt: Runtime, session_id: int) -> dict[str, Any]:
    found = await record.session_record(rt, session_id)
    return {
        "r": found,
        "source_cases": [case for _share, case in found.shares],
        "kinds": OUTCOME_KINDS,
    }


def _prefill(note_list: list[Note], cluster_name: str | None) -> dict[str, Any]:
    """A note or cluster turned into the start of an outcome (the facilitator's second click saves it)."""
    if not note_list:
        return {}
    first = note_list[0]
    title = cluster_name or first.body
    return {
        "kind": "other" if first.kind.value in ("action", "question") else "new_practice",
        "title": title[:200],
        "what_changed": "\n".join(n.body for n in note_list)[:5000],
        "note_ids": [str(n.id) for n in note_list],
        "case_ids": sorted({str(n.case_id) for n in note_list if n.case_id}),
        "follow_up_months": ", ".join(str(n) for n in outcomes.DEFAULT_MONTHS),
    }


@get("/sessions/{session_id:int}/outcomes/new", guards=facilitators)
async def outcome_new(
    request: Req,
    rt: Runtime,
    identity: Identity,
    session_id: int,
    note_id: int | None = None,
    cluster_id: int | None = None,
) -> Response[Any]:
    session = await sessions.get_for(rt, session_id, _me(identity))
    choices = await _form_choices(rt, session.id)
    r: record.Record = choices["r"]
    shown = [n for group in r.activities for n in group.notes]
    form: dict[str, Any] = {"follow_up_months": ", ".join(str(n) for n in outcomes.DEFAULT_MONTHS)}
    if note_id is not None:
        form = _prefill([n for n in shown if n.id == note_id], None) or form
    elif cluster_id is not None:
        cluster = next(((c, ns) for c, ns in r.clusters if c.id == cluster_id), None)
        if cluster:
            form = _prefill(cluster[1], cluster[0].name) | {"cluster_ids": [str(cluster_id)]}
    return page(request, "outcomes/form.html", session=session, outcome=None, form=form, errors={}, **choices)


@post("/sessions/{session_id:int}/outcomes", guards=facilitators)
async def outcome_create(request: Req, rt: Runtime, identity: Identity, session_id: int) -> Response[Any]:
    data = await form_data(request)
    try:
        outcome = await outcomes.record_outcome(rt, _me(identity), session_id, data)
    except LabsError as e:
        session = await sessions.get_for(rt, session_id, _me(identity))
        return page(
            request,
            "outcomes/form.html",
            session=session,
            outcome=None,
            **failed(e, data),
            **await _form_choices(rt, session_id),
        )
    return Redirect(f"/outcomes/{outcome.id}")


def _as_form(view: outcomes.OutcomeView) -> dict[str, Any]:
    o = view.outcome
    form = {
        key: getattr(o, key) or ""
        for key in (
            "title",
            "what_changed",
            "who",
            "change_agent",
            "where",
            "significance",
            "contribution",
            "evidence",
            "verified_by",
            "owner_name",
            "owner_email",
        )
    }
    form.update(
        kind=o.kind.value,
        when_on=o.when_on.isoformat() if o.when_on else "",
        verified_on=o.verified_on.isoformat() if o.verified_on else "",
        due_on=o.due_on.isoformat() if o.due_on else "",
        note_ids=[str(n.id) for n in view.notes],
        cluster_ids=[str(c.id) for c in view.clusters],
        case_ids=[str(c.id) for c in view.cases],
    )
    return form


async def _edit_page(request: Req, rt: Runtime, account: Account, outcome_id: int, **extra: Any) -> Response[Any]:
    view = await outcomes.view(rt, account, outcome_id)
    if view.session is None:
        raise NotFound("No such outcome.")  # community outcomes are edited through the API
    return page(
        request,
        "outcomes/form.html",
        session=view.session,
        outcome=view.outcome,
        form=extra.pop("form", None) or _as_form(view),
        errors=extra.pop("errors", {}),
        **await _form_choices(rt, view.session.id),
        **extra,
    )


@get("/outcomes/{outcome_id:int}/edit", guards=staff)
async def outcome_edit(request: Req, rt: Runtime, identity: Identity, outcome_id: int) -> Response[Any]:
    return await _edit_page(request, rt, _me(identity), outcome_id)


@post("/outcomes/{outcome_id:int}/edit", guards=staff)
async def outcome_update(request: Req, rt: Runtime, identity: Identity, outcome_id: int) -> Response[Any]:
    data = await form_data(request)
    try:
        await outcomes.update_outcome(rt, _me(identity), outcome_id, data)
    except LabsError as e:
        return await _edit_page(request, rt, _me(identity), outcome_id, **failed(e, data))
    return Redirect(f"/outcomes/{outcome_id}")


# --- an outcome, its check-ins and its derived case ----------------------------------------


async def outcome_page(request: Req, rt: Runtime, account: Account, outcome_id: int, **extra: Any) -> Response[Any]:
    view = await outcomes.view(rt, account, outcome_id)
    becomes_case = followups.can_become_case(view)
    return page(
        request,
        "outcomes/show.html",
        v=view,
        answers=await followups.answers(rt, view.outcome.id),
        links={f.id: followups.link(rt, base_url(request), f) for f in view.follow_ups},
        states={f.id: followups.state_of(f) for f in view.follow_ups},
        expires={f.id: outcomes.link_expires(f) for f in view.follow_ups},
        due_of={f.id: f.due_on for f in view.follow_ups},
        becomes_case=becomes_case,
        case_form=extra.pop("case_form", None) or (followups.case_prefill(view) if becomes_case else {}),
        form=extra.pop("form", {}),
        errors=extra.pop("errors", {}),
        **extra,
    )


@get("/outcomes/{outcome_id:int}", guards=staff)
async def outcome_show(request: Req, rt: Runtime, identity: Identity, outcome_id: int) -> Response[Any]:
    return await outcome_page(request, rt, _me(identity), outcome_id)


@get("/outcomes", guards=staff)
async def outcome_list(
    request: Req, rt: Runtime, identity: Identity, page_no: Annotated[int, QueryParameter(name="page", ge=1)] = 1
) -> Response[Any]:
    found = await outcomes.list_outcomes(rt, _me(identity), page=page_no)
    return page(request, "outcomes/list.html", found=found)


@post("/outcomes/{outcome_id:int}/followups", guards=staff)
async def follow_up_add(request: Req, rt: Runtime, identity: Identity, outcome_id: int) -> Response[Any]:
    data = await form_data(request)
    try:
        await outcomes.schedule_follow_up(rt, _me(identity), outcome_id, data.get("due_on"))
    except LabsError as e:
        return await outcome_page(request, rt, _me(identity), outcome_id, **failed(e, data))
    return Redirect(f"/outcomes/{outcome_id}#checkins")


@post("/followups/{follow_up_id:int}", guards=staff)
async def follow_up_change(request: Req, rt: Runtime, identity: Identity, follow_up_id: int) -> Response[Any]:
    """Move a check-in to another date, or cancel it."""
    data = await form_data(request)
    account = _me(identity)
    try:
        if data.get("action") == "cancel":
            follow_up = await outcomes.cancel_follow_up(rt, account, follow_up_id)
        else:
            follow_up = await outcomes.reschedule_follow_up(rt, account, follow_up_id, data.get("due_on"))
    except LabsError as e:
        outcome_id = data.get("outcome_id")
        if not outcome_id or e.status_code == 404:
            raise
        errors = {f"due_on-{follow_up_id}": text for text in e.field_errors.values()}
        return await outcome_page(request, rt, account, int(outcome_id), **{**failed(e, data), "errors": errors})
    return Redirect(f"/outcomes/{follow_up.outcome_id}#checkins")


@post("/outcomes/{outcome_id:int}/case", guards=staff)
async def derived_case(request: Req, rt: Runtime, identity: Identity, outcome_id: int) -> Response[Any]:
    data = await form_data(request)
    try:
        case = await followups.derive_case(rt, _me(identity), outcome_id, data)
    except LabsError as e:
        return await outcome_page(request, rt, _me(identity), outcome_id, **{**failed(e, data), "case_form": data})
    return Redirect(f"/outcomes/{outcome_id}?derived={case.id}#derived")


# --- the facilitator's follow-up list ------------------------------------------------------


@get("/followups", guards=staff)
async def follow_up_list(
    request: Req,
    rt: Runtime,
    identity: Identity,
    which: Annotated[str, QueryParameter(name="state")] = "due",
    page_no: Annotated[int, QueryParameter(name="page", ge=1)] = 1,
) -> Response[Any]:
    found = await followups.listing(rt, _me(identity), which, page_no)
    return page(
        request,
        "followups/list.html",
        found=found,
        state=which,
        states=followups.STATES,
        links={f.id: followups.link(rt, base_url(request), f) for f, _o, _s in found.items},
        row_states={f.id: followups.state_of(f) for f, _o, _s in found.items},
    )


@get("/followups/due.csv", guards=staff)
async def due_links_csv(request: Req, rt: Runtime, identity: Identity) -> Response[bytes]:
    rows = await followups.due_links(rt, _me(identity), base_url(request))
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=["owner", "email", "outcome", "due_on", "link"], lineterminator="\r\n")
    writer.writeheader()
    writer.writerows(rows)
    return Response(
        out.getvalue().encode("utf-8-sig"),  # with a BOM: spreadsheets then read the accents right
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": 'attachment; filename="due-follow-ups.csv"'},
    )


# --- the owner's check-in form (no account: the private link is the key) -------------------


def _owner_lang(request: Req, check_in: followups.CheckIn) -> str:
    return request.cookies.get(LANG_COOKIE) or check_in.language


async def _check_in_page(request: Req, check_in: followups.CheckIn, token: str, **extra: Any) -> Response[Any]:
    f = check_in.follow_up
    previous = {
        "progress": f.progress.value if f.progress else "",
        "what_was_done": f.findings,
        "evidence": f.evidence,
        "adopting_city": f.adopting_city or "",
        "adaptations": f.adaptations,
    }
    return page(
        request,
        "followups/form.html",
        c=check_in,
        token=token,
        progress_values=PROGRESS,
        lang=_owner_lang(request, check_in),
        form=extra.pop("form", None) or previous,
        errors=extra.pop("errors", {}),
        headers={"Referrer-Policy": "no-referrer", "Cache-Control": "no-store"},
        **extra,
    )


@get("/followup/{token:str}", cache=False)
async def check_in_form(request: Req, rt: Runtime, token: str) -> Response[Any]:
    return await _check_in_page(request, await followups.open_check_in(rt, token), token)


@post("/followup/{token:str}")
async def check_in_answer(request: Req, rt: Runtime, token: str) -> Response[Any]:
    data = await form_data(request)
    try:
        await followups.answer(rt, token, data)
    except LabsError as e:
        if e.status_code == 404:
            raise
        return await _check_in_page(request, await followups.open_check_in(rt, token), token, **failed(e, data))
    return await _check_in_page(
        request,
        await followups.open_check_in(rt, token),
        token,
        messages=[("success", N_("Thank you: your answer is saved. You can change it with the same link."))],
    )


routes = [
    session_record,
    write_summary,
    outcome_new,
    outcome_create,
    outcome_edit,
    outcome_update,
    outcome_show,
    outcome_list,
    follow_up_add,
    follow_up_change,
    derived_case,
    follow_up_list,
    due_links_csv,
    check_in_form,
    check_in_answer,
]
