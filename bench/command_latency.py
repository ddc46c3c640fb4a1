"""(n) Command round trip through the control socket, MQTT and the touchscreen API, while a
burnout and a cast run, next to the same commands on the idle lab in the same run.

The real daemon (``labctl run``, a subprocess) drives a simulated kiln and vacuum caster
(hil_tests/support/storm.py: real mosquitto, InfluxDB 1.x, the touchscreen on loopback) at
clock speed 5 with a 1 s simulated tick (0.2 s of wall time; a kiln command waits for the next
tick boundary, so about half a tick is the floor of a hold). Per transport, one command at a
time: ``status`` (answered by the registry, no machine queue) and a ``hold`` + ``resume`` pair
(through the kiln's command queue and the controller). Idle: nothing runs, so the pair is
refused "no burnout is running" by the kiln's loop (the same queue and tick boundary, no
device write). Loaded: a burnout holds the kiln at the flask's temperature and a cast runs
(an operator task confirms its steps and starts the next one). MQTT goes out as six
technicians in turn, under the per-user limit (5 at once, then 1/s).

.venv/bin/python -m bench.command_latency [--samples 40]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import tempfile
import time
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

from hil_tests.support.storm import (
    ALLOY,
    PIECE_CLASS,
    StormLab,
    chain_records,
    flask_id,
    melt_id,
    storm_lab,
)
from hil_tests.support.storm_clients import (
    Answer,
    HttpClient,
    MqttUser,
    cli_call,
)

Row = Callable[[str, str, str, str], None]
SPEED, TICK_S = 5.0, 1.0
CASTS = 8  # flask/melt chains recorded: one cast each
MQTT_USERS = tuple(f"mq{i}" for i in range(6))
# Stays at the flask temperature for ten simulated hours: a cast may start at any time.
HOLDING = """
schema_version = 1
name = "bench-hold"
description = "holds the flask at its casting temperature"
investment = "gypsum"
pattern = "wax"
flask = "small"
max_temp_c = 700
casting_temp_c = 566
holdback_band_c = 30
holdback_limit_min = 60
soak_band_c = 20
segments = [
  { kind = "ramp", target_c = 570, rate_c_per_h = 100 },
  { kind = "hold", hold_min = 600 },
  { kind = "cool", target_c = 566, rate_c_per_h = 100 },
  { kind = "final_hold" },
]
"""

Call = Callable[[str, dict[str, Any]], Awaitable[Answer]]


class Clients:
    """One command at a time per transport; each returns the :class:`Answer` it got."""

    def __init__(self, lab: StormLab, http: HttpClient, mqtt: list[MqttUser]) -> None:
        self.lab, self.http, self.mqtt = lab, http, mqtt
        self._turn = 0

    async def cli(self, name: str, args: dict[str, Any]) -> Answer:
        answer = Answer("cli", name, time.monotonic())
        line = json.dumps({"cmd": name, "args": args}).encode() + b"\n"
        await cli_call(self.lab.daemon.socket, line, answer)
        return answer

    async def http_call(self, name: str, args: dict[str, Any]) -> Answer:
        if self.http.cookie is None:
            await self.http.sign_in(Answer("http", "(signin)", time.monotonic()))
        answer = Answer("http", name, time.monotonic())
        await self.http.call(name, json.dumps(args).encode(), answer)
        return answer

    async def mqtt_call(self, name: str, args: dict[str, Any]) -> Answer:
        user = self.mqtt[self._turn % len(self.mqtt)]
        self._turn += 1
        rid = user.next_id()
        answer = Answer("mqtt", name, time.monotonic())
        payload = json.dumps({"id": rid, "command": name, "args": args, "sent_at": time.time()})
        await user.call(rid, payload.encode(), answer)
        return answer


def _ms(answer: Answer) -> float:
    assert answer.took_s is not None, answer
    assert answer.outcome in ("ok", "refused"), answer
    assert "too many commands" not in answer.reason, answer
    return answer.took_s * 1000


async def _measure(calls: dict[str, Call], samples: int, *, running: bool) -> dict[str, Any]:
    """Per transport: status round trips (ms) and hold+resume pair round trips (ms)."""
    out: dict[str, dict[str, list[float]]] = {t: {"status": [], "pair": []} for t in calls}
    for _ in range(samples):
        for transport, call in calls.items():  # round robin: the same conditions for each
            out[transport]["status"].append(_ms(await call("status", {})))
            await asyncio.sleep(0.05)
            hold = await call("hold", {"kiln": "kiln1"})
            resume = await call("resume", {"kiln": "kiln1"})
            if running:
                assert hold.outcome == resume.outcome == "ok", (hold, resume)
            out[transport]["pair"].append(_ms(hold) + _ms(resume))
            await asyncio.sleep(0.05)
    return out


async def _operator(lab: StormLab, stop: asyncio.Event, casts: list[int]) -> None:
    """Keeps a cast running: starts the next chain's cast, places the flask, confirms."""
    chain = 0
    while not stop.is_set():
        status = await lab.daemon.status()
        assert status is not None
        caster = status["casters"][0]
        if caster["state"] == "idle" and chain < CASTS:
            start = {"caster": "caster1", "alloy": ALLOY, "piece_class": PIECE_CLASS,
                     "kiln": "kiln1", "flask_id": flask_id(chain),
                     "melt_id": melt_id(chain)}  # fmt: skip
            lab.caster.io.flask_present = False
            reply = await lab.daemon.command("cast_start", **start)
            chain += 1
            if reply["ok"]:
                casts.append(int(reply["result"]["cast_id"]))
        elif caster["waiting_for"] is not None:
            lab.caster.io.flask_present = True
            if caster["flask_present"]:
                await lab.daemon.command("cast_confirm", caster="caster1", step="flask_placed")
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), 0.5)


def _pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(q * len(s)))]


async def bench_command_latency(row: Row, samples: int) -> None:
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        async with (
            storm_lab(
                tmp, speed=SPEED, tick_s=TICK_S, burnouts={"bench-hold": HOLDING},
                mqtt_techs=("tech", *MQTT_USERS),
            ) as lab,
            contextlib.AsyncExitStack() as stack,
        ):  # fmt: skip
            await lab.start_daemon()
            for record in chain_records(CASTS):
                assert (await lab.daemon.command("ledger_record", **record))["ok"]
            users = [MqttUser(lab.broker.port, u) for u in MQTT_USERS]
            for user in users:
                await stack.enter_async_context(user.connected())
            http = HttpClient(lab.ui_url)
            stack.push_async_callback(http.close)
            clients = Clients(lab, http, users)
            calls: dict[str, Call] = {
                "socket": clients.cli, "MQTT": clients.mqtt_call, "HTTP": clients.http_call,
            }  # fmt: skip
            await asyncio.sleep(6.0)  # every MQTT user's burst allowance back
            idle = await _measure(calls, samples, running=False)
            reply = await lab.daemon.command("start", kiln="kiln1", profile="bench-hold")
            assert reply["ok"], reply
            stop, casts = asyncio.Event(), list[int]()
            operator = asyncio.create_task(_operator(lab, stop, casts))
            await lab.daemon.wait_for(lambda s: s["casters"][0]["state"] != "idle", timeout_s=30)
            try:
                loaded = await _measure(calls, samples, running=True)
            finally:
                stop.set()
                await operator
            status = await lab.daemon.status()
            assert status is not None
            kiln_state = status["kilns"][0]["state"]
    for transport in calls:
        for what, label in (("status", "status"), ("pair", "hold + resume pair")):
            busy, base = loaded[transport][what], idle[transport][what]
            row(
                f"(n) {transport} {label} round trip p50 / p99, burnout + cast running",
                f"{_pct(busy, 0.5):.1f} / {_pct(busy, 0.99):.1f} ms ({len(busy)})",
                f"{_pct(base, 0.5):.1f} / {_pct(base, 0.99):.1f} ms idle lab"
                + (" (refused: no burnout)" if what == "pair" else ""),
                f"p50 {_pct(busy, 0.5) / max(_pct(base, 0.5), 1e-3):.2f}x, "
                f"p99 {_pct(busy, 0.99) / max(_pct(base, 0.99), 1e-3):.2f}x idle",
            )
    row(
        "(n) conditions",
        f"clock x{SPEED:g}, tick {TICK_S / SPEED * 1000:.0f} ms wall (kiln and caster)",
        f"{len(casts)} cast(s) started while loaded",
        f"kiln {kiln_state} at the end",
    )


def _print_row(name: str, value: str, baseline: str, ratio: str) -> None:
    print(f"  {name}: {value} | baseline {baseline} | {ratio}", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--samples", type=int, default=40)
    asyncio.run(bench_command_latency(_print_row, parser.parse_args().samples))
