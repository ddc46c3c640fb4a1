"""The three clients a command storm fires through (control socket, MQTT, HTTP), each recording
exactly what came back for every command, and the ledger of those answers.

Written here rather than reused (``send_command`` turns every failure into an error reply):
the storm must tell "the daemon answered" from "nobody answered" and "answered twice".
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
import time
from collections import Counter
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import aiohttp
import aiomqtt

from hil_tests.support.storm import LAB, password
from labctl.sim.site import RIG_PEOPLE

# Client timeouts, wall seconds: what each real client waits (control socket: send_command's
# 30 s; the touchscreen's fetch: 20 s; MQTT: a script waiting for its reply). Every one is
# longer than the daemon's 10 s command deadline, so a late command is refused, not lost.
CLI_TIMEOUT_S = 30.0
HTTP_TIMEOUT_S = 20.0
MQTT_TIMEOUT_S = 20.0


@dataclass
class Answer:
    """One command sent, and what came back for it."""

    transport: str  # cli / mqtt / http
    command: str
    sent: float  # monotonic
    took_s: float | None = None  # None: no answer (yet)
    outcome: str = "pending"  # ok / refused / unreachable / broken / no-answer / pending
    reason: str = ""
    replies: int = 0  # answers that arrived (a command must get exactly one)
    status: int | None = None  # HTTP status


@dataclass
class Ledger:
    """Every command of the storm, in order sent."""

    answers: list[Answer] = field(default_factory=list)

    def add(self, transport: str, command: str) -> Answer:
        answer = Answer(transport, command, time.monotonic())
        self.answers.append(answer)
        return answer


def answered(answer: Answer, reply: dict[str, Any], *, status: int | None = None) -> None:
    """Record the daemon's reply ``reply`` (``{"ok": ..., "error"/"result": ...}``)."""
    answer.replies += 1
    if answer.took_s is None:
        answer.took_s = time.monotonic() - answer.sent
    answer.status = status
    if reply.get("ok") is True:
        answer.outcome = "ok"
    else:
        answer.outcome = "refused"
        answer.reason = str(reply.get("error"))


def failed(answer: Answer, outcome: str, reason: str) -> None:
    """Nothing from the daemon: ``outcome`` is unreachable, broken or no-answer."""
    answer.took_s = time.monotonic() - answer.sent
    answer.outcome, answer.reason = outcome, reason


_NUMBERS = re.compile(r"\d+(\.\d+)?")


def reason_key(reason: str) -> str:
    """A refusal reason with its numbers and quoted names blanked, for counting kinds."""
    text = _NUMBERS.sub("N", reason)
    text = re.sub(r"'[^']*'", "'…'", text)
    return text[:90]


def summary(ledger: Ledger) -> str:
    by_transport: dict[str, Counter[str]] = {}
    reasons: Counter[str] = Counter()
    for a in ledger.answers:
        by_transport.setdefault(a.transport, Counter())[a.outcome] += 1
        if a.outcome == "refused":
            reasons[reason_key(a.reason)] += 1
    lines = [f"storm: {len(ledger.answers)} commands"]
    for transport, counts in sorted(by_transport.items()):
        lines.append(f"  {transport}: {sum(counts.values())} sent, {dict(counts)}")
    lines.append("  top refusal reasons:")
    lines += [f"    {n:4d}  {why}" for why, n in reasons.most_common(5)]
    return "\n".join(lines)


# ------------------------------------------------------------------------ the three clients
async def cli_call(sock: Path, line: bytes, answer: Answer) -> None:
    """One control-socket request: one reply line expected, then the daemon closes."""
    try:
        reader, writer = await asyncio.open_unix_connection(str(sock), limit=1 << 20)
    except (FileNotFoundError, ConnectionRefusedError) as err:
        failed(answer, "unreachable", f"connect: {type(err).__name__}")
        return
    try:
        writer.write(line)
        await writer.drain()
        async with asyncio.timeout(CLI_TIMEOUT_S):
            first = await reader.readline()
            rest = await reader.read() if first else b""  # the daemon closes after its reply
    except TimeoutError:
        failed(answer, "no-answer", f"nothing within {CLI_TIMEOUT_S:g} s")
        return
    except (ConnectionError, ValueError) as err:
        failed(answer, "broken", f"{type(err).__name__}")
        return
    finally:
        writer.close()
        with contextlib.suppress(ConnectionError, TimeoutError):
            async with asyncio.timeout(2):
                await writer.wait_closed()
    if not first.endswith(b"\n"):
        failed(answer, "broken", f"closed without a reply line ({first[:80]!r})")
        return
    answered(answer, json.loads(first))
    if rest.strip():
        answer.replies += rest.count(b"\n")  # a second answer: counted, asserted by the test


class HttpClient:
    """A touchscreen client signed in as ``tech``: cookie and CSRF token, no browser."""

    def __init__(self, url: str) -> None:
        self.url = url
        self.cookie: str | None = None
        self.csrf: str | None = None
        self.session = aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=HTTP_TIMEOUT_S))

    async def close(self) -> None:
        await self.session.close()

    async def sign_in(self, answer: Answer) -> None:
        """Sign in as ``tech`` (an answer like any command's: a refusal has its reason)."""
        _, badge, pin = RIG_PEOPLE["tech"]
        try:
            async with self.session.post(
                self.url + "api/signin", json={"badge": badge, "pin": pin}
            ) as resp:
                status, body = resp.status, await resp.json()
                if status == 200:
                    self.cookie = resp.cookies["labctl_session"].value
                    self.csrf = body["csrf"]
        except aiohttp.ClientConnectorError as err:
            failed(answer, "unreachable", f"connect: {type(err).__name__}")
            return
        except TimeoutError:
            failed(answer, "no-answer", f"nothing within {HTTP_TIMEOUT_S:g} s")
            return
        except (aiohttp.ClientError, OSError, ValueError) as err:
            failed(answer, "broken", type(err).__name__)
            return
        answered(answer, {"ok": True} if status == 200 else body, status=status)

    async def call(self, name: str, body: bytes, answer: Answer) -> None:
        """POST one command (signed in: see :meth:`sign_in`)."""
        headers = {
            "Content-Type": "application/json",
            "X-CSRF-Token": self.csrf or "",
            "Cookie": f"labctl_session={self.cookie}",
        }
        try:
            async with self.session.post(
                self.url + f"api/command/{name}", data=body, headers=headers
            ) as resp:
                status, text = resp.status, await resp.text()
        except aiohttp.ClientConnectorError as err:
            failed(answer, "unreachable", f"connect: {type(err).__name__}")
            return
        except TimeoutError:
            failed(answer, "no-answer", f"nothing within {HTTP_TIMEOUT_S:g} s")
            return
        except (aiohttp.ClientError, OSError) as err:
            failed(answer, "broken", type(err).__name__)
            return
        try:
            reply = json.loads(text)
        except ValueError:
            reply = {"ok": False, "error": f"HTTP {status}, not JSON: {text[:80]}"}
            answer.reason = "not JSON"
        if status == 401:
            self.cookie = None  # signed out by a restart: sign in before the next command
        answered(answer, reply, status=status)


class MqttUser:
    """One person's MQTT client: publishes on cmd/<user>, matches replies on reply/<user>.

    One command at a time: a reply without an id (the rate limit's "too many commands", a
    payload that is not JSON) belongs to the one in flight; a reply with an id to that id.
    Replies matching nothing in flight are kept (``stray``), duplicates counted per id.
    """

    def __init__(self, port: int, user: str) -> None:
        self.port, self.user = port, user
        self.root = f"labctl/{LAB}"
        self.pending: dict[str, tuple[Answer, asyncio.Future[dict[str, Any]]]] = {}
        self.current: str | None = None
        self.by_id: dict[str, Answer] = {}
        self.stray: list[dict[str, Any]] = []
        self.client: aiomqtt.Client | None = None
        self._seq = 0

    @contextlib.asynccontextmanager
    async def connected(self) -> AsyncIterator[MqttUser]:
        client = aiomqtt.Client(
            "127.0.0.1", self.port, username=self.user, password=password(self.user),
            identifier=f"storm-{self.user}",
        )  # fmt: skip
        async with client:
            self.client = client
            await client.subscribe(f"{self.root}/reply/{self.user}", qos=1)
            reader = asyncio.create_task(self._read(client), name=f"mqtt-reader[{self.user}]")
            try:
                yield self
            finally:
                reader.cancel()
                await asyncio.gather(reader, return_exceptions=True)

    async def _read(self, client: aiomqtt.Client) -> None:
        async for message in client.messages:
            assert isinstance(message.payload, bytes)
            try:
                doc = json.loads(message.payload)
            except ValueError:
                self.stray.append({"unparsable": message.payload[:80].decode(errors="replace")})
                continue
            rid = doc.get("id") if isinstance(doc, dict) else None
            rid = rid if rid is not None else self.current
            entry = self.pending.get(rid) if rid is not None else None
            if entry is not None and not entry[1].done():
                entry[1].set_result(doc)
            elif rid in self.by_id:
                self.by_id[rid].replies += 1  # a second (or a late) reply for that command
            else:
                self.stray.append(doc)

    def next_id(self) -> str:
        self._seq += 1
        return f"{self.user}-{self._seq}"

    async def call(self, rid: str, payload: bytes, answer: Answer) -> None:
        assert self.client is not None
        future: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self.pending[rid], self.current, self.by_id[rid] = (answer, future), rid, answer
        try:
            await self.client.publish(f"{self.root}/cmd/{self.user}", payload, qos=1)
            async with asyncio.timeout(MQTT_TIMEOUT_S):
                reply = await future
        except TimeoutError:
            failed(answer, "no-answer", f"nothing within {MQTT_TIMEOUT_S:g} s")
        except aiomqtt.MqttError as err:
            failed(answer, "broken", f"publish: {err}")
        else:
            answered(answer, reply)
        finally:
            self.current = None
            del self.pending[rid]
