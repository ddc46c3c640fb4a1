"""labctl benchmarks: each figure next to a baseline measured in the same run.

.venv/bin/python -m bench.run            # all, about 4 minutes
.venv/bin/python -m bench.run --quick    # shorter windows and sizes, about 2 minutes

(j) and (k) start their own influxd and victoria-metrics (hil_tests/support/services.py) on
free ports.
(n) and (o) start their own mosquitto (and (n) an influxd): bench/command_latency.py, tick_flood.py.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import io
import logging
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pymodbus.client import AsyncModbusTcpClient  # baseline only: raw pymodbus reads

from bench.casting import bench_step_latency
from bench.command_latency import bench_command_latency
from bench.influx_bench import bench_influx_drain, bench_tick_jitter_while_draining
from bench.ledger_bench import bench_ledger
from bench.serial_wire import bench_serial_wire
from bench.spool_bench import bench_spool_ingest, bench_spool_memory
from bench.tick_flood import bench_tick_flood
from bench.ui_latency import bench_ui_latency
from drivers._modbus.bus import ModbusBus
from drivers._modbus.pymodbus.client import PymodbusWire
from drivers._modbus.registers import Poll
from drivers._modbus.transport import TcpEndpoint
from drivers._sim.links import Faults
from drivers._sim.server import serve_sim
from drivers.clock import ScaledClock, real_clock
from drivers.eurotherm3200 import IDENTITY, MAP
from drivers.eurotherm3200.sim import Eurotherm3200Sim
from labctl.sim.demo.run import run_demo

ROOT = Path(__file__).resolve().parent.parent
ROWS: list[tuple[str, str, str, str]] = []


def row(name: str, value: str, baseline: str, ratio: str) -> None:
    ROWS.append((name, value, baseline, ratio))
    print(f"  {name}: {value} | baseline {baseline} | {ratio}", flush=True)


SIM_LINE = re.compile(r"simulated time (\d+)h(\d+)m in ([\d.]+) s wall")


async def bench_sim_speed(speed: float) -> None:
    """(a) a full ~11 h burnout against the simulator over real TCP (no cast afterwards)."""
    out = io.StringIO()
    started = time.monotonic()
    with contextlib.redirect_stdout(out):
        code = await run_demo(
            mode="stream", speed=speed, profile="gypsum-wax-small", flask="small", cast="none"
        )
    wall = time.monotonic() - started  # the whole demo: startup included, a lower bound
    assert code == 0, out.getvalue()[-2000:]
    found = SIM_LINE.search(out.getvalue())
    assert found is not None, f"no 'simulated time ...' line in:\n{out.getvalue()[-2000:]}"
    sim_s = int(found[1]) * 3600 + int(found[2]) * 60
    row(
        "(a) simulation speed, 11 h burnout over TCP",
        f"{sim_s / wall:.0f} sim-s/wall-s",
        "real time 1 sim-s/wall-s",
        f"{sim_s / wall:.0f}x (target >= 600x)",
    )


async def bench_polling(cycles: int) -> None:
    """(b) transactions per poll vs one request per field; bus vs raw pymodbus throughput."""
    sim = Eurotherm3200Sim()
    async with serve_sim({1: sim.bank}, faults=Faults(), tcp_port=0) as endpoint:
        assert endpoint.port is not None
        bus = ModbusBus(
            PymodbusWire(TcpEndpoint(host="127.0.0.1", port=endpoint.port)),
            name="bench",
            clock=real_clock(),
            timeout_s=1.0,
        )
        dev = bus.device(name="tc", unit=1, regmap=MAP, identity=IDENTITY, max_fill_registers=50)
        task = asyncio.create_task(bus.run())
        await dev.wait_connected(5)
        fields, blocks = len(MAP.polled(Poll.FAST)), dev.plan()
        regs = sum(len(b.registers) for b in blocks) / len(blocks)
        row(
            "(b) transactions per poll cycle",
            f"{len(blocks)} ({regs:.1f} fields/txn)",
            f"{fields} (one request per field)",
            f"{fields / len(blocks):.2f}x fewer",
        )
        raw = AsyncModbusTcpClient("127.0.0.1", port=endpoint.port, retries=0)
        await raw.connect()
        bus_s = raw_s = 0.0
        before = bus.transactions
        for _ in range(10):  # alternate rounds: both see the same warm-up, load and noise
            t0 = time.monotonic()
            for _ in range(cycles // 10):
                await dev.read()
            t1 = time.monotonic()
            for _ in range(cycles // 10):
                for b in blocks:
                    await raw.read_holding_registers(b.address, count=b.count, device_id=1)
            bus_s, raw_s = bus_s + t1 - t0, raw_s + time.monotonic() - t1
        bus_rate = (bus.transactions - before) / bus_s
        raw_rate = 10 * (cycles // 10) * len(blocks) / raw_s
        raw.close()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)
        await bus.close()
    row(
        "(b) throughput, same blocks",
        f"{bus_rate:.0f} txn/s via bus",
        f"{raw_rate:.0f} txn/s raw pymodbus",
        f"{bus_rate / raw_rate:.2f} (target >= 0.8)",
    )


SITE = """
[lab]
name = "bench"
state_dir = "{state}"
profiles_dir = "{profiles}"
tick_s = 1.0
allow_uncommissioned = ["k"]  # a simulated controller holds no commissioning record
[buses.b]
kind = "tcp"
host = "127.0.0.1"
port = {port}
[devices.tc]
family = "eurotherm3200"
bus = "b"
[kilns.k]
controller = "tc"
mode = "stream"
max_temp_c = 800
"""


def _cpu_s(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return 0.0


async def bench_daemon(window_s: float) -> None:
    """(d) the real daemon (subprocess) at 1 Hz with one kiln, vs an idle Python process."""
    sim = Eurotherm3200Sim()
    clock = real_clock()
    with tempfile.TemporaryDirectory() as tmp:
        async with sim.serving(clock=clock, tcp_port=0) as endpoint:
            site = Path(tmp) / "site.toml"
            site.write_text(
                SITE.format(
                    state=Path(tmp) / "state", profiles=ROOT / "profiles", port=endpoint.port
                )
            )
            daemon = subprocess.Popen(
                [sys.executable, "-m", "labctl.cli", "run", "--config", str(site)],
                stderr=subprocess.DEVNULL,
            )
            idle = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
            await asyncio.sleep(5)  # imports and connect done
            d0, i0, t0 = _cpu_s(daemon.pid), _cpu_s(idle.pid), time.monotonic()
            await asyncio.sleep(window_s)
            wall = time.monotonic() - t0
            d_cpu = (_cpu_s(daemon.pid) - d0) / wall * 100
            i_cpu = (_cpu_s(idle.pid) - i0) / wall * 100
            d_rss, i_rss = _rss_mb(daemon.pid), _rss_mb(idle.pid)
            for proc in (daemon, idle):
                proc.terminate()
                proc.wait(10)
    row(
        "(d) daemon CPU at 1 Hz, one kiln",
        f"{d_cpu:.2f} % of one core",
        f"{i_cpu:.2f} % idle python",
        "target < 2 %",
    )
    row(
        "(d) daemon RSS",
        f"{d_rss:.0f} MB",
        f"{i_rss:.0f} MB idle python",
        f"+{d_rss - i_rss:.0f} MB (target < 80 MB)",
    )


async def bench_jitter(window_s: float, period_s: float = 0.1) -> None:
    """(e) control tick lateness in the real daemon loop vs a bare asyncio timer loop."""
    from labctl.config.site import load_site
    from labctl.daemon.app import build_lab
    from labctl.daemon.run import run_lab

    sim = Eurotherm3200Sim()
    clock = ScaledClock(1.0)
    with tempfile.TemporaryDirectory() as tmp:
        async with sim.serving(clock=clock, tcp_port=0) as endpoint:
            site_file = Path(tmp) / "site.toml"
            site_file.write_text(
                SITE.format(
                    state=Path(tmp) / "state", profiles=ROOT / "profiles", port=endpoint.port
                ).replace("tick_s = 1.0", f"tick_s = {period_s}")
            )
            lab = await build_lab(load_site(site_file), clock)
            task = asyncio.create_task(run_lab(lab))
            await asyncio.sleep(window_s)
            task.cancel()
            await asyncio.gather(task, return_exceptions=True)
    late = sorted(x * 1000 for x in list(lab.runners["k"].lateness_s)[10:])
    base: list[float] = []
    deadline = time.monotonic()
    for _ in range(int(window_s / period_s)):
        deadline += period_s
        await asyncio.sleep(max(0.0, deadline - time.monotonic()))
        base.append((time.monotonic() - deadline) * 1000)
    base.sort()

    def pct(xs: list[float], q: float) -> float:
        return xs[min(len(xs) - 1, int(q * len(xs)))]

    row(
        "(e) tick lateness p50 / p99",
        f"{pct(late, 0.5):.2f} / {pct(late, 0.99):.2f} ms",
        f"{pct(base, 0.5):.2f} / {pct(base, 0.99):.2f} ms bare asyncio timer",
        f"{len(late)} ticks, mean {statistics.fmean(late):.2f} ms (target p99 < 20 ms)",
    )


async def main(quick: bool) -> None:
    logging.basicConfig(level=logging.ERROR)
    print("labctl bench (ratios against baselines measured in this run)")
    await bench_sim_speed(speed=2400.0)
    await bench_polling(cycles=300 if quick else 2000)
    await bench_daemon(window_s=10 if quick else 30)
    await bench_jitter(window_s=10 if quick else 30)
    await bench_serial_wire(row, quick)
    await bench_step_latency(row, casts=3 if quick else 5)
    await bench_spool_ingest(row, points=50_000 if quick else 200_000)
    await bench_spool_memory(row, points=100_000 if quick else 300_000)
    await bench_influx_drain(row, points=20_000 if quick else 50_000)
    await bench_tick_jitter_while_draining(
        row, window_s=5 if quick else 10, points=100_000 if quick else 200_000
    )
    await bench_ledger(row, quick)
    await bench_ui_latency(row, window_s=10 if quick else 30)
    await bench_command_latency(row, samples=15 if quick else 40)
    await bench_tick_flood(row, messages=3000, window_s=5 if quick else 10)
    print()
    print("| figure | measured | baseline | ratio / target |")
    print("|---|---|---|---|")
    for name, value, baseline, ratio in ROWS:
        print(f"| {name} | {value} | {baseline} | {ratio} |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--quick", action="store_true")
    asyncio.run(main(parser.parse_args().quick))
