"""The communities part of `labs demo`: someone from the first meeting joins the live meeting from
a laptop the community does not know, becomes a new member, and the facilitator merges that
member into the one from the first meeting (one person, one member, an event on the stream); and
a guest of the first meeting asked to be erased, so the deletion log has an entry."""

from __future__ import annotations

from typing import Any

from labs.models import Account
from labs.runtime import Runtime
from labs.services import members, participants, privacy

CLIENT = "labs-demo-laptop"


async def rejoin_and_merge(
    rt: Runtime, facilitator: Account, community_id: int, join_code: str, person: dict[str, Any], earlier: int
) -> dict[str, int]:
    """`earlier`: the person's member from an earlier meeting. Returns the member kept and the
    member merged into it."""
    laptop = await participants.join(rt, join_code, person, client=CLIENT)
    assert laptop.participant.member_id is not None
    await members.merge(rt, facilitator, community_id, earlier, laptop.participant.member_id)
    return {"kept": earlier, "merged": laptop.participant.member_id}


async def erase_on_request(rt: Runtime, admin: Account, participant_id: int) -> int:
    """The erasure's entry in the deletion log (its notes stay, unlinked: the community's setting)."""
    return (await privacy.erase(rt, admin, participant_id)).id
