"""Crash safety of the ledger: SIGKILL a process appending in a loop, many times, at random.

The child prints each index only after ``append`` returned (the commit is durable). After every
kill the ledger reopens OK, the full audit passes and every acknowledged entry is there with the
leaf hash the child was told (a sample each round, all of them at the end).
"""

from __future__ import annotations

import os
import random
import signal
import sqlite3
import subprocess
import sys
import time
from contextlib import closing
from pathlib import Path

import pytest

from labctl.ledger import keys
from labctl.ledger.audit import audit
from labctl.ledger.store import Ledger

pytestmark = [pytest.mark.hil, pytest.mark.timeout(240)]

ORIGIN = "castlab.test/ledger/crash"
ROUNDS = 24

CHILD = """
import asyncio, json, sys
from contextlib import closing
from pathlib import Path
from labctl.ledger import keys
from labctl.ledger.store import Ledger

def build(index, prev):
    return json.dumps({"index": index, "prev": prev.hex(), "pad": "x" * (index % 700)}).encode()

async def main():
    db, key, origin = sys.argv[1:4]
    ledger = await Ledger.open(db, origin=origin, signers=[keys.load(Path(key), origin)])
    if not ledger.state.ok:
        print("STOPPED", ledger.state.stopped, flush=True)
        return
    print("READY", ledger.size, flush=True)
    while True:
        done = await ledger.append(build, kind="crash", subject=str(ledger.size))
        print(done.index, done.leaf_hash.hex(), flush=True)

asyncio.run(main())
"""


def run_and_kill(db: Path, key: Path, after_s: float) -> list[str]:
    """Start the appending child, SIGKILL it ``after_s`` after it is ready, return its lines."""
    child = subprocess.Popen(
        [sys.executable, "-c", CHILD, str(db), str(key), ORIGIN],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert child.stdout is not None
    ready = child.stdout.readline()
    assert ready.startswith("READY"), ready + (child.stderr.read() if child.stderr else "")
    time.sleep(after_s)
    os.kill(child.pid, signal.SIGKILL)
    # the rest through the same buffered reader: communicate() reads the raw pipe and would
    # miss the lines readline() already buffered
    out = child.stdout.read()
    child.wait(timeout=30)
    child.stdout.close()
    if child.stderr is not None:
        child.stderr.close()
    assert child.returncode == -signal.SIGKILL
    complete = out.split("\n")[:-1]  # the last piece is partial (or empty): not acknowledged
    return [ready.strip(), *complete]


async def test_sigkill_while_appending_loses_no_acknowledged_entry(tmp_path: Path) -> None:
    db, key = tmp_path / "ledger.db", tmp_path / "ledger.key"
    signer = keys.generate(key, ORIGIN)
    rng = random.Random(5)
    acked: dict[int, str] = {}
    for round_no in range(ROUNDS):
        lines = run_and_kill(db, key, rng.uniform(0.01, 0.3))
        start = int(lines[0].split()[1])
        assert start > max(acked, default=-1), f"round {round_no}: acknowledged entries lost"
        acks = [line.split() for line in lines[1:]]
        assert [int(i) for i, _ in acks] == list(range(start, start + len(acks)))
        acked.update((int(i), leaf_hash) for i, leaf_hash in acks)
        ledger = await Ledger.open(db, origin=ORIGIN, signers=[signer])
        assert ledger.state.ok, f"round {round_no}: {ledger.state.stopped}"
        assert ledger.size > max(acked, default=-1)
        report = await audit(ledger)
        assert report.ok, f"round {round_no}: {report.problems}"
        for index in (start, *rng.sample(sorted(acked), min(len(acked), 20))):
            if index in acked:
                assert (await ledger.entry(index)).leaf_hash.hex() == acked[index]
        await ledger.close()
    with closing(sqlite3.connect(f"{db.as_uri()}?mode=ro", uri=True)) as conn:
        stored = {i: h.hex() for i, h in conn.execute("SELECT idx, leaf_hash FROM entries")}
    assert acked.items() <= stored.items()
    assert len(acked) > ROUNDS  # the kills landed while appends were going on
