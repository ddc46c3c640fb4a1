"""Authorisation of every command on both ways in: the touchscreen and MQTT.

``TABLE`` is the policy: the role each command needs and a payload it accepts. Every command
the daemon registers (by the register_* functions labctl.daemon.app calls, handlers spied) is given
by an observer, a technician and a supervisor through the touchscreen's HTTP server (signed in
with badge and PIN) and through the MQTT command gate. A lower role is refused with a reason
naming the command and the role it needs (HTTP 403) and the handler is not reached; a role
high enough reaches the handler, as itself, with the validated payload. A command the daemon
registers without a row here fails :func:`test_the_table_has_every_command_of_the_daemon`.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, cast

import pytest
from aiohttp import CookieJar, web
from aiohttp.test_utils import TestClient, TestServer

import labctl.daemon.app
from labctl.alarms import AlarmBoard, register_alarm_commands
from labctl.commands.registry import Caller
from labctl.config.ui import UiSection
from labctl.config.users import Role, UserSection
from labctl.runs.store import RunStore
from labctl.telemetry.mqtt_commands import NO_REPLY, CommandGate
from labctl.web.live import LivePush
from labctl.web.options import register_start_options
from labctl.web.pins import hash_pin
from labctl.web.server import TouchscreenServer
from labctl.web.signin import Sessions
from labctl.web.view import LabView
from tests.fuzz.support import (
    REGISTER_FUNCTIONS,
    Dispatched,
    SpyRegistry,
    Unused,
    populated_registry,
)

OBS, TECH, SUP = Role.OBSERVER, Role.TECHNICIAN, Role.SUPERVISOR
KILN: dict[str, object] = {"kiln": "kiln1"}
CASTER: dict[str, object] = {"caster": "caster1"}
TABLE: dict[str, tuple[Role, dict[str, object]]] = {
    # queries: anyone who may look
    "status": (OBS, {}),
    "alarms": (OBS, {}),
    "start_options": (OBS, {}),
    "ledger_status": (OBS, {}),
    "ledger_consistency": (OBS, {"size": 1}),
    # running the lab: a technician
    "start": (TECH, KILN | {"profile": "gypsum-wax-small", "alloy": "silver-925"}),
    "hold": (TECH, KILN),
    "resume": (TECH, KILN),
    "abort": (TECH, KILN | {"reason": "door open"}),
    "take_flask": (TECH, KILN),
    "cast_start": (TECH, CASTER | KILN | {"alloy": "silver-925", "piece_class": "thin"}),
    "cast_confirm": (TECH, CASTER | {"step": "flask_placed"}),
    "cast_abort": (TECH, CASTER | {"reason": "lid open"}),
    "cast_reset_drive": (TECH, CASTER),
    "alarm_ack": (TECH, {"id": 1}),
    "ledger_record": (TECH, {"kind": "job-ticket", "record": {}}),
    "ledger_export": (TECH, {"cast_id": "cast-1"}),
    # the ledger's signing keys, the devices' commissioning records: a supervisor
    "ledger_rotate": (SUP, {}),
    "commissioning": (SUP, {}),
    "commission": (SUP, {"device": "kiln1"}),
}
STATE_CHANGING = sorted(name for name, (needed, _) in TABLE.items() if needed > OBS)
CELLS = [
    pytest.param(name, role, id=f"{name}-{role.name.lower()}")
    for name in sorted(TABLE)
    for role in Role
]

PIN, FAST = "2468", 2**4  # scrypt cost for tests (the stored hash carries it)
USERS = {
    role.name.lower(): UserSection.model_validate(
        {"role": role.name.lower(), "badge": f"100{role.value}", "pin_hash": hash_pin(PIN, n=FAST)}
    )
    for role in Role
}
Client = TestClient[web.Request, web.Application]


def user(role: Role) -> str:
    """The configured user (and touchscreen badge holder) with ``role``."""
    return role.name.lower()


def daemon_registry(profiles_dir: Path) -> SpyRegistry:
    """Every command the daemon registers, each handler a spy."""
    registry = populated_registry()
    register_alarm_commands(registry, AlarmBoard(lambda: 1e9))
    register_start_options(registry, profiles_dir, None)
    return registry


def assert_authorised(registry: SpyRegistry, name: str, role: Role, answer: dict[str, Any]) -> None:
    """``answer`` (``{ok, result}`` or ``{ok, error}``) is what ``role`` may get for ``name``."""
    needed, payload = TABLE[name]
    assert registry.role_of(name) is needed, f"{name} needs {registry.role_of(name)}"
    if role < needed:
        assert answer["ok"] is False, answer
        error = answer["error"]
        assert name in error and f"needs a {needed.name.lower()}" in error, error
        assert registry.calls == [], "a refused command reached its handler"
        return
    assert answer == {"ok": True, "result": {"spied": name}}
    validated = registry.models[name].model_validate(payload)
    assert registry.calls == [Dispatched(name, validated, Caller(user(role), role))]


# ---------------------------------------------------------------- the table is complete


def test_the_registry_is_built_by_every_register_function_of_the_daemon() -> None:
    used = {
        f for n, f in vars(labctl.daemon.app).items() if n.startswith("register_") and callable(f)
    }
    assert used == {*REGISTER_FUNCTIONS, register_alarm_commands, register_start_options}


def test_the_table_has_every_command_of_the_daemon(tmp_path: Path) -> None:
    assert sorted(TABLE) == daemon_registry(tmp_path).names()


# ---------------------------------------------------------------- MQTT


def mqtt_message(name: str, payload: dict[str, object]) -> bytes:
    return json.dumps({"id": "m1", "command": name, "args": payload}).encode()


async def mqtt(gate: CommandGate, who: str, name: str) -> dict[str, Any]:
    """The reply to command ``name`` with its good payload from ``who``, without its id."""
    reply = json.loads(await gate.handle(who, mqtt_message(name, TABLE[name][1])))
    assert isinstance(reply, dict) and reply.pop("id") == "m1", reply
    return reply


@pytest.mark.parametrize(("name", "role"), CELLS)
async def test_an_mqtt_command_needs_its_role(name: str, role: Role, tmp_path: Path) -> None:
    registry = daemon_registry(tmp_path)
    gate = CommandGate(registry, {user(r): r for r in Role})
    assert_authorised(registry, name, role, await mqtt(gate, user(role), name))


# ---------------------------------------------------------------- touchscreen


@asynccontextmanager
async def touchscreen(registry: SpyRegistry) -> AsyncIterator[Client]:
    """A browser's client of a touchscreen server over ``registry``, on 127.0.0.1."""
    sessions = Sessions(USERS, idle_s=300.0, _dummy=hash_pin("000000", n=FAST))
    view = LabView("lab", {}, {}, AlarmBoard(lambda: 1e9), cast(RunStore, Unused()))
    push = LivePush(view.state, view.refresh, max_hz=20.0)
    server = TouchscreenServer(UiSection(port=0), "lab", registry, view, sessions, push)
    test_server = TestServer(server.app(), host="127.0.0.1")
    client: Client = TestClient(test_server, cookie_jar=CookieJar(unsafe=True))
    async with test_server, client:
        yield client


async def post(
    client: Client, path: str, body: dict[str, object], csrf: str | None = None
) -> tuple[int, dict[str, Any]]:
    """POST ``body`` as the page would (same Origin, the CSRF token); status and answer."""
    headers = {"Origin": f"http://{client.host}:{client.port}"}
    if csrf is not None:
        headers["X-CSRF-Token"] = csrf
    resp = await client.post(path, json=body, headers=headers)
    answer = await resp.json()
    assert isinstance(answer, dict)
    return resp.status, answer


async def sign_in(client: Client, role: Role) -> str:
    """Sign in as the user with ``role``; the session's CSRF token."""
    status, answer = await post(client, "/api/signin", {"badge": f"100{role.value}", "pin": PIN})
    assert status == 200 and answer["user"]["role"] == user(role), answer
    csrf = answer["csrf"]
    assert isinstance(csrf, str)
    return csrf


@pytest.mark.parametrize(("name", "role"), CELLS)
async def test_a_touchscreen_command_needs_its_role(name: str, role: Role, tmp_path: Path) -> None:
    registry = daemon_registry(tmp_path)
    async with touchscreen(registry) as client:
        csrf = await sign_in(client, role)
        status, answer = await post(client, f"/api/command/{name}", TABLE[name][1], csrf)
    assert status == (403 if role < TABLE[name][0] else 200), answer
    assert_authorised(registry, name, role, answer)


# ---------------------------------------------------------------- nobody


async def test_an_unknown_user_and_a_signed_out_browser_change_nothing(tmp_path: Path) -> None:
    registry = daemon_registry(tmp_path)
    gate = CommandGate(registry, {user(r): r for r in Role})
    async with touchscreen(registry) as client:
        csrf = await sign_in(client, SUP)
        assert (await post(client, "/api/signout", {}, csrf))[0] == 200
        for name in STATE_CHANGING:
            status, answer = await post(client, f"/api/command/{name}", TABLE[name][1], csrf)
            assert (status, answer["ok"]) == (401, False), (name, answer)
            assert "not signed in" in answer["error"]
            silent = await gate.handle("mallory", mqtt_message(name, TABLE[name][1]))
            assert silent == NO_REPLY  # unknown users are dropped silently, and counted
    assert registry.calls == []
