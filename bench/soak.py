"""Soak benchmark (issue 7, item 6): the real daemon for days of simulated time, busy.

Two kilns run burnouts back to back (one streaming setpoints, one in programmer mode; the flask
is taken at each final hold and the next burnout starts at once) and a vacuum caster is polled,
every loop scheduled ten times as fast as the site default (see :mod:`bench.soak_lab`; a loop
that cannot keep up skips ticks, and the rows say how many it made). Telemetry goes to a real
influxd 1.x and a real mosquitto, each SIGKILLed and started again on the same port every
``--restart-every-min`` simulated minutes (default 120, or six times in a shorter run;
staggered, down for a sixth of the period). The daemon process is sampled throughout
(:mod:`bench.soak_report`) and the verdict is printed as bench rows: RSS growth after warm-up
under 5 MB, open fds and threads flat.

.venv/bin/python -m bench.soak                   # 48 simulated hours at 150x: about 20 min wall
.venv/bin/python -m bench.soak --sim-hours 2     # quick: under a minute of soak
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import tempfile
import time
from collections import Counter
from pathlib import Path
from typing import Any

from bench.soak_lab import PROFILE, Restartable, SoakLab, kill, soak_lab
from bench.soak_report import (
    Row,
    Sample,
    rate_rows,
    read_proc,
    sample,
    table,
    verdict,
    write_out,
)
from hil_tests.support.daemon import DaemonProcess
from hil_tests.support.services import influxql

SPEED = 150.0  # simulated seconds per wall second: 48 h in 19.2 min
POLL_WALL_S = 0.25  # how often the benchmark reads status and drives the kilns


class Burnouts:
    """Keeps both kilns busy: the next burnout as soon as one ends; the flask taken at once."""

    def __init__(self, daemon: DaemonProcess) -> None:
        self.daemon = daemon
        self.outcomes: Counter[str] = Counter()
        self.refusals: Counter[str] = Counter()
        self._started: dict[str, tuple[int, bool]] = {}  # kiln -> (run id, seen running)

    async def drive(self, status: dict[str, Any]) -> None:
        for kiln in status["kilns"]:
            name, run_id = kiln["kiln"], kiln["run_id"]
            started = self._started.get(name)
            if started is not None and run_id == started[0]:
                self._started[name] = (run_id, True)
            if run_id is not None:
                if kiln["state"] == "final_hold":
                    await self.daemon.command("take_flask", kiln=name)
                continue
            if started is not None and not started[1]:
                continue  # started, not yet in a snapshot
            if started is not None:
                self.outcomes[str(kiln["outcome"]).split(":")[0]] += 1
                del self._started[name]
            if kiln["pv_c"] is not None:
                reply = await self.daemon.command(
                    "start", kiln=name, profile=PROFILE, cool_first=True
                )
                if reply.get("ok"):
                    self._started[name] = (int(reply["result"]["run_id"]), False)
                else:
                    self.refusals[str(reply.get("error"))[:60]] += 1


async def _restart_forever(
    server: Restartable, period_s: float, first_s: float, kills: Counter[str], name: str
) -> None:
    """Kill ``server`` every ``period_s`` wall seconds (first after ``first_s``), start it
    again a sixth of a period later; cancelled at the end of the soak."""
    await asyncio.sleep(first_s)
    while True:
        await kill(server)
        kills[name] += 1
        await asyncio.sleep(period_s / 6)
        await server.start()
        await asyncio.sleep(period_s * 5 / 6)


async def run_soak(
    *,
    sim_hours: float,
    speed: float,
    poll_factor: float,
    restart_every_min: float,
    sample_s: float,
) -> tuple[list[Sample], dict[str, object]]:
    """Run the soak; every sample and a summary (settings, kills, burnouts, tick rates)."""
    burnouts_seen: Burnouts
    samples: list[Sample] = []
    with tempfile.TemporaryDirectory(prefix="labctl-soak-") as tmp:
        async with soak_lab(Path(tmp), speed, poll_factor) as lab:
            daemon = lab.daemon
            await daemon.start()
            await daemon.wait_for(
                lambda s: (
                    all(k["pv_c"] is not None for k in s["kilns"])
                    and bool(s["telemetry"]["mqtt_connected"])
                ),
                timeout_s=60,
            )
            assert daemon.proc is not None
            pid, burnouts_seen = daemon.proc.pid, Burnouts(daemon)
            period = restart_every_min * 60 / speed
            kills: Counter[str] = Counter()
            restarts = [
                asyncio.create_task(
                    _restart_forever(lab.influx, period, period / 2, kills, "influxd")
                ),
                asyncio.create_task(
                    _restart_forever(lab.broker, period, period, kills, "mosquitto")
                ),
            ]
            wall0, sim0 = time.monotonic(), lab.clock.now()
            next_sample = 0.0
            try:
                while (sim := lab.clock.now() - sim0) < sim_hours * 3600:
                    proc = read_proc(pid)  # before status: its socket is not counted
                    status = await daemon.status()
                    if status is None:
                        assert daemon.proc.returncode is None, f"daemon died:\n{daemon.log()}"
                        await asyncio.sleep(POLL_WALL_S)
                        continue
                    await burnouts_seen.drive(status)
                    wall = time.monotonic() - wall0
                    if wall >= next_sample:
                        ended = sum(burnouts_seen.outcomes.values())
                        samples.append(sample(proc, wall, sim / 3600, status, ended))
                        next_sample += sample_s
                    await asyncio.sleep(POLL_WALL_S)
            finally:
                for task in restarts:
                    task.cancel()
                await asyncio.gather(*restarts, return_exceptions=True)
            wall = time.monotonic() - wall0
            for server in (lab.influx, lab.broker):
                if server.proc is None:
                    await server.start()
            rates = await _rates(lab)
            errors = [
                line[24:140]
                for log in daemon.logs
                for line in log.read_text(errors="replace").splitlines()
                if " ERROR " in line or " CRITICAL " in line
            ]
    summary: dict[str, object] = {
        "sim_hours": sim_hours,
        "speed": speed,
        "wall_s": round(wall, 1),
        "poll_factor": poll_factor,
        "restart_every_sim_min": restart_every_min,
        "kills": dict(kills),
        "burnouts": dict(burnouts_seen.outcomes),
        "refusals": dict(burnouts_seen.refusals),
        "per_sim_s": rates,
        "daemon_errors": dict(Counter(errors)),
    }
    return samples, summary


async def _rates(lab: SoakLab) -> dict[str, float]:
    """Control-loop ticks and bus transactions per simulated second over the run, from the
    daemon's own health points (``labctl`` measurement, cumulative counters) in InfluxDB."""
    await asyncio.sleep(3.0)  # the spool drains what was offered last
    rates: dict[str, float] = {}
    for field in ("ticks", "transactions"):
        edges: dict[str, list[tuple[int, float]]] = {}
        for edge in ("first", "last"):
            q = f'SELECT {edge}("{field}") FROM labctl GROUP BY "component"'
            for series in await influxql(lab.influx.url, "soak", q):
                t_ns, value = series["values"][0]
                edges.setdefault(series["tags"]["component"], []).append((t_ns, value))
        for component, ((t0_ns, v0), (t1_ns, v1)) in edges.items():
            rates[f"{component}.{field}"] = (v1 - v0) / max(1e-9, (t1_ns - t0_ns) / 1e9)
    return rates


async def bench_soak(
    row: Row,
    *,
    sim_hours: float,
    speed: float = SPEED,
    poll_factor: float = 10.0,
    restart_every_min: float | None = None,
    out: Path | None = None,
) -> bool:
    """Run the soak and print its table and verdict rows; True if the targets are met.

    The servers restart every ``restart_every_min`` simulated minutes: by default every 2 h,
    or often enough for six restarts in a shorter run.
    """
    if restart_every_min is None:
        restart_every_min = min(120.0, sim_hours * 10)
    wall_s = sim_hours * 3600 / speed
    sample_s = max(0.5, wall_s / 240)
    samples, summary = await run_soak(
        sim_hours=sim_hours,
        speed=speed,
        poll_factor=poll_factor,
        restart_every_min=restart_every_min,
        sample_s=sample_s,
    )
    every_h = 2.0 if sim_hours >= 24 else sim_hours / 8
    print("\n".join(table(samples, every_h)))
    ok = verdict(samples, sim_hours, restart_every_min / 60, row)
    rate_rows(row, summary)
    if out is not None:
        write_out(out, samples, {**summary, "pass": ok})
    return ok


def _print_row(name: str, value: str, baseline: str, ratio: str) -> None:
    print(f"  {name}: {value} | baseline {baseline} | {ratio}", flush=True)


async def main(args: argparse.Namespace) -> int:
    logging.basicConfig(level=logging.ERROR)
    ok = await bench_soak(
        _print_row,
        sim_hours=args.sim_hours,
        speed=args.speed,
        poll_factor=args.poll_factor,
        restart_every_min=args.restart_every_min,
        out=args.out,
    )
    return 0 if ok else 1


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--sim-hours", type=float, default=48.0)
    parser.add_argument("--speed", type=float, default=SPEED, help="simulated s per wall s")
    parser.add_argument("--poll-factor", type=float, default=10.0, help="x the default rates")
    parser.add_argument("--restart-every-min", type=float, help="simulated min (default 120)")
    parser.add_argument("--out", type=Path, help="samples as .csv, or .json with the summary")
    raise SystemExit(asyncio.run(main(parser.parse_args())))
