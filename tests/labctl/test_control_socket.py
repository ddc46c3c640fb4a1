"""The control socket against hostile and careless clients, over a real Unix socket.

Issue 11: the socket took unlimited connections (300 idle ones at a file limit of 256 kept the
bus from reconnecting), nested JSON gave no reply and a traceback, and an error in a command
left the client without an answer.
"""

from __future__ import annotations

import asyncio
import json
import tempfile
from collections.abc import AsyncIterator, Mapping
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from labctl.commands.client import send_command
from labctl.commands.registry import Caller, CommandRegistry, Payload
from labctl.config.users import Role
from labctl.daemon.control_socket import (
    MAX_REQUEST_BYTES,
    BadRequest,
    ControlSocket,
    encode_reply,
    parse_request,
)

NESTED = b"[" * 1000 + b"]" * 1000


class Echo(Payload):
    text: str = ""


class BuggyRegistry(CommandRegistry):
    """A registry whose dispatch itself fails for "boom" (a bug the socket must survive)."""

    async def dispatch(
        self, name: str, raw: Mapping[str, object], caller: Caller
    ) -> Mapping[str, object]:
        if name == "boom":
            raise RuntimeError("a bug")
        return await super().dispatch(name, raw, caller)


def registry() -> CommandRegistry:
    reg = BuggyRegistry()

    async def echo(payload: Echo, caller: Caller) -> Mapping[str, object]:
        return {"text": payload.text, "by": caller.name}

    reg.register("echo", Echo, Role.OBSERVER, echo, "say it back")
    return reg


@asynccontextmanager
async def served(**limits: Any) -> AsyncIterator[tuple[ControlSocket, Path]]:
    with tempfile.TemporaryDirectory(dir="/tmp") as tmp:  # short: sun_path is 108 bytes
        path = Path(tmp) / "labctl.sock"
        sock = ControlSocket(path, registry(), **limits)
        await sock.start()
        try:
            yield sock, path
        finally:
            await sock.close()


async def exchange(path: Path, data: bytes) -> tuple[dict[str, Any], bytes]:
    """Send ``data``; the one reply line, decoded, and what came after it (EOF: b"")."""
    reader, writer = await asyncio.open_unix_connection(str(path))
    try:
        writer.write(data)
        await writer.drain()
        async with asyncio.timeout(5):
            line = await reader.readline()
            try:
                rest = await reader.read()
            except ConnectionResetError:  # closed with our request unread: closed all the same
                rest = b""
    finally:
        writer.close()
    reply = json.loads(line)
    assert isinstance(reply, dict)
    return reply, rest


async def until(condition: Any, timeout_s: float = 5.0) -> None:
    async with asyncio.timeout(timeout_s):
        while not condition():
            await asyncio.sleep(0.005)


async def test_a_request_is_answered_in_the_same_wire_format() -> None:
    async with served() as (sock, path):
        reply, rest = await exchange(path, b'{"cmd": "echo", "args": {"text": "hi"}}\n')
        assert reply["ok"] is True and reply["result"]["text"] == "hi"
        assert rest == b""
        assert await send_command(path, "echo", {"text": "x"}) == {
            "ok": True,
            "result": {"text": "x", "by": reply["result"]["by"]},
        }
        assert sock.accepted == 2 and sock.bad_requests == 0


@pytest.mark.parametrize(
    ("line", "error"),
    [
        (NESTED + b"\n", "nested deeper than 16 levels"),
        (b"\xff\xfe\n", "not UTF-8"),
        (b"start kiln1\n", "not JSON"),
        (b'["echo"]\n', "a request is a JSON object"),
        (b'{"cmd": "echo", "args": [1]}\n', "args must be a JSON object"),
        (b"x" * (MAX_REQUEST_BYTES + 10) + b"\n", f"request longer than {MAX_REQUEST_BYTES}"),
        (b"", "not JSON"),  # connected, sent nothing, closed its side
    ],
    ids=["nested", "binary", "text", "list", "args", "over-long", "empty"],
)
async def test_bad_requests_get_a_json_error_never_a_traceback(
    line: bytes, error: str, caplog: pytest.LogCaptureFixture
) -> None:
    async with served() as (sock, path):
        reader, writer = await asyncio.open_unix_connection(str(path))
        writer.write(line)
        writer.write_eof()
        async with asyncio.timeout(5):
            reply = json.loads(await reader.readline())
        writer.close()
        assert reply["ok"] is False and error in reply["error"], reply
        assert sock.bad_requests == 1
        ok, _ = await exchange(path, b'{"cmd": "echo"}\n')  # and it still serves
        assert ok["ok"] is True
    assert "Traceback" not in caplog.text


async def test_an_error_in_a_command_is_an_internal_error_reply(
    caplog: pytest.LogCaptureFixture,
) -> None:
    async with served() as (_, path):
        reply, _ = await exchange(path, b'{"cmd": "boom"}\n')
        assert reply == {"ok": False, "error": "internal error: RuntimeError: a bug"}
    assert caplog.text.count("Traceback") == 1  # logged once, with its traceback


async def test_an_idle_client_is_answered_and_closed() -> None:
    async with served(idle_timeout_s=0.2) as (sock, path):
        reply, rest = await exchange(path, b"")
        assert reply == {"ok": False, "error": "no request within 0.2 s"}
        assert rest == b""  # closed by the daemon
        assert sock.idle_closed == 1


async def test_the_33rd_connection_is_refused_and_served_again_once_one_leaves() -> None:
    async with served(max_clients=32, idle_timeout_s=5.0) as (sock, path):
        idle = [await asyncio.open_unix_connection(str(path)) for _ in range(32)]
        await until(lambda: sock.accepted == 32)
        reply, rest = await exchange(path, b'{"cmd": "echo"}\n')
        assert reply == {"ok": False, "error": "busy: 32 clients connected; retry"}
        assert rest == b""
        assert (await send_command(path, "echo", {}))["ok"] is False  # the CLI: no traceback
        assert sock.refused_busy == 2
        _, writer = idle.pop()
        writer.close()  # one leaves: it is answered (not JSON) and the slot is free
        await until(lambda: sock.accepted - sock.bad_requests == 31)
        reply, _ = await exchange(path, b'{"cmd": "echo"}\n')
        assert reply["ok"] is True
        for _, writer in idle:
            writer.close()
        assert sock.idle_closed == 0


async def test_many_idle_clients_do_not_hold_descriptors_past_the_idle_timeout() -> None:
    async with served(max_clients=8, idle_timeout_s=0.2) as (sock, path):
        clients = [await asyncio.open_unix_connection(str(path)) for _ in range(40)]
        async with asyncio.timeout(5):
            for reader, _ in clients:  # every one is answered with one line, then closed
                reply = json.loads(await reader.read())
                assert "no request within" in reply["error"] or "busy" in reply["error"]
        for _, writer in clients:
            writer.close()
        assert sock.accepted + sock.refused_busy == 40
        assert sock.idle_closed == sock.accepted
        reply, _ = await exchange(path, b'{"cmd": "echo"}\n')
        assert reply["ok"] is True


# ------------------------------------------------------------------ hypothesis


@st.composite
def request_lines(draw: st.DrawFn) -> bytes:
    """Deeply nested, huge, binary, or JSON documents of odd shapes."""
    kind = draw(st.sampled_from(["nested", "huge", "binary", "json"]))
    if kind == "nested":
        depth = draw(st.integers(0, 5000))
        opener, closer = draw(st.sampled_from([("[", "]"), ('{"cmd":', "}"), ('{"args":', "}")]))
        return (opener * depth + "1" + closer * draw(st.integers(0, depth))).encode()
    if kind == "huge":
        return draw(st.sampled_from([b"[", b"\x00", b'"a",'])) * draw(st.integers(1, 40_000))
    if kind == "binary":
        return draw(st.binary(max_size=2000))
    value = st.recursive(
        st.none() | st.booleans() | st.floats() | st.integers() | st.text(max_size=5),
        lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=5), inner),
        max_leaves=20,
    )
    document = draw(value | st.fixed_dictionaries({"cmd": value}, optional={"args": value}))
    return json.dumps(document).encode()


@settings(max_examples=300, deadline=None)
@given(line=request_lines())
def test_parse_request_gives_a_command_or_a_reason(line: bytes) -> None:
    try:
        cmd, args = parse_request(line)
    except BadRequest as bad:
        reason = bad.reason
    else:
        reason = "" if type(cmd) is str and type(args) is dict else "wrong types"
        assert not reason, reason
        return
    assert reason.strip()


@settings(max_examples=100, deadline=None)
@given(result=st.dictionaries(st.text(max_size=5), st.floats() | st.text() | st.integers()))
def test_any_result_encodes_to_one_json_line(result: dict[str, object]) -> None:
    line = encode_reply({"ok": True, "result": result})
    assert line.endswith(b"\n") and line.count(b"\n") == 1
    assert isinstance(json.loads(line), dict)
