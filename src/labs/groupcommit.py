"""Group commit: requests that arrive while a commit is in flight are written together in the
next one, so a burst of posts costs one transaction (one fsync, one lock hand-over) per group
instead of one per post. Each caller waits for the commit that holds its request, and gets its
own answer or its own error: one bad request fails only itself."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Generic, TypeVar

T = TypeVar("T")
R = TypeVar("R")

# commit(items) -> one answer per item, in order: a result, or the exception for that item alone.
# It raises only when the whole group failed (the transaction rolled back); the group is then
# split and retried, down to one item, whose exception goes to its caller.
Commit = Callable[[list[T]], Awaitable[list[R | BaseException]]]


class GroupCommit(Generic[T, R]):
    def __init__(self, commit: Commit[T, R], max_group: int = 200) -> None:
        self.commit = commit
        self.max_group = max_group
        self.waiting: list[tuple[T, asyncio.Future[R]]] = []
        self.draining: asyncio.Task[None] | None = None

    async def submit(self, item: T) -> R:
        future: asyncio.Future[R] = asyncio.get_running_loop().create_future()
        self.waiting.append((item, future))
        if self.draining is None or self.draining.done():
            self.draining = asyncio.create_task(self._drain())
        return await future

    async def _drain(self) -> None:
        while self.waiting:
            group, self.waiting = self.waiting[: self.max_group], self.waiting[self.max_group :]
            await self._run(group)

    async def _run(self, group: list[tuple[T, asyncio.Future[R]]]) -> None:
        try:
            answers = await self.commit([item for item, _ in group])
        except Exception as error:
            if len(group) == 1:
                _settle(group[0][1], error)
                return
            half = len(group) // 2
            await self._run(group[:half])
            await self._run(group[half:])
            return
        except BaseException as error:  # cancelled: nobody may wait for ever
            for _, future in group:
                _settle(future, error)
            raise
        for (_, future), answer in zip(group, answers, strict=True):
            _settle(future, answer)


def _settle(future: asyncio.Future[R], answer: R | BaseException) -> None:
    if future.done():  # its caller gave up (a closed connection)
        return
    if isinstance(answer, BaseException):
        future.set_exception(answer)
    else:
        future.set_result(answer)
