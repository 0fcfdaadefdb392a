"""Token buckets. Keys are chosen by the caller: per participant for posting (a whole room shares
one venue IP), per client address for failed join attempts. The buckets live in the deployment's
shared store (labs.shared): one process's memory, or Redis for several workers."""

from __future__ import annotations

from dataclasses import dataclass

from labs.shared import Shared


@dataclass(frozen=True)
class Bucket:
    name: str
    capacity: float
    per_second: float
    store: Shared

    async def take(self, key: str, cost: float = 1.0) -> bool:
        return await self.store.take(self.name, key, self.capacity, self.per_second, cost)


class Limits:
    """The buckets of one running app."""

    def __init__(self, store: Shared) -> None:
        # Posting: bursts of 20, then one note every 2 seconds on average.
        self.notes = Bucket("notes", capacity=20, per_second=0.5, store=store)
        # Joining: failed codes are what a guesser produces; 10 tries, then one every 6 seconds.
        self.failed_joins = Bucket("failed_joins", capacity=10, per_second=1 / 6, store=store)
        # Every join from one address (a whole hall shares one): 1,000 at once, then 5 a second. A
        # conference hall of 1,000 on the venue's Wi-Fi never reaches it; a script can't flood a
        # wall faster than a facilitator can lock joining.
        self.joins = Bucket("joins", capacity=1000, per_second=5, store=store)
        # Login and token attempts, per account: 10, then one a minute; per address: 30, then one
        # every 10 seconds. Guessing a password stalls; a forgotten one costs a few minutes.
        self.logins_per_account = Bucket("logins_account", capacity=10, per_second=1 / 60, store=store)
        self.logins_per_address = Bucket("logins_address", capacity=30, per_second=1 / 10, store=store)
        # "Share a project" posts per client address: 10 tries, then one a minute.
        self.submissions = Bucket("submissions", capacity=10, per_second=1 / 60, store=store)
