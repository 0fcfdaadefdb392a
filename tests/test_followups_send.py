"""`labs followups send` through the real entry point, against a local SMTP server (aiosmtpd):
each due check-in with an owner's email goes out once, in its session's language, with a link
that opens the owner's form; a second run sends nothing; a refusal is reported, logged, and
retried by the next run; without LABS_SMTP_URL the command says what to set."""

from __future__ import annotations

import email
import email.policy
import subprocess
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from litestar import Litestar
from litestar.testing import AsyncTestClient
from sqlalchemy import select, update

from labs import events
from labs.events import Stream
from labs.models import FollowUp, LabSession
from labs.services import outcomes, sessions
from labs.testing import free_port
from tests.conftest import make_account
from tests.test_cli import LABS, _env


class Inbox:
    """What the SMTP server received; `refuse` makes it turn every recipient away."""

    def __init__(self) -> None:
        self.messages: list[EmailMessage] = []
        self.refuse = False

    async def handle_RCPT(self, server: Any, session: Any, envelope: Any, address: str, rcpt_options: Any) -> str:
        if self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: Any, session: Any, envelope: Any) -> str:
        self.messages.append(email.message_from_bytes(envelope.content, policy=email.policy.default))  # type: ignore[arg-type]
        return "250 Message accepted"


@pytest.fixture
def inbox() -> Iterator[tuple[Inbox, int]]:
    handler, port = Inbox(), free_port()
    controller = Controller(handler, hostname="127.0.0.1", port=port)
    controller.start()
    try:
        yield handler, port
    finally:
        controller.stop()


def send(db_url: str, tmp_path: Path, smtp_url: str | None) -> subprocess.CompletedProcess[str]:
    env = _env(tmp_path, db_url)
    env.update(
        LABS_SECRET_KEY="test-secret", LABS_PUBLIC_URL="https://labs.example", LABS_MAIL_FROM="Labs <labs@example.org>"
    )
    if smtp_url:
        env["LABS_SMTP_URL"] = smtp_url
    return subprocess.run([*LABS, "followups", "send"], env=env, capture_output=True, text=True, timeout=120)


async def _outcome(rt: Any, account: Any, language: str, owner_email: str | None, months: str) -> list[FollowUp]:
    session = await sessions.create(rt, account, {"title": f"Lab ({language})", "language": language, "agenda": []})
    await sessions.start(rt, account, session.id)
    await sessions.close(rt, account, session.id)
    outcome = await outcomes.record_outcome(
        rt,
        account,
        session.id,
        {
            "kind": "new_practice",
            "title": f"Practice {language}",
            "what_changed": "Tried it",
            "owner_name": "Eva",
            "owner_email": owner_email,
            "follow_up_months": months,
        },
    )
    async with rt.db.write() as db:  # the session was a month and a day ago: the first check-in is due
        await db.execute(
            update(LabSession)
            .where(LabSession.id == session.id)
            .values(started_at=datetime.now(UTC) - timedelta(days=32))
        )
        today = datetime.now(UTC).date()
        first = (
            await db.scalars(select(FollowUp).where(FollowUp.outcome_id == outcome.id).order_by(FollowUp.due_on))
        ).first()
        assert first is not None
        await db.execute(update(FollowUp).where(FollowUp.id == first.id).values(due_on=today - timedelta(days=1)))
        return list((await db.scalars(select(FollowUp).where(FollowUp.outcome_id == outcome.id))).all())


async def _log(rt: Any, outcome_id: int) -> list[str]:
    async with rt.db.read() as db:
        return [e.type for e in await events.since(db, Stream.outcome(outcome_id), 0)]


async def test_due_check_ins_are_emailed_once_in_the_sessions_language(
    client: AsyncTestClient[Litestar], rt: Any, migrated: str, tmp_path: Path, inbox: tuple[Inbox, int]
) -> None:
    handler, port = inbox
    account = await make_account(rt)
    dutch = await _outcome(rt, account, "nl", "eva@zwolle.example", "1, 3")
    english = await _outcome(rt, account, "en", "eve@leeds.example", "1")
    no_email = await _outcome(rt, account, "en", None, "1")

    first = send(migrated, tmp_path, f"smtp://127.0.0.1:{port}")
    assert first.returncode == 0, first.stderr
    assert f"sent   check-in {dutch[0].id} to eva@zwolle.example (nl): Practice nl" in first.stdout
    assert f"sent   check-in {english[0].id} to eve@leeds.example (en): Practice en" in first.stdout
    assert "2 check-in(s) sent, 0 failed." in first.stdout
    assert str(no_email[0].id) not in first.stdout.replace("2 check-in(s)", "")
    by_to = {str(m["To"]): m for m in handler.messages}
    assert set(by_to) == {"Eva <eva@zwolle.example>", "Eva <eve@leeds.example>"}
    nl, en = by_to["Eva <eva@zwolle.example>"], by_to["Eva <eve@leeds.example>"]
    assert nl["Subject"] == "Hoe gaat het? Practice nl" and "Hallo Eva," in nl.get_content()
    assert en["Subject"] == "How is it going? Practice en" and "Hello Eva," in en.get_content()
    assert nl["From"] == "Labs <labs@example.org>"
    link = next(line for line in nl.get_content().splitlines() if line.startswith("https://labs.example/followup/"))
    form = await client.get(link.removeprefix("https://labs.example"))
    assert form.status_code == 200 and "Practice nl" in form.text
    assert (await _log(rt, dutch[0].outcome_id))[-1] == "followup.sent"

    again = send(migrated, tmp_path, f"smtp://127.0.0.1:{port}")
    assert again.returncode == 0 and "No check-ins to send." in again.stdout
    assert len(handler.messages) == 2


async def test_a_refused_email_is_reported_logged_and_sent_next_time(
    rt: Any, migrated: str, tmp_path: Path, inbox: tuple[Inbox, int]
) -> None:
    handler, port = inbox
    account = await make_account(rt)
    due = await _outcome(rt, account, "en", "eve@leeds.example", "1")
    handler.refuse = True
    refused = send(migrated, tmp_path, f"smtp://127.0.0.1:{port}")
    assert refused.returncode == 1
    assert f"FAILED check-in {due[0].id} to eve@leeds.example" in refused.stderr and "550" in refused.stderr
    assert (await _log(rt, due[0].outcome_id))[-2:] == ["followup.sent", "followup.send_failed"]
    handler.refuse = False
    retried = send(migrated, tmp_path, f"smtp://127.0.0.1:{port}")
    assert retried.returncode == 0 and "1 check-in(s) sent" in retried.stdout
    assert len(handler.messages) == 1


async def test_without_a_mail_server_the_command_says_what_to_set(rt: Any, migrated: str, tmp_path: Path) -> None:
    missing = send(migrated, tmp_path, None)
    assert missing.returncode != 0 and "LABS_SMTP_URL" in missing.stderr
    wrong = send(migrated, tmp_path, "http://mail.example.org")
    assert wrong.returncode != 0 and "smtp://" in wrong.stderr
