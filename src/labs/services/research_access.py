"""What a researcher may see of the research material, until the grants module (issue 9, access)
replaces this one with the same names: for now, as before grants, researchers and admins see
every session and community, everyone else nothing (404)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from sqlalchemy.ext.asyncio import AsyncSession

from labs.errors import NotFound
from labs.models import Account, Community, LabSession, Role


@dataclass(frozen=True)
class Scope:
    everything: bool = False
    sessions: frozenset[int] = frozenset()
    communities: frozenset[int] = frozenset()

    def has_session(self, session_id: int | None) -> bool:
        return self.everything or (session_id is not None and session_id in self.sessions)

    def has_community(self, community_id: int | None) -> bool:
        return self.everything or (community_id is not None and community_id in self.communities)

    def session_filter(self, column: Any) -> Any:
        return column.is_not(None) if self.everything else column.in_(self.sessions)


async def scope_of(db: AsyncSession, account: Account | None) -> Scope:
    if account is not None and account.role in (Role.admin, Role.researcher):
        return Scope(everything=True)
    return Scope()


async def check(
    db: AsyncSession, account: Account | None, *, session_id: int | None = None, community_id: int | None = None
) -> Scope:
    scope = await scope_of(db, account)
    if session_id is not None and (not scope.has_session(session_id) or await db.get(LabSession, session_id) is None):
        raise NotFound("No such session.")
    if community_id is not None and (
        not scope.has_community(community_id) or await db.get(Community, community_id) is None
    ):
        raise NotFound("No such community.")
    return scope
