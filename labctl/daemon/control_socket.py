"""The daemon's local command socket: JSON lines over a Unix socket, one request per line.

Access control is the file system's: the socket is created mode 0660 in the state
directory, so only the service user and its group can connect. The caller's identity comes
from the kernel (``SO_PEERCRED``), never from the request: a command is recorded with the
Unix user that sent it. Root and the service user act as supervisors; members of the group
as technicians.

Request: ``{"cmd": "start", "args": {"kiln": "kiln1", "profile": "gypsum-wax-small"}}``
Reply: ``{"ok": true, "result": {...}}`` or ``{"ok": false, "error": "<reason>"}``.

Every connection gets exactly one reply line, whatever it sends. Clients cannot exhaust the
daemon's file descriptors (the device links need them too): past ``max_clients`` at once, one
more is answered "busy" and closed; one that sends no line within ``idle_timeout_s`` is answered
and closed. A line over :data:`MAX_REQUEST_BYTES`, not UTF-8, not JSON or too deep is refused
with the reason; an error in a command is answered "internal error: ..." and logged with its
traceback. Counted: ``accepted``, ``refused_busy``, ``idle_closed``, ``bad_requests``.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import pwd
import socket
import struct
from pathlib import Path

from labctl.commands.bounded_json import InputRefused, loads_bounded
from labctl.commands.client import CLIENT_TIMEOUT_S, WRITE_TIMEOUT_S, close_quietly
from labctl.commands.registry import Caller, CommandRefused, CommandRegistry
from labctl.config.users import Role

log = logging.getLogger(__name__)

MAX_REQUEST_BYTES = 16_384
ANSWER_TIMEOUT_S = CLIENT_TIMEOUT_S - 2.0  # so the client hears "no answer" before it gives up
MAX_CLIENTS = 32
IDLE_TIMEOUT_S = 5.0


class BadRequest(Exception):
    """A request line that is not a command: ``reason`` says why."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def parse_request(line: bytes) -> tuple[str, dict[str, object]]:
    """The command name and args in one request line, or :class:`BadRequest`. Never else."""
    try:
        request = loads_bounded(line, max_bytes=MAX_REQUEST_BYTES)
    except InputRefused as refused:
        raise BadRequest(refused.reason) from None
    if not isinstance(request, dict) or not isinstance(request.get("cmd"), str):
        raise BadRequest('a request is a JSON object {"cmd": ..., "args": {...}}')
    args = request.get("args", {})
    if not isinstance(args, dict):
        raise BadRequest("args must be a JSON object")
    return request["cmd"], args


def encode_reply(reply: dict[str, object]) -> bytes:
    """One reply line; a result JSON cannot hold becomes an internal-error reply."""
    try:
        return json.dumps(reply, default=str, allow_nan=False).encode() + b"\n"
    except (TypeError, ValueError) as err:  # e.g. NaN, or a circular result
        log.error("command socket: unencodable reply: %s", err)
        return json.dumps({"ok": False, "error": f"internal error: reply {err}"}).encode() + b"\n"


def _error(reason: str) -> dict[str, object]:
    return {"ok": False, "error": reason}


def _peer(writer: asyncio.StreamWriter) -> Caller:
    sock: socket.socket = writer.get_extra_info("socket")
    creds = sock.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, struct.calcsize("3i"))
    _pid, uid, _gid = struct.unpack("3i", creds)
    try:
        name = pwd.getpwuid(uid).pw_name
    except KeyError:
        name = f"uid {uid}"
    role = Role.SUPERVISOR if uid in (0, os.getuid()) else Role.TECHNICIAN
    return Caller(name=name, role=role)


class ControlSocket:
    """Serves the command registry on a Unix socket, boundedly; see the module docstring."""

    def __init__(
        self,
        path: Path,
        registry: CommandRegistry,
        *,
        max_clients: int = MAX_CLIENTS,
        idle_timeout_s: float = IDLE_TIMEOUT_S,
        answer_timeout_s: float = ANSWER_TIMEOUT_S,
    ) -> None:
        self._path = path
        self._registry = registry
        self._server: asyncio.Server | None = None
        self._max_clients = max_clients
        self._idle_timeout = idle_timeout_s
        self._answer_timeout = answer_timeout_s
        self._active = 0
        self._busy_since: int | None = None  # refused_busy when the limit was last reached
        self.accepted = 0  # connections served (not refused busy)
        self.refused_busy = 0  # connections answered "busy" and closed
        self.idle_closed = 0  # connections closed for sending no request in time
        self.bad_requests = 0  # request lines refused before dispatch

    async def start(self) -> None:
        with contextlib.suppress(FileNotFoundError):
            self._path.unlink()
        self._server = await asyncio.start_unix_server(
            self._serve, path=str(self._path), limit=MAX_REQUEST_BYTES
        )
        self._path.chmod(0o660)
        log.info("command socket listening at %s", self._path)

    async def close(self) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()
            self._server = None
        with contextlib.suppress(FileNotFoundError):
            self._path.unlink()

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            await self._serve_one(reader, writer)
        except asyncio.CancelledError:  # shutdown; Python 3.11's stream callback would log a
            writer.close()  # cancelled handler as an error: end it quietly instead

    async def _serve_one(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        if self._active >= self._max_clients:
            self._refuse_busy()
            await self._send(writer, _error(f"busy: {self._max_clients} clients connected; retry"))
            await close_quietly(writer)
            return
        self._active += 1
        self.accepted += 1
        try:
            try:
                reply = await self._exchange(reader, writer)
            except Exception as err:  # never a client without a reply, nor a traceback to it
                log.exception("command socket: request failed")
                reply = _error(f"internal error: {type(err).__name__}")
            await self._send(writer, reply)
        finally:
            self._active -= 1
            self._not_busy()
            await close_quietly(writer)

    async def _exchange(
        self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter
    ) -> dict[str, object]:
        """Read one request line and answer it; the reply for every way that can go."""
        try:
            async with asyncio.timeout(self._idle_timeout):
                line = await reader.readline()
        except TimeoutError:
            self.idle_closed += 1
            return _error(f"no request within {self._idle_timeout:g} s")
        except ValueError:  # over the StreamReader's limit (LimitOverrunError is one too)
            self.bad_requests += 1
            return _error(f"request longer than {MAX_REQUEST_BYTES} bytes")
        try:
            cmd, args = parse_request(line)
        except BadRequest as bad:
            self.bad_requests += 1
            return _error(bad.reason)
        caller = _peer(writer)
        try:
            async with asyncio.timeout(self._answer_timeout):
                result = await self._registry.dispatch(cmd, args, caller)
        except CommandRefused as refused:
            return _error(refused.reason)
        except TimeoutError:
            log.warning("command socket: %s from %s: no answer in time", cmd, caller.name)
            return _error(f"internal error: no answer within {self._answer_timeout:g} s")
        except Exception as err:
            log.exception("command socket: %s from %s failed", cmd, caller.name)
            return _error(f"internal error: {type(err).__name__}: {err}")
        return {"ok": True, "result": dict(result)}

    async def _send(self, writer: asyncio.StreamWriter, reply: dict[str, object]) -> None:
        """Write one reply line; a client gone or not reading is let go quietly."""
        try:
            writer.write(encode_reply(reply))
            async with asyncio.timeout(WRITE_TIMEOUT_S):
                await writer.drain()
        except (ConnectionError, TimeoutError) as err:
            log.debug("command client dropped before its reply: %s", type(err).__name__)

    def _refuse_busy(self) -> None:
        """Count a refusal; log when the limit is first reached (not per refusal)."""
        self.refused_busy += 1
        if self._busy_since is None:
            self._busy_since = self.refused_busy - 1
            log.warning("command socket: %d clients; refusing more", self._max_clients)

    def _not_busy(self) -> None:
        if self._busy_since is not None and self._active < self._max_clients:
            refused, self._busy_since = self.refused_busy - self._busy_since, None
            log.warning("command socket: accepting clients again (%d refused)", refused)
