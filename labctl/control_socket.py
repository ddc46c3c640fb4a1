"""The daemon's local command socket: JSON lines over a Unix socket, one request per line.

Access control is the file system's: the socket is created mode 0660 in the state
directory, so only the service user and its group can connect. The caller's identity comes
from the kernel (``SO_PEERCRED``), never from the request: a command is recorded with the
Unix user that sent it. Root and the service user act as supervisors; members of the group
as technicians.

Request: ``{"cmd": "start", "args": {"kiln": "kiln1", "profile": "gypsum-wax-small"}}``
Reply: ``{"ok": true, "result": {...}}`` or ``{"ok": false, "error": "<reason>"}``.
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

from labctl.commands import Caller, CommandRefused, CommandRegistry, Role

log = logging.getLogger(__name__)

MAX_REQUEST_BYTES = 16_384
CLIENT_TIMEOUT_S = 30.0


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
    """Serves the command registry on a Unix socket."""

    def __init__(self, path: Path, registry: CommandRegistry) -> None:
        self._path = path
        self._registry = registry
        self._server: asyncio.Server | None = None

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
        caller = _peer(writer)
        try:
            async with asyncio.timeout(CLIENT_TIMEOUT_S):
                line = await reader.readline()
                reply = await self._answer(line, caller)
                writer.write(json.dumps(reply).encode() + b"\n")
                await writer.drain()
        except (TimeoutError, ConnectionError, ValueError) as err:
            log.debug("command client %s dropped: %s", caller.name, err)
        finally:
            writer.close()
            with contextlib.suppress(ConnectionError):
                await writer.wait_closed()

    async def _answer(self, line: bytes, caller: Caller) -> dict[str, object]:
        try:
            request = json.loads(line)
            if not isinstance(request, dict) or not isinstance(request.get("cmd"), str):
                raise CommandRefused('a request is a JSON object {"cmd": ..., "args": {...}}')
            args = request.get("args", {})
            if not isinstance(args, dict):
                raise CommandRefused("args must be a JSON object")
            result = await self._registry.dispatch(request["cmd"], args, caller)
        except json.JSONDecodeError as err:
            return {"ok": False, "error": f"not JSON: {err.msg} at column {err.colno}"}
        except CommandRefused as refused:
            return {"ok": False, "error": refused.reason}
        return {"ok": True, "result": dict(result)}


async def send_command(path: Path, cmd: str, args: dict[str, object]) -> dict[str, object]:
    """Send one command to a running daemon and return its reply."""
    try:
        reader, writer = await asyncio.open_unix_connection(str(path), limit=1 << 20)
    except (FileNotFoundError, ConnectionRefusedError) as err:
        return {"ok": False, "error": f"no daemon is listening at {path} ({err.strerror})"}
    except PermissionError:
        return {"ok": False, "error": f"not allowed to talk to the daemon at {path}"}
    try:
        writer.write(json.dumps({"cmd": cmd, "args": args}).encode() + b"\n")
        await writer.drain()
        async with asyncio.timeout(CLIENT_TIMEOUT_S):
            line = await reader.readline()
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError):
            await writer.wait_closed()
    reply: dict[str, object] = json.loads(line) if line else {"ok": False, "error": "no reply"}
    return reply
