"""Live state over websockets: a full state on connect, then only the fields that changed.

Listeners (kiln snapshots, caster status, alarms) only :meth:`LivePush.poke`; one task
rebuilds the state at most ``max_hz`` times a second, diffs it against what the browsers
have, and sends each of them the same patch. A browser that does not take a message within
:data:`SEND_TIMEOUT_S` is dropped (it reconnects and gets a full state), so one stuck tab
cannot hold up the others or grow a queue in the daemon.

Every :data:`HEARTBEAT_S` each browser also gets ``{"type": "heartbeat", "t": wall}``: a
screen that hears nothing for a few seconds (the daemon frozen, the network cut, with the
socket still open) marks what it shows as stale and disables its commands.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import time
from collections.abc import Awaitable, Callable, Mapping

from aiohttp import web

log = logging.getLogger(__name__)

SEND_TIMEOUT_S = 2.0
HEARTBEAT_S = 1.0  # the screens call contact lost after 5 s without a message
Path = tuple[str, ...]
Flat = dict[Path, object]


def flatten(state: Mapping[str, object], prefix: Path = ()) -> Flat:
    """Key paths to leaves; dicts are walked, everything else (lists too) is a leaf.

    Paths are tuples, sent as JSON arrays: machine names may contain dots.
    """
    flat: Flat = {}
    for key, value in state.items():
        path = (*prefix, key)
        if isinstance(value, Mapping) and value:
            flat.update(flatten(value, path))
        else:
            flat[path] = value
    return flat


def diff(before: Flat, after: Flat) -> tuple[Flat, list[Path]]:
    """(paths set to a new value, paths removed) from ``before`` to ``after``.

    A removed path is the shortest prefix with nothing left under it, so a machine that goes
    away is removed whole rather than leaving an empty object behind.
    """
    changed = {k: v for k, v in after.items() if k not in before or before[k] != v}
    present = {path[:n] for path in after for n in range(1, len(path) + 1)}
    removed: list[Path] = []
    for path in before:
        if path in after or path in present:  # kept, or a leaf that became a dict
            continue
        gone = next(path[:n] for n in range(1, len(path) + 1) if path[:n] not in present)
        if gone not in removed:
            removed.append(gone)
    return changed, removed


def patch_message(changed: Flat, removed: list[Path]) -> str:
    """The websocket patch: ``set`` as [path, value] pairs, ``unset`` as paths."""
    return json.dumps(
        {
            "type": "patch",
            "t": time.time(),
            "set": [[list(k), v] for k, v in changed.items()],
            "unset": [list(k) for k in removed],
        }
    )


Client = tuple[web.WebSocketResponse, Callable[[], bool]]  # socket, "may it still see the lab?"


class LivePush:
    """Fans state changes out to every connected browser."""

    def __init__(
        self,
        build: Callable[[], dict[str, object]],
        refresh: Callable[[], Awaitable[None]],
        max_hz: float,
        heartbeat_s: float = HEARTBEAT_S,
    ) -> None:
        self._build, self._refresh, self._min_gap_s = build, refresh, 1.0 / max_hz
        self._heartbeat_s = heartbeat_s
        self._sending = asyncio.Lock()  # one message at a time on each socket
        self._clients: list[Client] = []
        self._dirty = asyncio.Event()
        self._state: dict[str, object] | None = None
        self._flat: Flat = {}
        self.patches = 0

    def poke(self, *_: object) -> None:
        """Something changed (called from listeners; never blocks)."""
        self._dirty.set()

    async def add(self, ws: web.WebSocketResponse, allowed: Callable[[], bool]) -> None:
        """Send ``ws`` the full state, then include it in every patch."""
        if self._state is None:
            await self._rebuild()
        await ws.send_str(json.dumps({"type": "full", "t": time.time(), "state": self._state}))
        self._clients.append((ws, allowed))

    def remove(self, ws: web.WebSocketResponse) -> None:
        self._clients = [c for c in self._clients if c[0] is not ws]

    async def run(self) -> None:
        """Send patches as the lab changes, and a heartbeat every ``heartbeat_s``."""
        async with asyncio.TaskGroup() as tasks:
            tasks.create_task(self._beat(), name="touchscreen.heartbeat")
            await self._patches()

    async def _beat(self) -> None:
        while True:
            await asyncio.sleep(self._heartbeat_s)
            if self._clients:
                await self._send(json.dumps({"type": "heartbeat", "t": time.time()}))

    async def _patches(self) -> None:
        while True:
            await self._dirty.wait()
            self._dirty.clear()
            changed, removed = await self._rebuild()
            if changed or removed:
                self.patches += 1
                await self._send(patch_message(changed, removed))
            await asyncio.sleep(self._min_gap_s)

    async def close(self) -> None:
        for ws, _ in self._clients:
            await ws.close()
        self._clients.clear()

    async def _rebuild(self) -> tuple[Flat, list[Path]]:
        await self._refresh()
        self._state = self._build()
        flat = flatten(self._state)
        changed, removed = diff(self._flat, flat)
        self._flat = flat
        return changed, removed

    async def _send(self, text: str) -> None:
        async with self._sending:
            clients = list(self._clients)
            results = await asyncio.gather(
                *(self._send_one(ws, allowed, text) for ws, allowed in clients)
            )
        for (ws, _), ok in zip(clients, results, strict=True):
            if not ok:
                self.remove(ws)
                with contextlib.suppress(TimeoutError, ConnectionError, RuntimeError):
                    await asyncio.wait_for(ws.close(), SEND_TIMEOUT_S)

    @staticmethod
    async def _send_one(ws: web.WebSocketResponse, allowed: Callable[[], bool], text: str) -> bool:
        if ws.closed or not allowed():
            return False
        try:
            await asyncio.wait_for(ws.send_str(text), SEND_TIMEOUT_S)
        except (TimeoutError, ConnectionError, RuntimeError) as err:
            log.info("touchscreen client dropped: %s", type(err).__name__)
            return False
        return True
