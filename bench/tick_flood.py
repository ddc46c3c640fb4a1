"""(o) Caster tick lateness p99 (0.1 s tick) during a 3,000-message MQTT flood, next to the same
loop idle in the same run.

The lab runs in this process (as (e) does: ``build_lab`` + ``run_lab``, clock speed 1) with a
simulated kiln and vacuum caster, the caster ticking every 0.1 s, and a real mosquitto. The
flood comes from another process (paho, QoS 0, as fast as it can publish) so the publisher
never shares the daemon's loop: once from a user labctl does not know (dropped silently), once
from a known technician (rate-limited: five answered, the rest refused "too many commands").
Lateness is what the caster's loop records itself (``lateness_s``: tick start - deadline), from
the first message to the bridge's last (or ``window_s``), the idle window just before it.

.venv/bin/python -m bench.tick_flood [--messages 3000]
"""

from __future__ import annotations

import argparse
import asyncio
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from drivers._sim.caster_rig import CasterRigSim
from drivers.clock import ScaledClock
from drivers.eurotherm3200.sim import Eurotherm3200Sim, SimOptions
from hil_tests.support.caster import PROFILES
from hil_tests.support.mqtt_service import mosquitto
from hil_tests.support.storm import acl, password
from labctl.config.site import load_site
from labctl.daemon.app import build_lab
from labctl.daemon.run import run_lab
from labctl.sim.site import rig_site

Row = Callable[[str, str, str, str], None]
TICK_S = 0.1

FLOOD = """
import sys, time
import paho.mqtt.client as mqtt
port, user, pw, n = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
c = mqtt.Client(mqtt.CallbackAPIVersion.VERSION2, client_id="flood-" + user)
c.username_pw_set(user, pw)
c.connect("127.0.0.1", port)
c.loop_start()
body = b'{"id": "f", "command": "status", "args": {}}'
for i in range(n):
    c.publish(f"labctl/storm/cmd/{user}", body, qos=0)
time.sleep(0.5)
c.loop_stop()
c.disconnect()
"""

MQTT = """
[users.tech]
role = "technician"

[mqtt]
host = "127.0.0.1"
port = {port}
username = "labctl-storm"
password_file = "{secret}"
client_id = "labctl-storm"
telemetry_interval_s = 1
"""


def _pct(xs: list[float], q: float) -> float:
    s = sorted(xs)
    return s[min(len(s) - 1, int(q * len(s)))] if s else float("nan")


async def bench_tick_flood(row: Row, messages: int, window_s: float = 10.0) -> None:
    clock = ScaledClock(1.0)
    caster = CasterRigSim("vacuum", charge_g=100.0, start_c=20.0)
    kiln = Eurotherm3200Sim(SimOptions(flask="small"))
    with tempfile.TemporaryDirectory() as tmp_dir:
        tmp = Path(tmp_dir)
        people = ("tech", "stranger")
        passwords = {u: password(u) for u in ("labctl-storm", *people)}
        async with (
            mosquitto(tmp / "mqtt", users=passwords, acl=acl(people)) as broker,
            caster.serving(clock=clock, pty_dir=tmp) as ports,
            kiln.serving(clock=clock, tcp_port=0) as kiln_ep,
        ):
            assert kiln_ep.port is not None
            secret = tmp / "secret"
            secret.write_text(password("labctl-storm") + "\n")
            site = tmp / "site.toml"
            site.write_text(
                rig_site(
                    state=tmp / "state", profiles=PROFILES, speed=1.0, epoch=time.time(),
                    tick_s=1.0, kiln_port=kiln_ep.port, caster=ports, caster_tick_s=TICK_S,
                    name="storm",
                )
                + MQTT.format(port=broker.port, secret=secret)
            )  # fmt: skip
            lab = await build_lab(load_site(site), clock)
            daemon = asyncio.create_task(run_lab(lab))
            try:
                runner = lab.casters["caster1"]
                bridge = lab.telemetry.mqtt if lab.telemetry is not None else None
                assert bridge is not None
                deadline = time.monotonic() + 20
                while not bridge.connected:
                    assert time.monotonic() < deadline, "the MQTT bridge did not connect"
                    await asyncio.sleep(0.05)
                await asyncio.sleep(2.0)  # devices read, loops settled
                results = []
                for user in ("stranger", "tech"):
                    runner.lateness_s.clear()
                    await asyncio.sleep(window_s)
                    idle = [x * 1000 for x in runner.lateness_s]
                    gate = bridge.gate
                    before = (gate.unknown_dropped, gate.rate_limited)
                    runner.lateness_s.clear()
                    started = time.monotonic()
                    flood = await asyncio.create_subprocess_exec(
                        sys.executable, "-c", FLOOD, str(broker.port), user, password(user),
                        str(messages),
                    )  # fmt: skip
                    seen = 0
                    while time.monotonic() - started < window_s:
                        seen = gate.unknown_dropped - before[0] + gate.rate_limited - before[1]
                        if flood.returncode is not None and seen >= messages - 5:
                            break
                        await asyncio.sleep(0.05)
                    took = time.monotonic() - started
                    busy = [x * 1000 for x in runner.lateness_s]
                    await flood.wait()
                    results.append((user, idle, busy, seen, took))
                    await asyncio.sleep(3.0)  # the technician's limit refills between runs
            finally:
                daemon.cancel()
                await asyncio.gather(daemon, return_exceptions=True)
    for user, idle, busy, seen, took in results:
        who = "an unknown user" if user == "stranger" else "a known technician (rate-limited)"
        row(
            f"(o) caster tick ({TICK_S * 1000:.0f} ms) lateness p50 / p99, "
            f"{messages:,}-message MQTT flood from {who}",
            f"{_pct(busy, 0.5):.2f} / {_pct(busy, 0.99):.2f} ms ({len(busy)} ticks, "
            f"{seen:,} messages taken in {took:.1f} s)",
            f"{_pct(idle, 0.5):.2f} / {_pct(idle, 0.99):.2f} ms same loop idle ({len(idle)} ticks)",
            f"p99 {_pct(busy, 0.99) / max(_pct(idle, 0.99), 1e-3):.1f}x idle "
            f"(target p99 < 20 ms: {'yes' if _pct(busy, 0.99) < 20 else 'NO'})",
        )


def _print_row(name: str, value: str, baseline: str, ratio: str) -> None:
    print(f"  {name}: {value} | baseline {baseline} | {ratio}", flush=True)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--messages", type=int, default=3000)
    asyncio.run(bench_tick_flood(_print_row, parser.parse_args().messages))
