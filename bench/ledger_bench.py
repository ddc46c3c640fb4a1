"""Ledger benchmarks, printed by :func:`bench.run.row`, each next to a baseline from the same run.

- Durable appends: real cast records through :class:`LedgerService` (statement, DSSE Ed25519
  signature, entry, tiles, signed checkpoint, COMMIT with ``synchronous=FULL``), next to plain
  single-row SQLite inserts of the same leaf bytes with the same pragmas, one commit each.
- Bytes per cast record: the database file per entry (leaf, hashes, tiles, checkpoint note),
  next to a table holding only the leaves.
- Full audit: entries/s over a log with a signed checkpoint at every size (as appends write
  it), next to only hashing the same leaf bytes (SHA-256 of 0x00 || leaf) in memory.
- Inclusion proofs at 10k, 100k and 1M entries (``--quick``: 1k, 10k, 100k) through
  ``Ledger.inclusion_proof``, next to recomputing the proof from all leaf hashes in memory.
  The big logs are written by :func:`bulk_log` in one transaction (benchmark only), with one
  signed checkpoint at the end, so ``Ledger.open`` checks their tail as usual.
"""

from __future__ import annotations

import hashlib
import json
import random
import sqlite3
import statistics
import tempfile
import time
from collections.abc import Callable
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from labctl.ledger import merkle, store_sql
from labctl.ledger.audit import audit
from labctl.ledger.keys import Signer
from labctl.ledger.records import CastRecord
from labctl.ledger.service import LedgerService
from labctl.ledger.store import Ledger
from labctl.runs.sqlite import transaction

Row = Callable[[str, str, str, str], None]
ORIGIN = "castlab.example.com/ledger/bench"
APPEND_TARGET_PER_S = 100
AUDIT_TARGET_PER_S = 5_000


def cast_record(i: int) -> CastRecord:
    return CastRecord.model_validate(
        {
            "cast_id": f"C-{i:06d}",
            "flask_id": f"F-{i % 40:03d}",
            "melt_id": f"M-{i // 3:06d}",
            "kiln_id": "kiln1",
            "caster_id": "vac1",
            "burnout_profile": "gypsum-standard",
            "alloy": "18k-yellow",
            "confirmations": [
                {"step": step, "by": "tech-7", "at": datetime(2026, 11, 24, 8, i % 60, tzinfo=UTC)}
                for step in ("flask_placed", "metal_charged", "pour_started")
            ],
            "process": {
                "peak_kiln_c": 732,
                "flask_c_at_cast": 540 + i % 9,
                "pour_c": 1010,
                "min_vacuum_pa": 8_000 + i % 100,
                "outcome": "complete",
            },
            "telemetry": {
                "file_name": f"C-{i:06d}.series.csv",
                "sha256": hashlib.sha256(str(i).encode()).hexdigest(),
            },
        }
    )


def plain_leaf(index: int, prev: bytes, size: int) -> bytes:
    """A leaf of about ``size`` bytes that commits to its index and the previous leaf hash."""
    head = json.dumps({"index": index, "prev_leaf_hash": prev.hex(), "pad": ""}).encode()
    return head[:-2] + b"x" * max(0, size - len(head)) + b'"}'


def bulk_log(path: Path, n: int, signer: Signer, leaf_size: int, checkpoint_every: int) -> None:
    """Write a valid ``n``-entry log in one transaction (benchmark only: no per-entry fsync)."""
    with closing(store_sql.connect(path)) as conn, transaction(conn):
        store_sql.create_schema(conn, ORIGIN)
        tree, prev, chain = merkle.CompactRange(), store_sql.NO_HASH, store_sql.NO_HASH
        for index in range(n):
            leaf = plain_leaf(index, prev, leaf_size)
            prev = merkle.leaf_hash(leaf)
            chain = store_sql.chain_hash(chain, prev)
            tiles = tree.append(prev)
            note = None
            if tree.size % checkpoint_every == 0 or tree.size == n:
                note = (
                    tree.size,
                    store_sql.sign_checkpoint(ORIGIN, tree.size, tree.root(), [signer]),
                )
            store_sql.insert(conn, (index, leaf, prev, chain, "bench", str(index)), tiles, note)


def plain_inserts(path: Path, leaves: list[bytes]) -> float:
    """Baseline: one durable single-row insert per leaf, same pragmas; returns inserts/s."""
    with closing(store_sql.connect(path)) as conn:
        conn.execute("CREATE TABLE leaves (idx INTEGER PRIMARY KEY, leaf BLOB NOT NULL)")
        started = time.perf_counter()
        for index, leaf in enumerate(leaves):
            with transaction(conn):
                conn.execute("INSERT INTO leaves VALUES (?, ?)", (index, leaf))
        return len(leaves) / (time.perf_counter() - started)


async def bench_appends(row: Row, tmp: Path, signer: Signer, n: int) -> int:
    """Durable appends and bytes per record; returns the mean leaf size."""
    ledger = await Ledger.open(tmp / "appends.db", origin=ORIGIN, signers=[signer])
    service = LedgerService(ledger, [signer])
    records = [cast_record(i) for i in range(n)]
    started = time.perf_counter()
    for rec in records:
        await service.record(rec)
    rate = n / (time.perf_counter() - started)
    leaves = [(await ledger.entry(i)).leaf for i in range(n)]
    await ledger.close()  # the last connection: the WAL is checkpointed into the file
    baseline = plain_inserts(tmp / "plain.db", leaves)
    row(
        f"(l) ledger durable appends, {n} cast records",
        f"{rate:,.0f} appends/s (sign + insert + checkpoint + fsync)",
        f"{baseline:,.0f} inserts/s plain SQLite, same leaves, synchronous=FULL",
        f"{rate / baseline:.2f}x; target >= {APPEND_TARGET_PER_S}/s: {rate >= APPEND_TARGET_PER_S}",
    )
    leaf_size = sum(map(len, leaves)) // n
    per_entry = (tmp / "appends.db").stat().st_size / n
    row(
        "(l) ledger bytes per cast record",
        f"{per_entry:,.0f} B on disk ({leaf_size:,} B DSSE leaf)",
        f"{(tmp / 'plain.db').stat().st_size / n:,.0f} B plain table of the leaves",
        "entry + hashes + tiles + signed checkpoint",
    )
    return leaf_size


async def bench_audit(row: Row, tmp: Path, signer: Signer, n: int, leaf_size: int) -> None:
    path = tmp / "audit.db"
    bulk_log(path, n, signer, leaf_size, checkpoint_every=1)
    report = await audit(path, origin=ORIGIN, verifiers=[signer.verifier()])
    assert report.ok, report.problems
    with closing(sqlite3.connect(path)) as conn:
        leaves = [bytes(leaf) for (leaf,) in conn.execute("SELECT leaf FROM entries")]
    started = time.perf_counter()
    for leaf in leaves:
        merkle.leaf_hash(leaf)
    hashing = n / (time.perf_counter() - started)
    rate = report.entries_per_s
    row(
        f"(l) ledger full audit, {n:,} entries, a checkpoint at each",
        f"{rate:,.0f} entries/s (leaves, chain, tiles, signatures, consistency)",
        f"{hashing:,.0f} entries/s only hashing the leaves in memory",
        f"{rate / hashing:.3f}x; target >= {AUDIT_TARGET_PER_S:,}/s: {rate >= AUDIT_TARGET_PER_S}",
    )


async def proof_time(tmp: Path, signer: Signer, n: int, reps: int) -> tuple[float, float]:
    """Median ``Ledger.inclusion_proof`` time and one full recomputation, in seconds."""
    path = tmp / f"proofs-{n}.db"
    bulk_log(path, n, signer, 200, checkpoint_every=n)
    ledger = await Ledger.open(path, origin=ORIGIN, signers=[signer])
    assert ledger.state.ok, ledger.state
    assert ledger.size == n
    rng = random.Random(n)
    times = []
    for _ in range(reps):
        index = rng.randrange(n)
        started = time.perf_counter()
        await ledger.inclusion_proof(index, n)
        times.append(time.perf_counter() - started)
    await ledger.close()
    with closing(sqlite3.connect(path)) as conn:
        hashes = [bytes(h) for (h,) in conn.execute("SELECT leaf_hash FROM entries")]
    started = time.perf_counter()
    merkle.inclusion_proof(hashes, rng.randrange(n))
    full = time.perf_counter() - started
    path.unlink()
    return statistics.median(times), full


async def bench_proofs(row: Row, tmp: Path, signer: Signer, sizes: tuple[int, ...]) -> None:
    first = 0.0
    for n in sizes:
        took, full = await proof_time(tmp, signer, n, reps=2000)
        first = first or took
        row(
            f"(l) ledger inclusion proof at {n:,} entries",
            f"{took * 1e6:,.0f} us median via Ledger.inclusion_proof",
            f"{full * 1e3:,.1f} ms recomputed from all leaf hashes",
            f"{took / first:.2f}x the {sizes[0]:,}-entry time (target at 1M <= 3x the 10k)",
        )


async def bench_ledger(row: Row, quick: bool) -> None:
    """All ledger figures; ``quick`` uses fewer appends and smaller logs."""
    signer = Signer(ORIGIN, Ed25519PrivateKey.generate())
    with tempfile.TemporaryDirectory() as tmp:
        leaf_size = await bench_appends(row, Path(tmp), signer, 300 if quick else 1000)
        await bench_audit(row, Path(tmp), signer, 5_000 if quick else 20_000, leaf_size)
        sizes = (1_000, 10_000, 100_000) if quick else (10_000, 100_000, 1_000_000)
        await bench_proofs(row, Path(tmp), signer, sizes)
