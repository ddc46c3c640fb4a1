"""The storm: random commands over the control socket, MQTT and the touchscreen API at once,
device faults, and one SIGKILL, against the real daemon; the invariants checked from outside.

Every command gets exactly one answer within its client's timeout (except those the kill
swallowed: in flight at the kill or sent before the restarted daemon answered); the daemon
never dies on its own; after the storm ``status`` answers, every loop ticks, no internal error
was answered or raised as an alarm, the daemon stops on SIGTERM in time, ``labctl ledger
verify`` passes, and InfluxDB holds exactly the kiln points the daemon offered since its
restart. ``STORM_SEED=n`` replays a seed; ``LABCTL_LONG_TESTS=1`` storms for 10 minutes.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import random
import signal
import sys
import time
from typing import Any

import pytest

from hil_tests.support.storm import (
    MQTT_TECHS,
    StormLab,
    chain_records,
    influx_kiln_points,
    storm_lab,
)
from hil_tests.support.storm_clients import (
    Answer,
    HttpClient,
    Ledger,
    MqttUser,
    cli_call,
    summary,
)
from hil_tests.support.storm_traffic import Faults, Generator
from labctl.commands.queue import COMMAND_DEADLINE_S

log = logging.getLogger(__name__)
LONG = os.environ.get("LABCTL_LONG_TESTS") == "1"
STORM_S = 600.0 if LONG else 60.0
SEED = int(os.environ.get("STORM_SEED", "0")) or random.SystemRandom().randrange(1, 1 << 30)
# SIGTERM to exit: the daemon drives every machine safe (6 s) and closes each service (3 s
# each); systemd's TimeoutStopSec is 30 s, so that is the bound.
STOP_BOUND_S = 30.0
pytestmark = [pytest.mark.hil, pytest.mark.slow, pytest.mark.timeout(STORM_S + 300)]


class Storm:
    """The storm's clients, its record of every command, and the one kill."""

    def __init__(self, lab: StormLab, seed: int) -> None:
        self.lab, self.seed = lab, seed
        self.rng = random.Random(seed)
        self.ledger = Ledger()
        self.gen = Generator(random.Random(self.rng.random()))
        self.until = 0.0
        self.kill_at: float | None = None  # monotonic: SIGKILL sent
        self.kill_wall = 0.0  # the simulated wall time then
        self.back_at: float | None = None  # monotonic: every transport answers again
        self.died: list[str] = []  # the daemon exiting on its own (it must not)

    def why(self, text: str) -> str:
        return f"seed {self.seed}: {text}\n{summary(self.ledger)}\n{self.lab.daemon.log()}"

    async def cli_worker(self, rng: random.Random) -> None:
        while time.monotonic() < self.until:
            if rng.random() < 0.08:
                line, name = self.gen.garbage() + b"\n", "(garbage)"
            else:
                name, args = self.gen.command()
                line = json.dumps({"cmd": name, "args": args}).encode() + b"\n"
            await cli_call(self.lab.daemon.socket, line, self.ledger.add("cli", name))
            await asyncio.sleep(rng.uniform(0.0, 0.3))

    async def http_worker(self, client: HttpClient, rng: random.Random) -> None:
        while time.monotonic() < self.until:
            if client.cookie is None:  # first, or signed out by the restart
                await client.sign_in(self.ledger.add("http", "(signin)"))
                if client.cookie is None:
                    await asyncio.sleep(rng.uniform(0.1, 0.5))
                    continue
            if rng.random() < 0.08:
                name, body = self.gen.command()[0], self.gen.garbage()
                label = f"{name}(garbage)"
            else:
                name, args = self.gen.command()
                body, label = json.dumps(args).encode(), name
            await client.call(name, body, self.ledger.add("http", label))
            await asyncio.sleep(rng.uniform(0.0, 0.3))

    async def mqtt_worker(self, user: MqttUser, rng: random.Random) -> None:
        """Paced around the technician's limit (5 at once, then 1/s): now and then a burst."""
        while time.monotonic() < self.until:
            rid = user.next_id()
            roll = rng.random()
            if roll < 0.08:
                payload, name = self.gen.garbage(), "(garbage)"
            else:
                name, args = self.gen.command()
                request: dict[str, Any] = {"id": rid, "command": name, "args": args}
                if roll < 0.9:
                    request["sent_at"] = time.time()
                elif roll < 0.95:
                    request["sent_at"] = time.time() - 60  # queued somewhere for a minute
                payload = json.dumps(request).encode()
            await user.call(rid, payload, self.ledger.add("mqtt", name))
            await asyncio.sleep(rng.uniform(0.0, 0.3) if rng.random() < 0.3 else rng.uniform(1, 2))

    async def stranger(self, user: MqttUser) -> None:
        """Someone the broker knows but labctl does not: never answered at all."""
        assert user.client is not None
        while time.monotonic() < self.until:
            body = json.dumps({"id": user.next_id(), "command": "abort", "args": {"kiln": "kiln1"}})
            await user.client.publish(f"{user.root}/cmd/{user.user}", body.encode(), qos=0)
            await asyncio.sleep(0.2)

    async def killer(self, at: float) -> None:
        """SIGKILL the daemon once at ``at`` (monotonic), restart it after a short while."""
        await asyncio.sleep(max(0.0, at - time.monotonic()))
        self.kill_at, self.kill_wall = time.monotonic(), self.lab.clock.wall()
        await self.lab.daemon.kill(signal.SIGKILL)
        await asyncio.sleep(self.rng.uniform(0.2, 2.0))
        await self.lab.start_daemon()
        self.back_at = time.monotonic()

    async def watch(self) -> None:
        """Note when the daemon exits other than by our kill (a task, cancelled after the storm)."""
        while True:
            proc = self.lab.daemon.proc
            if proc is not None and proc.returncode is not None:
                self.died.append(f"exit {proc.returncode} at +{time.monotonic() - self.until:.1f}")
                return
            await asyncio.sleep(0.1)

    def excused(self, a: Answer) -> bool:
        """Swallowed by the kill: in flight when it came, or sent before every transport was
        back (MQTT has a clean session: what nobody was subscribed for is gone)."""
        if self.kill_at is None or self.back_at is None:
            return False
        return self.kill_at - COMMAND_DEADLINE_S - 2 <= a.sent <= self.back_at


async def test_a_storm_of_commands_faults_and_a_kill_leaves_the_lab_whole(tmp_path, capsys):
    async with storm_lab(tmp_path) as lab:
        await lab.start_daemon()
        for record in chain_records(4):
            reply = await lab.daemon.command("ledger_record", **record)
            assert reply["ok"], reply
        storm = Storm(lab, SEED)
        faults = Faults(lab, random.Random(storm.rng.random()))
        users = [MqttUser(lab.broker.port, name) for name in (*MQTT_TECHS, "stranger")]
        http = [HttpClient(lab.ui_url) for _ in range(2)]
        async with contextlib.AsyncExitStack() as stack:
            for user in users:
                await stack.enter_async_context(user.connected())
            for client in http:
                stack.push_async_callback(client.close)
            storm.until = time.monotonic() + STORM_S
            kill_at = time.monotonic() + storm.rng.uniform(0.3, 0.6) * STORM_S
            rng = storm.rng
            watch = asyncio.create_task(storm.watch())
            async with asyncio.TaskGroup() as tg:
                tg.create_task(storm.killer(kill_at))
                tg.create_task(faults.run(storm.until))
                tg.create_task(faults.hands(storm.until))
                tg.create_task(storm.stranger(users[2]))
                for _ in range(3):
                    tg.create_task(storm.cli_worker(random.Random(rng.random())))
                for client in http:
                    tg.create_task(storm.http_worker(client, random.Random(rng.random())))
                for user in users[:2]:
                    tg.create_task(storm.mqtt_worker(user, random.Random(rng.random())))
            faults.clear()
            watch.cancel()
            await asyncio.sleep(1.0)  # replies still on their way to a client that gave up
            strays = {u.user: u.stray for u in users}

        report = summary(storm.ledger) + f"\n  faults injected: {dict(faults.injected)}"
        with capsys.disabled():  # the summary is shown on success too
            sys.stdout.write(f"\nstorm seed {SEED}, {STORM_S:g} s\n{report}\n")
        log.info("storm seed %d\n%s", SEED, report)

        # the daemon never died on its own, and it answers
        assert not storm.died, storm.why(f"the daemon exited on its own: {storm.died}")
        assert storm.kill_at is not None and storm.back_at is not None, storm.why("no kill")
        # every command exactly one answer in time (but what the kill swallowed: none, or one)
        twice = [a for a in storm.ledger.answers if a.replies > 1]
        assert not twice, storm.why(f"answered more than once: {twice[:5]}")
        missing = [
            a
            for a in storm.ledger.answers
            if a.outcome not in ("ok", "refused") and not storm.excused(a)
        ]
        assert not missing, storm.why(f"{len(missing)} without an answer: {missing[:8]}")
        assert strays["stranger"] == [], storm.why(f"a stranger was answered: {strays}")
        unmatched = {u: s for u, s in strays.items() if s and u != "stranger"}
        assert not unmatched, storm.why(f"MQTT replies matching no command in flight: {unmatched}")
        internal = [a for a in storm.ledger.answers if "internal error" in a.reason]
        assert not internal, storm.why(f"internal errors answered: {internal[:5]}")
        http_500 = [a for a in storm.ledger.answers if a.status is not None and a.status >= 500]
        assert not http_500, storm.why(f"HTTP 5xx: {http_500[:5]}")
        for transport in ("cli", "mqtt", "http"):
            done = [a for a in storm.ledger.answers if a.transport == transport]
            assert sum(a.outcome == "ok" for a in done) > 0, storm.why(f"{transport}: none ok")

        # after the storm: status answers, every loop ticks, no loop crashed
        first = await lab.daemon.status()
        assert first is not None, storm.why("status does not answer after the storm")
        await asyncio.sleep(2.0)  # 200 simulated seconds: 40 kiln ticks, 200 caster ticks
        second = await lab.daemon.status()
        assert second is not None, storm.why("status does not answer after the storm")
        kiln_at = (first["kilns"][0]["at"], second["kilns"][0]["at"])
        assert kiln_at[1] > kiln_at[0], storm.why(f"the kiln loop stands still: {kiln_at}")
        offered = [s["telemetry"]["offered"].get("caster", 0) for s in (first, second)]
        assert offered[1] > offered[0], storm.why(f"the caster loop stands still: {offered}")
        alarms = await lab.daemon.command("alarms")
        assert alarms["ok"], alarms
        crashed = [a for a in json.dumps(alarms["result"]).split('"') if "internal error" in a]
        assert not crashed, storm.why(f"a machine loop crashed: {crashed[:3]}")
        assert second["telemetry"]["dropped"] == 0, second["telemetry"]

        # InfluxDB holds exactly the kiln points offered since the restart (each once)
        await _kiln_points_agree(lab, storm)

        # SIGTERM: out in time, cleanly
        proc = lab.daemon.proc
        assert proc is not None
        proc.send_signal(signal.SIGTERM)
        started = time.monotonic()
        try:
            code = await asyncio.wait_for(proc.wait(), STOP_BOUND_S)
        except TimeoutError:
            proc.kill()
            await proc.wait()
            raise AssertionError(storm.why(f"SIGTERM ignored for {STOP_BOUND_S:g} s")) from None
        stopped_in = time.monotonic() - started
        assert code == 0, storm.why(f"exit code {code} after SIGTERM")
        with capsys.disabled():
            sys.stdout.write(f"  stopped on SIGTERM in {stopped_in:.1f} s\n")

    audit = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "labctl.cli", "ledger", "verify", "--config", str(lab.site),
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.STDOUT,
    )  # fmt: skip
    out = (await audit.communicate())[0].decode()
    assert audit.returncode == 0 and "valid" in out, storm.why(out)


async def _kiln_points_agree(lab: StormLab, storm: Storm) -> None:
    """Every kiln point since the restart (the counter restarts with the daemon) reached
    InfluxDB once: points before the kill are all older than the kill's simulated time."""
    after_ns = int(storm.kill_wall * 1e9)
    deadline = time.monotonic() + 60  # the drain batches every second; generous on 2 cores
    target: int | None = None  # the points offered at the first look: all of them must arrive
    while True:  # (the kiln keeps ticking, so "have == offered" at one instant is a race)
        status = await lab.daemon.status()
        assert status is not None, storm.why("status does not answer")
        offered = int(status["telemetry"]["offered"].get("kiln", 0))
        target = offered if target is None else target
        until_ns = round(float(status["kilns"][0]["wall"]) * 1e6) * 1000
        have = await influx_kiln_points(lab.influx.url, after_ns, until_ns)
        assert have <= offered, storm.why(f"InfluxDB has {have} kiln points, {offered} offered")
        if have >= target:
            return
        assert time.monotonic() < deadline, storm.why(f"{have} of {target} kiln points stored")
        await asyncio.sleep(0.5)
