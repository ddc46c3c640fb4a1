"""The control socket's client side: one command to a running daemon, one reply.

It stands below everything that talks to the daemon (``labctl`` CLI, ``labctl ledger``,
commissioning's preflight) so none of them imports the daemon; the server,
:mod:`labctl.daemon.control_socket`, takes its limits from here so both ends agree.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from pathlib import Path

from labctl.commands.bounded_json import InputRefused, loads_bounded

MAX_REPLY_BYTES = 1 << 20
CLIENT_TIMEOUT_S = 30.0  # what send_command waits for a reply
WRITE_TIMEOUT_S = 2.0  # a client that does not read its reply is cut off after this


async def close_quietly(writer: asyncio.StreamWriter) -> None:
    """Close a connection, waiting at most WRITE_TIMEOUT_S for a peer that does not read."""
    writer.close()
    with contextlib.suppress(ConnectionError, TimeoutError):
        async with asyncio.timeout(WRITE_TIMEOUT_S):
            await writer.wait_closed()


async def send_command(path: Path, cmd: str, args: dict[str, object]) -> dict[str, object]:
    """Send one command to a running daemon; its reply, or an error reply (never raises)."""
    try:
        reader, writer = await asyncio.open_unix_connection(str(path), limit=MAX_REPLY_BYTES)
    except (FileNotFoundError, ConnectionRefusedError) as err:
        return {"ok": False, "error": f"no daemon is listening at {path} ({err.strerror})"}
    except PermissionError:
        return {"ok": False, "error": f"not allowed to talk to the daemon at {path}"}
    try:
        writer.write(json.dumps({"cmd": cmd, "args": args}).encode() + b"\n")
        await writer.drain()
        async with asyncio.timeout(CLIENT_TIMEOUT_S):
            line = await reader.readline()
    except TimeoutError:
        return {"ok": False, "error": f"no reply from the daemon within {CLIENT_TIMEOUT_S:g} s"}
    except (ConnectionError, ValueError) as err:
        return {"ok": False, "error": f"the daemon closed the connection: {type(err).__name__}"}
    finally:
        await close_quietly(writer)
    if not line:
        return {"ok": False, "error": "no reply"}
    try:
        reply = loads_bounded(line, max_bytes=MAX_REPLY_BYTES, max_depth=64)
    except InputRefused as refused:
        return {"ok": False, "error": f"unreadable reply from the daemon: {refused.reason}"}
    if not isinstance(reply, dict):
        return {"ok": False, "error": "unreadable reply from the daemon: not a JSON object"}
    return reply
