"""How a participant appears to researchers: the one place that decides it, for every file, chart
and page of the research side.

Each participant chose how their contributions may be used for research; their current choice
(a withdrawal takes effect everywhere at once) decides what a researcher gets:

- ``none``: they are left out: no notes, no votes, not counted.
- ``anonymous``: their notes are in, with no participant key (nothing links two notes to one
  person). Their sector and city may be counted in aggregates, never shown next to a row.
- ``pseudonymous``: their notes carry a stable pseudonym: a keyed HMAC of the member (the same
  person across a community's sessions) or, without a member, of the participant. The key is
  ``LABS_PSEUDONYM_KEY`` or the ``pseudonym_key`` file in the data folder: never in the
  database, so a copy of the database (or its backup) cannot be linked back to people.
- ``named``: their notes carry the pseudonym as key plus their display name and organisation.

A note without a participant (typed by a facilitator as themself, or unlinked by an erasure) is in,
with no key, like an anonymous one.

Use it as::

    shown = consent.for_research(rt.settings)
    person = shown.person(participant)      # None: leave the row (and its note) out
    person.key, person.name, person.organisation

in queries that count people, ``consent.counted()`` as a condition on ``Participant``, and
``consent.notes()`` for the notes a researcher may read at all."""

from __future__ import annotations

import base64
import hashlib
import hmac
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from sqlalchemy import Select, and_, or_, select

from labs.models import Consent, Note, NoteApproval, Participant

if TYPE_CHECKING:
    from sqlalchemy import ColumnElement

    from labs.settings import Settings

# Consents under which a person's contributions may be used at all.
RESEARCH_USE = frozenset({Consent.anonymous, Consent.pseudonymous, Consent.named})
WITH_KEY = frozenset({Consent.pseudonymous, Consent.named})


def counted() -> ColumnElement[bool]:
    """SQL condition on Participant: those whose notes, votes and attributes may be counted."""
    return Participant.consent.in_(sorted(RESEARCH_USE))


def readable() -> ColumnElement[bool]:
    """SQL condition on Note outer-joined with its Participant: the notes a researcher may read.
    Not of people who chose `none`, and not hidden, deleted or kept off the wall by pre-moderation
    (moderation keeps those out of every report)."""
    return and_(
        Note.deleted.is_(False),
        Note.hidden.is_(False),
        Note.approval == NoteApproval.approved,
        or_(Note.participant_id.is_(None), counted()),
    )


def notes() -> Select[tuple[Note, Participant]]:
    """The notes a researcher may read, each with its participant (or None). Add the session
    filter and an order."""
    return select(Note, Participant).outerjoin(Participant, Participant.id == Note.participant_id).where(readable())


@dataclass(frozen=True)
class Person:
    """A participant as a researcher may see them. `consent` is None for a note without a
    participant. `sector` and `city` are for counts; a file shows them only beside a `key`."""

    consent: Consent | None
    key: str | None = None
    name: str | None = None
    organisation: str | None = None
    sector: str | None = None
    city: str | None = None


NOBODY = Person(consent=None)


@dataclass(frozen=True)
class Disclosure:
    """The consent rules bound to one pseudonym key."""

    key: bytes

    def _digest(self, label: str) -> bytes:
        return hmac.new(self.key, label.encode(), hashlib.sha256).digest()

    def pseudonym(self, participant: Any) -> str:
        """P-XXXXXXXX, the same for one member in every session of their community."""
        member_id = getattr(participant, "member_id", None)
        label = f"member:{member_id}" if member_id is not None else f"participant:{participant.id}"
        return "P-" + base64.b32encode(self._digest(label)[:5]).decode()

    def account_pseudonym(self, account_id: int) -> str:
        """R-XXXXXXXX for a researcher's account in files that leave the app."""
        return "R-" + base64.b32encode(self._digest(f"account:{account_id}")[:5]).decode()

    def guid(self, kind: str, ident: Any) -> str:
        """A stable GUID for an exported record (REFI-QDA wants GUIDs), not guessable from ids."""
        return str(uuid.UUID(bytes=self._digest(f"guid:{kind}:{ident}")[:16], version=4))

    def person(self, participant: Any | None) -> Person | None:
        """How `participant` (a Participant or a row with id, member_id, consent, display_name,
        organisation, sector, city) appears; None when they must be left out."""
        if participant is None:
            return NOBODY
        choice = Consent(participant.consent)
        if choice not in RESEARCH_USE:
            return None
        sector = getattr(participant.sector, "value", participant.sector)
        if choice is Consent.anonymous:
            return Person(consent=choice, sector=sector, city=participant.city)
        named = choice is Consent.named
        return Person(
            consent=choice,
            key=self.pseudonym(participant),
            name=participant.display_name if named else None,
            organisation=participant.organisation if named else None,
            sector=sector,
            city=participant.city,
        )


def for_research(settings: Settings) -> Disclosure:
    return Disclosure(settings.pseudonym_key.encode())
