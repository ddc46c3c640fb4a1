"""Samples of the daemon process during the soak, the table over time and the verdict.

RSS is ``VmRSS`` in ``/proc/<pid>/status``, open fds the entries of ``/proc/<pid>/fd``; the
asyncio task count is not reported by labctl yet, so the thread count (``/proc/<pid>/task``)
stands in for it. Spool depth and the link states come from the daemon's ``status`` command.

Warm-up is the first eighth of the simulated run (6 h of 48 h), and at least until both
servers have been killed and restarted once (the first outage's spool backlog sets the memory
high-water mark the allocator keeps): the SQLite page caches, the executor's threads and the
allocator's arenas fill during it. Steady state is the rest.
"""

from __future__ import annotations

import csv
import dataclasses
import json
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bench.soak_lab import CASTER_TICK_S, TICK_S

WARMUP_FRACTION = 1 / 8
RSS_TARGET_MB = 5.0
#: "Flat": no trend (the median of the second half of steady state less than one above that of
#: the first half) and max - min within this: a restarted server's socket may be closed (server
#: down) or briefly doubled (old one closing as the new one connects), for each of two servers.
FLAT_SLACK = 4

Row = Callable[[str, str, str, str], None]


def warmup_h(sim_hours: float, restart_h: float) -> float:
    """The end of warm-up: an eighth of the run, and past both servers' first restart (the
    broker's is one period in, down for a sixth of it)."""
    return max(sim_hours * WARMUP_FRACTION, restart_h * 7 / 6)


@dataclass(frozen=True, slots=True)
class Sample:
    """The daemon at one moment."""

    wall_s: float  # since the daemon started
    sim_h: float  # simulated hours since the daemon started
    rss_mb: float
    fds: int
    threads: int
    tasks: int | None  # asyncio tasks in the daemon (its status reply)
    task_kinds: dict[str, int]  # the same by coroutine: a leak is a kind that keeps growing
    spool_depth: int | None
    sent: int | None
    dropped: int | None
    mqtt_connected: bool | None
    influx: str | None
    burnouts: int  # ended so far, on both kilns


def read_proc(pid: int) -> tuple[float, int, int]:
    """RSS (MB), open fds and threads of process ``pid``."""
    rss_kb = 0
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            rss_kb = int(line.split()[1])
    fds, threads = Path(f"/proc/{pid}/fd").iterdir(), Path(f"/proc/{pid}/task").iterdir()
    return rss_kb / 1024, sum(1 for _ in fds), sum(1 for _ in threads)


def sample(
    proc: tuple[float, int, int], wall_s: float, sim_h: float, status: dict[str, Any], ended: int
) -> Sample:
    """One sample from :func:`read_proc` and the ``status`` reply (``ended``: burnouts)."""
    rss, fds, threads = proc
    tel: dict[str, Any] = status.get("telemetry") or {}
    return Sample(
        wall_s=round(wall_s, 1), sim_h=round(sim_h, 3), rss_mb=round(rss, 2), fds=fds,
        threads=threads, tasks=tel.get("asyncio_tasks"),
        task_kinds=tel.get("asyncio_task_kinds") or {}, spool_depth=tel.get("spool_depth"),
        sent=tel.get("sent"), dropped=tel.get("dropped"), mqtt_connected=tel.get("mqtt_connected"),
        influx=tel.get("influx"), burnouts=ended,
    )  # fmt: skip


def table(samples: Sequence[Sample], every_h: float) -> list[str]:
    """Markdown rows: the first sample at or after each multiple of ``every_h``, and the last."""
    lines = [
        "| sim h | wall s | RSS MB | fds | threads | tasks | spool depth | sent | dropped "
        "| burnouts |",
        "|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    mark, picked = 0.0, []
    for s in samples:
        if s.sim_h >= mark:
            picked.append(s)
            mark = (int(s.sim_h / every_h) + 1) * every_h
    if samples and picked[-1] is not samples[-1]:
        picked.append(samples[-1])
    for s in picked:
        lines.append(
            f"| {s.sim_h:.1f} | {s.wall_s:.0f} | {s.rss_mb:.1f} | {s.fds} | {s.threads} | "
            f"{s.tasks} | {s.spool_depth} | {s.sent} | {s.dropped} | {s.burnouts} |"
        )
    return lines


@dataclass(frozen=True, slots=True)
class Flatness:
    """One counter over steady state."""

    at_warmup: float
    end: float
    low: float
    high: float
    trend: float  # median of the second half minus median of the first half
    rise: float  # highest value in the second half minus the highest in the first

    def flat(self) -> bool:
        """No new high in the second half (a leak keeps climbing) and a narrow range.

        A counter that flips between two values as connections drop and come back has a
        median trend of a whole unit; it is flat as long as it never goes higher.
        """
        return self.rise <= 0 and self.high - self.low <= FLAT_SLACK


def _task_kinds(steady: Sequence[Sample], row: Row) -> bool:
    """Per coroutine kind, the most tasks seen in the second half vs the first.

    A snapshot catches a tick's device reads and a query's own task in flight, so the total
    swings by a handful from one sample to the next; a leak is a kind whose count keeps
    growing, i.e. whose maximum in the second half exceeds the first half's by more than one.
    """
    half = len(steady) // 2
    first: dict[str, int] = {}
    second: dict[str, int] = {}
    for part, seen in ((steady[:half], first), (steady[half:], second)):
        for s in part:
            for kind, n in s.task_kinds.items():
                seen[kind] = max(seen.get(kind, 0), n)
    grown = {k: (first.get(k, 0), n) for k, n in second.items() if n > first.get(k, 0) + 1}
    totals = [s.tasks or 0 for s in steady]
    row(
        "(l) soak asyncio tasks, steady state",
        f"{min(totals)}..{max(totals)} in total, {len(second)} kinds; grown: "
        + (", ".join(f"{k} {a}->{b}" for k, (a, b) in grown.items()) or "none"),
        f"{len(first)} kinds in the first half",
        f"{'PASS' if not grown else 'FAIL'} (no kind's max grows by more than 1)",
    )
    return not grown


def _flatness(values: Sequence[float]) -> Flatness:
    half = max(1, len(values) // 2)
    first, second = values[:half], values[half:] or values[:half]
    trend = statistics.median(second) - statistics.median(first)
    return Flatness(
        values[0], values[-1], min(values), max(values), trend, max(second) - max(first)
    )


def verdict(samples: Sequence[Sample], sim_hours: float, restart_h: float, row: Row) -> bool:
    """Print the verdict as bench rows (figure | measured | baseline | target); True if met.

    ``restart_h``: the servers' restart period; the spool must drain back within each.
    """
    steady = [s for s in samples if s.sim_h >= warmup_h(sim_hours, restart_h)]
    assert len(steady) >= 2, f"only {len(steady)} samples after warm-up"
    rss0, rss1 = steady[0].rss_mb, steady[-1].rss_mb
    growth, peak = rss1 - rss0, max(s.rss_mb for s in steady) - rss0
    rss_ok = growth < RSS_TARGET_MB
    row(
        f"(l) soak RSS growth, warm-up end ({steady[0].sim_h:.1f} sim h) to end",
        f"{growth:+.2f} MB (peak {peak:+.2f} MB)",
        f"{rss0:.1f} MB at warm-up end",
        f"{'PASS' if rss_ok else 'FAIL'} (target < {RSS_TARGET_MB:g} MB)",
    )
    ok = rss_ok
    counters = {"open fds": [s.fds for s in steady], "threads": [s.threads for s in steady]}
    for name, values in counters.items():
        f = _flatness([float(v) for v in values])
        ok = ok and f.flat()
        row(
            f"(l) soak {name}, steady state",
            f"{f.low:.0f}..{f.high:.0f} (end {f.end:.0f}, trend {f.trend:+.1f}, "
            f"second-half high {f.rise:+.0f})",
            f"{f.at_warmup:.0f} at warm-up end",
            f"{'PASS' if f.flat() else 'FAIL'} (flat: no new high, max - min <= {FLAT_SLACK})",
        )
    ok = _task_kinds(steady, row) and ok
    depths = [s.spool_depth or 0 for s in steady]
    windows: dict[int, list[int]] = {}
    for s in steady:
        windows.setdefault(int(s.sim_h / restart_h), []).append(s.spool_depth or 0)
    worst_low = max(min(window) for window in windows.values())
    row(
        "(l) soak spool depth, steady state (influxd down a sixth of each restart period)",
        f"max {max(depths):,}, end {depths[-1]:,}",
        f"{depths[0]:,} at warm-up end",
        f"drains back: lowest depth in every {restart_h * 60:g} sim-min window <= {worst_low:,}",
    )
    return ok


def rate_rows(row: Row, summary: dict[str, Any]) -> None:
    """Ticks each loop made per simulated second against its schedule; how fast time ran."""
    sim_s, wall_s = summary["sim_hours"] * 3600, summary["wall_s"]
    factor = summary["poll_factor"]
    for loop, default_s in (("kiln1", TICK_S), ("kiln2", TICK_S), ("caster1", CASTER_TICK_S)):
        rate = summary["per_sim_s"].get(f"control.{loop}.ticks", 0.0)
        row(
            f"(l) soak {loop} control ticks",
            f"{rate:.2f} per sim-s ({rate * summary['speed']:.0f} per wall-s)",
            f"{factor / default_s:g} per sim-s scheduled ({factor:g}x the default)",
            f"{rate * default_s / factor:.2f} of schedule, {rate * default_s:.1f}x the default",
        )
    row(
        "(l) soak simulated time",
        f"{summary['sim_hours']:g} h in {wall_s:.0f} s wall",
        "real time",
        f"{sim_s / wall_s:.0f}x; burnouts ended {summary['burnouts']}; "
        f"servers killed and restarted {summary['kills']}",
    )
    for line, count in summary["daemon_errors"].items():
        print(f"  daemon log, {count}x: {line}")


def write_out(path: Path, samples: Sequence[Sample], summary: dict[str, object]) -> None:
    """Every sample as CSV (``.csv``) or, with the settings and verdict, as JSON."""
    rows = [dataclasses.asdict(s) for s in samples]
    if path.suffix == ".csv":
        with path.open("w", newline="") as out:
            writer = csv.DictWriter(out, fieldnames=list(rows[0]) if rows else ["wall_s"])
            writer.writeheader()
            writer.writerows(rows)
        return
    path.write_text(json.dumps({"summary": summary, "samples": rows}, indent=1) + "\n")
