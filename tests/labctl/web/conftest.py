"""Fixtures of the touchscreen tests: people with fast PIN hashes, sessions on a fake clock, and
a served touchscreen over real sockets on 127.0.0.1 (``serve``).

The server's lab: a real CommandRegistry with two fake commands (the I/O seam: they record who
called them), a real LabView reading a fake kiln runner and a real run store. Test modules take
these as fixtures and import the classes for their annotations only, under TYPE_CHECKING
(pytest names this package ``web``, mypy ``tests.labctl.web``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import json
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal, cast

import pytest
from aiohttp import ClientResponse, CookieJar, web
from aiohttp.test_utils import TestClient, TestServer

from labctl.alarms import AlarmBoard
from labctl.commands.registry import Caller, CommandRefused, CommandRegistry, Payload
from labctl.config.ui import UiSection
from labctl.config.users import Role, UserSection
from labctl.kiln.runner import KilnRunner
from labctl.kiln.snapshot import KilnSnapshot
from labctl.runs.store import RunStore
from labctl.web.live import LivePush
from labctl.web.lockout import Lockout
from labctl.web.pins import hash_pin
from labctl.web.server import TouchscreenServer
from labctl.web.signin import Sessions
from labctl.web.view import LabView

FAST = 2**4  # scrypt cost for tests (the stored hash carries it)
IDLE_S = 300.0
LAB = "test lab"
People = dict[str, tuple[Literal["technician", "supervisor"], str, str]]  # name: role, badge, PIN
PEOPLE: People = {
    "ana": ("technician", "1001", "2468"),
    "ben": ("supervisor", "2002", "1357"),
}
USERS = {
    name: UserSection(role=role, badge=badge, pin_hash=hash_pin(pin, n=FAST))
    for name, (role, badge, pin) in PEOPLE.items()
} | {"bot": UserSection(role="technician")}  # no badge: cannot sign in on the touchscreen
Client = TestClient[web.Request, web.Application]
DUMMY = hash_pin("000000", n=FAST)


@dataclass
class FakeClock:
    """A monotonic clock that moves only when told."""

    t: float = 1000.0

    def __call__(self) -> float:
        return self.t


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def advance(clock: FakeClock) -> Callable[[float], None]:
    """Move the sessions' clock by so many seconds (negative: back)."""

    def move(seconds: float) -> None:
        clock.t += seconds

    return move


@pytest.fixture
def people() -> People:
    return dict(PEOPLE)


@pytest.fixture
def lockout_file(tmp_path: Path) -> Path:
    """Where the wrong-PIN records of ``sessions`` are kept (the site's state_dir)."""
    return tmp_path / "state" / "signin-lockout.json"


@pytest.fixture
def sessions(clock: FakeClock, lockout_file: Path) -> Sessions:
    """Sessions of USERS on ``clock``; an unknown badge is checked at the users' (test) cost.

    The wrong-PIN throttle keeps its records in ``lockout_file`` and runs on the same clock
    (standing in for both the monotonic and the wall clock).
    """
    lockout_file.parent.mkdir(exist_ok=True)
    lockout = Lockout(lockout_file, clock=clock)
    return Sessions(USERS, idle_s=IDLE_S, now=clock, lockout=lockout, _dummy=DUMMY)


# ---------------------------------------------------------------- a served touchscreen


class KilnPayload(Payload):
    kiln: str


@dataclass
class FakeKiln:
    """What LabView reads of a kiln runner: its snapshot and its schedule (none here)."""

    snapshot: KilnSnapshot
    schedule: None = None


@dataclass
class Lab:
    """The lab behind the server; ``calls`` are the commands that reached a handler."""

    kiln: FakeKiln = field(
        default_factory=lambda: FakeKiln(
            KilnSnapshot(kiln="kiln1", at=0.0, wall=1e9, link="ok", state="idle", pv_c=20.0)
        )
    )
    calls: list[tuple[str, str, str]] = field(default_factory=list)  # command, kiln, who
    registry: CommandRegistry = field(default_factory=CommandRegistry)

    def __post_init__(self) -> None:
        async def hold(p: KilnPayload, who: Caller) -> Mapping[str, object]:
            if self.kiln.snapshot.state != "running":
                raise CommandRefused(f"{p.kiln} is not running; nothing to hold")
            self.calls.append(("hold", p.kiln, who.name))
            return {"kiln": p.kiln, "held_by": who.name}

        async def calibrate(p: KilnPayload, who: Caller) -> Mapping[str, object]:
            self.calls.append(("calibrate", p.kiln, who.name))
            return {}

        self.registry.register("hold", KilnPayload, Role.TECHNICIAN, hold, "hold a run")
        self.registry.register("calibrate", KilnPayload, Role.SUPERVISOR, calibrate, "calibrate")

    def set_state(self, state: str, **more: Any) -> None:
        self.kiln.snapshot = dataclasses.replace(self.kiln.snapshot, state=state, **more)


@dataclass
class Served:
    """A browser's client of a running server, and the server's view and live push."""

    client: Client
    view: LabView
    push: LivePush
    board: AlarmBoard

    @property
    def origin(self) -> str:
        return f"http://{self.client.host}:{self.client.port}"

    async def session(self) -> dict[str, Any]:
        """What ``GET /api/session`` answers."""
        body = await (await self.client.get("/api/session")).json()
        assert isinstance(body, dict)
        return body

    async def sign_in(self, badge: str = "1001", pin: str = "2468") -> str:
        """Sign in (ana, a technician, by default); returns the CSRF token."""
        resp = await self.client.post(
            "/api/signin", json={"badge": badge, "pin": pin}, headers={"Origin": self.origin}
        )
        assert resp.status == 200, await resp.text()
        csrf = (await resp.json())["csrf"]
        assert isinstance(csrf, str)
        return csrf

    async def command(
        self, name: str, payload: object, csrf: str | None, **headers: str
    ) -> ClientResponse:
        sent = {"Origin": self.origin} | headers
        if csrf is not None:
            sent["X-CSRF-Token"] = csrf
        return await self.client.post(
            f"/api/command/{name}", data=json.dumps(payload), headers=sent
        )

    @staticmethod
    async def refusal(resp: ClientResponse, status: int) -> str:
        """The reason of a refusal with ``status`` (the body is always ``{ok: false, error}``)."""
        body = await resp.json()
        assert resp.status == status, body
        assert body["ok"] is False
        assert isinstance(body["error"], str) and body["error"]
        return body["error"]


Serve = Callable[..., Awaitable[Served]]


@pytest.fixture
def lab() -> Lab:
    return Lab()


@pytest.fixture
async def serve(lab: Lab, sessions: Sessions, tmp_path: Path) -> AsyncIterator[Serve]:
    """``await serve(**ui)``: a server with that ``[ui]`` (its push running), and a client."""
    async with AsyncExitStack() as stack:
        store = await RunStore.open(tmp_path / "runs.sqlite")
        stack.push_async_callback(store.close)

        async def start(**ui: Any) -> Served:
            config = UiSection(port=0, **ui)
            board = AlarmBoard(lambda: 1e9)
            kilns = cast(Mapping[str, KilnRunner], {"kiln1": lab.kiln})
            view = LabView(LAB, kilns, {}, board, store, config.temperature_unit)
            push = LivePush(view.state, view.refresh, config.max_push_hz)
            server = TouchscreenServer(config, LAB, lab.registry, view, sessions, push)
            test_server = TestServer(server.app(), host="127.0.0.1")
            await stack.enter_async_context(test_server)
            # behind a TLS proxy the browser is on https, so its jar returns a Secure cookie
            https = [str(test_server.make_url("/"))] if config.behind_proxy else None
            jar = CookieJar(unsafe=True, treat_as_secure_origin=https)
            client: Client = TestClient(test_server, cookie_jar=jar)
            await stack.enter_async_context(client)
            task = asyncio.create_task(push.run(), name="test.push")
            stack.push_async_callback(push.close)
            stack.push_async_callback(stop, task)
            return Served(client, view, push, board)

        yield start


async def stop(task: asyncio.Task[None]) -> None:
    task.cancel()
    await asyncio.gather(task, return_exceptions=True)
