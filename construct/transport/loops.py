"""`PerLoop`: one async client per event loop, closed on the loop that opened it.

Shared by the httpx transport (its AsyncClient) and the aiohttp one (its session):
a provider may be used from several event loops, one after another or at once from
different threads, and `close()` closes what every one of them opened.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import sys
import threading
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, Generic, TypeVar

__all__ = ["OTHER_LOOP_CLOSE_WAIT_S", "PerLoop"]

T = TypeVar("T")

# How long close() waits for a loop running in another thread to close its client there:
# ample for a pool to shut its sockets, short enough that a stuck loop cannot hang the caller.
OTHER_LOOP_CLOSE_WAIT_S = 5.0


class _LoopSlot(Generic[T]):
    """One event loop's client: closed once, on its own loop, however many ask."""

    __slots__ = ("_aclose", "_closed", "keeper", "loop", "value")

    def __init__(
        self, loop: asyncio.AbstractEventLoop, value: T, aclose: Callable[[T], Awaitable[None]]
    ) -> None:
        self.loop = loop
        self.value = value
        self._aclose = aclose
        self._closed: asyncio.Future[None] | None = None
        self.keeper: Any = None  # the async generator that closes it at the loop's shutdown

    async def aclose(self) -> None:
        """Close the value; on `self.loop` only, where its sockets belong."""
        if self._closed is not None:  # a close already under way: wait for it, once
            await asyncio.shield(self._closed)
            return
        self._closed = self.loop.create_future()
        try:
            await self._aclose(self.value)
        finally:
            self._closed.set_result(None)


def _running_loop() -> asyncio.AbstractEventLoop | None:
    try:
        return asyncio.get_running_loop()
    except RuntimeError:
        return None


class PerLoop(Generic[T]):
    """One async client per event loop, opened on first use there, closed on that loop.

    An async client's pooled connections belong to the loop that opened them: used from
    another loop they fail ("Event loop is closed"), and once their loop is closed they
    can no longer be closed cleanly, since closing a socket transport is a callback on
    its own loop. So each loop gets its own client, and each client is closed while its
    loop still runs: on `close()`/`aclose()`, or at the loop's shutdown.

    A loop is held only while it has a client here: `asyncio.run()` and `asyncio.Runner`
    (and a loop run by hand that awaits `loop.shutdown_asyncgens()`, as asyncio's docs
    ask) shut down async generators before closing the loop, and a generator parked per
    loop closes that loop's client then and forgets the loop. A loop closed without that
    step (`loop.close()` alone) can no longer close its sockets; it is dropped at the
    next new client or close, and asyncio closes those sockets, with a ResourceWarning,
    when it collects their transports.
    """

    def __init__(self, open_: Callable[[], T], aclose: Callable[[T], Awaitable[None]]) -> None:
        self._open = open_
        self._aclose = aclose
        self._lock = threading.Lock()
        self._slots: dict[asyncio.AbstractEventLoop, _LoopSlot[T]] = {}
        self._closing: set[asyncio.Task[None]] = set()

    def get(self) -> T:
        """The running loop's client. Per call, once it exists: no lock, one dict read and
        one `get_running_loop()`, which anyio's loop detection in every httpx request
        already pays several times over."""
        loop = asyncio.get_running_loop()
        slot = self._slots.get(loop)
        return slot.value if slot is not None else self._open_on(loop)

    def peek(self) -> T | None:
        """The running loop's client if one is open, without opening one."""
        slot = self._slots.get(asyncio.get_running_loop())
        return None if slot is None else slot.value

    def _open_on(self, loop: asyncio.AbstractEventLoop) -> T:
        with self._lock:
            slot = self._slots.get(loop)
            if slot is None:
                for gone in [old for old in self._slots if old.is_closed()]:
                    del self._slots[gone]
                slot = _LoopSlot(loop, self._open(), self._aclose)
                self._slots[loop] = slot
                self._park(slot)
        return slot.value

    def _park(self, slot: _LoopSlot[T]) -> None:
        """Close `slot` when its loop shuts down its async generators, before it closes."""
        if sys.get_asyncgen_hooks().finalizer is None:
            return  # a loop without asyncio's hooks: closed by close()/aclose() only
        slot.keeper = self._keeper(slot)
        # The first step registers the generator with the running loop and stops at its
        # `yield` without awaiting, so it is driven here, outside any await.
        with contextlib.suppress(StopIteration):
            slot.keeper.__anext__().send(None)

    async def _keeper(self, slot: _LoopSlot[T]) -> AsyncIterator[None]:
        try:
            yield
        finally:
            with self._lock:
                if self._slots.get(slot.loop) is slot:
                    del self._slots[slot.loop]
            await slot.aclose()

    def _take_all(self) -> list[_LoopSlot[T]]:
        with self._lock:
            slots, self._slots = list(self._slots.values()), {}
        return slots

    def _close_soon(self, slot: _LoopSlot[T]) -> concurrent.futures.Future[None] | None:
        """Have `slot` closed on its own loop; None: that loop is closed, nothing can run."""
        done: concurrent.futures.Future[None] = concurrent.futures.Future()

        def start() -> None:
            task = slot.loop.create_task(slot.aclose())
            self._closing.add(task)  # a task nobody holds may be collected midway
            task.add_done_callback(self._closing.discard)
            task.add_done_callback(lambda _: done.set_result(None))

        # The task is made on the loop, not here: a loop that never runs again then holds
        # a callback, not a coroutine that would warn it was never awaited.
        try:
            slot.loop.call_soon_threadsafe(start)
        except RuntimeError:  # closed
            return None
        return done

    def close(self) -> None:
        """Close every loop's client, from any thread.

        Each client is closed on its own loop, the only place its sockets can be closed
        without racing that loop's requests. The caller waits (a bounded time) for loops
        running in other threads, so that on return their sockets are shut; an idle loop
        closes its client when it next runs (at the latest at its shutdown), and the
        caller's own loop when the caller yields to it: waiting for either would block
        forever.
        """
        here = _running_loop()
        waits = []
        for slot in self._take_all():
            done = self._close_soon(slot)
            if done is not None and slot.loop is not here and slot.loop.is_running():
                waits.append(done)
        if waits:
            concurrent.futures.wait(waits, timeout=OTHER_LOOP_CLOSE_WAIT_S)

    async def aclose(self) -> None:
        """Close every loop's client: the running loop's at once, the others' as `close()`."""
        here = asyncio.get_running_loop()
        mine: list[_LoopSlot[T]] = []
        waits = []
        for slot in self._take_all():
            if slot.loop is here:
                mine.append(slot)
            elif (done := self._close_soon(slot)) is not None and slot.loop.is_running():
                waits.append(asyncio.wrap_future(done))
        for slot in mine:
            await slot.aclose()
        if waits:
            await asyncio.wait(waits, timeout=OTHER_LOOP_CLOSE_WAIT_S)
