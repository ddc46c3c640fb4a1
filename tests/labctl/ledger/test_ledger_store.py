"""The ledger store on real SQLite files: appends, proofs, reopen, tail check, full disk, audit."""

from __future__ import annotations

import asyncio
import functools
import json
import sqlite3
import tempfile
from contextlib import closing
from pathlib import Path

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey
from hypothesis import given, settings
from hypothesis import strategies as st

from labctl.ledger import audit as audit_module
from labctl.ledger import merkle, note
from labctl.ledger.audit import audit
from labctl.ledger.keys import Signer
from labctl.ledger.store import Ledger, LedgerStopped
from labctl.ledger.store_reads import LedgerError

ORIGIN = "castlab.test/ledger/v1"
KEY = Signer(ORIGIN, Ed25519PrivateKey.generate())


def build(index: int, prev: bytes, pad: int = 0) -> bytes:
    return json.dumps({"index": index, "prev": prev.hex(), "pad": "x" * pad}).encode()


async def open_ledger(path: Path, alarms: list[str] | None = None, key: Signer = KEY) -> Ledger:
    on_alarm = None if alarms is None else alarms.append
    return await Ledger.open(path, origin=ORIGIN, signers=[key], on_alarm=on_alarm)


async def filled(path: Path, n: int) -> Ledger:
    ledger = await open_ledger(path)
    for _ in range(n):
        await ledger.append(build, kind="test", subject="s")
    return ledger


def raw(path: Path, *statements: str) -> None:
    """Edit the file behind the ledger's back, as anyone with file access could."""
    with closing(sqlite3.connect(path)) as conn:
        for statement in statements:
            conn.execute(statement)
        conn.commit()


def root_of(note_text: str | None) -> bytes:
    assert note_text is not None
    return note.open_checkpoint(note_text, [KEY.verifier()]).root


async def test_appends_commit_chain_and_prove(tmp_path: Path) -> None:
    ledger = await open_ledger(tmp_path / "l.db")
    seen: list[tuple[int, bytes]] = []

    def recording(index: int, prev: bytes) -> bytes:
        seen.append((index, prev))
        return build(index, prev)

    done = [await ledger.append(recording, kind="cast", subject=f"c{i}") for i in range(21)]
    hashes = [a.leaf_hash for a in done]
    assert [a.index for a in done] == list(range(21)) and ledger.size == 21
    assert seen == [(i, hashes[i - 1] if i else bytes(32)) for i in range(21)]
    entry = await ledger.entry(7)
    assert (entry.leaf, entry.leaf_hash, entry.kind, entry.subject) == (
        build(7, hashes[6]),
        hashes[7],
        "cast",
        "c7",
    )
    for size in range(1, 22):
        checkpoint = await ledger.checkpoint_at(size)
        root = root_of(checkpoint)
        assert root == merkle.root(hashes[:size]) == done[size - 1].root
        assert checkpoint == done[size - 1].checkpoint
        for index in range(size):
            proof = await ledger.inclusion_proof(index, size)
            assert merkle.verify_inclusion(index, size, hashes[index], proof, root)
        for size2 in range(size, 22):
            proof = await ledger.consistency_proof(size, size2)
            root2 = root_of(await ledger.checkpoint_at(size2))
            assert merkle.verify_consistency(size, size2, proof, root, root2)
    assert await ledger.checkpoint() == done[-1].checkpoint
    with pytest.raises(LedgerError):
        await ledger.inclusion_proof(21, 21)
    with pytest.raises(LedgerError):
        await ledger.consistency_proof(3, 22)
    await ledger.close()


async def test_reopen_continues_and_audits_clean(tmp_path: Path) -> None:
    ledger = await filled(tmp_path / "l.db", 5)
    last = await ledger.entry(4)
    await ledger.close()
    ledger = await open_ledger(tmp_path / "l.db")
    assert ledger.size == 5 and ledger.state.ok
    appended = await ledger.append(build)
    assert appended.index == 5
    assert (await ledger.entry(5)).leaf == build(5, last.leaf_hash)
    report = await audit(ledger)
    assert report.ok, report.problems
    assert (report.entries, report.checkpoints) == (6, 6)
    await ledger.close()
    report = await audit(tmp_path / "l.db", origin=ORIGIN, verifiers=[KEY.verifier()])
    assert report.ok and report.entries_per_s > 0


async def test_failing_build_writes_nothing_and_keeps_appending(tmp_path: Path) -> None:
    ledger = await filled(tmp_path / "l.db", 2)

    def broken(index: int, prev: bytes) -> bytes:
        raise RuntimeError("caller bug")

    def unreadable(index: int, prev: bytes) -> bytes:
        return (tmp_path / "missing.json").read_bytes()

    with pytest.raises(RuntimeError, match="caller bug"):
        await ledger.append(broken)
    with pytest.raises(FileNotFoundError):
        await ledger.append(unreadable)
    assert ledger.state.ok and ledger.size == 2
    assert (await ledger.append(build)).index == 2
    await ledger.close()


async def test_triggers_refuse_update_and_delete(tmp_path: Path) -> None:
    await (await filled(tmp_path / "l.db", 2)).close()
    for statement in (
        "UPDATE entries SET leaf = x'00' WHERE idx = 1",
        "DELETE FROM entries WHERE idx = 1",
        "DELETE FROM checkpoints",
        "UPDATE tiles SET hash = hash",
    ):
        with pytest.raises(sqlite3.IntegrityError, match="append-only"):
            raw(tmp_path / "l.db", statement)


TAMPERING = {
    "tampered last leaf": (
        "DROP TRIGGER entries_no_update",
        """UPDATE entries SET leaf = CAST(replace(CAST(leaf AS TEXT), '"pad"', '"pat"') AS BLOB)
           WHERE idx = 5""",
    ),
    "tampered last leaf and its hashes": (
        "DROP TRIGGER entries_no_update",
        "UPDATE entries SET leaf = x'01', leaf_hash = (SELECT leaf_hash FROM entries WHERE idx = 4)"
        " WHERE idx = 5",
    ),
    "deleted last row": ("DROP TRIGGER entries_no_delete", "DELETE FROM entries WHERE idx = 5"),
    "deleted last row and checkpoint": (
        "DROP TRIGGER entries_no_delete",
        "DROP TRIGGER checkpoints_no_delete",
        "DELETE FROM entries WHERE idx = 5",
        "DELETE FROM checkpoints WHERE size = 6",
    ),
    "swapped checkpoint": (
        "DROP TRIGGER checkpoints_no_update",
        "UPDATE checkpoints SET note = (SELECT note FROM checkpoints WHERE size = 5)"
        " WHERE size = 6",
    ),
    "tampered tile": ("DROP TRIGGER tiles_no_update", "UPDATE tiles SET hash = zeroblob(32)"),
}


@pytest.mark.parametrize("statements", TAMPERING.values(), ids=TAMPERING.keys())
async def test_tail_check_opens_stopped(tmp_path: Path, statements: tuple[str, ...]) -> None:
    await (await filled(tmp_path / "l.db", 6)).close()
    raw(tmp_path / "l.db", *statements)
    alarms: list[str] = []
    ledger = await open_ledger(tmp_path / "l.db", alarms)
    assert not ledger.state.ok and alarms == [ledger.state.stopped]
    assert "tail check failed" in alarms[0]
    with pytest.raises(LedgerStopped, match="tail check failed"):
        await ledger.append(build)
    report = await audit(ledger)
    assert not report.ok
    await ledger.close()


async def test_wrong_key_opens_stopped(tmp_path: Path) -> None:
    await (await filled(tmp_path / "l.db", 2)).close()
    ledger = await open_ledger(tmp_path / "l.db", key=Signer(ORIGIN, Ed25519PrivateKey.generate()))
    assert ledger.state.stopped is not None and "trusted" in ledger.state.stopped
    await ledger.close()


async def test_audit_finds_a_tampered_middle_entry_and_stops(tmp_path: Path) -> None:
    ledger = await filled(tmp_path / "l.db", 9)
    raw(
        tmp_path / "l.db",
        "DROP TRIGGER entries_no_update",
        "UPDATE entries SET leaf = x'7b7d' WHERE idx = 3",
    )
    alarms: list[str] = []
    ledger._on_alarm = alarms.append
    report = await audit(ledger)
    assert any("entry 3" in p for p in report.problems)
    assert any("trigger entries_no_update is missing" in p for p in report.problems)
    assert not ledger.state.ok and len(alarms) == 1
    with pytest.raises(LedgerStopped):
        await ledger.append(build)
    await ledger.close()


@pytest.mark.parametrize("batch", [4, 10_000], ids=["worker processes", "inline"])
async def test_audit_checks_every_checkpoint_signature(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, batch: int
) -> None:
    monkeypatch.setattr(audit_module, "BATCH", batch)
    await (await filled(tmp_path / "l.db", 13)).close()
    other = Signer(ORIGIN, Ed25519PrivateKey.generate())
    forged = note.sign(note.Checkpoint(ORIGIN, 6, bytes(32)).text(), [other])
    raw(
        tmp_path / "l.db",
        "DROP TRIGGER checkpoints_no_update",
        f"UPDATE checkpoints SET note = '{forged}' WHERE size = 6",
    )
    report = await audit(tmp_path / "l.db", origin=ORIGIN, verifiers=[KEY.verifier()])
    assert report.checkpoints == 13
    assert [p for p in report.problems if p.startswith("checkpoint ")] == [
        "checkpoint 6: note: is not signed by any trusted key"
    ]
    report = await audit(
        tmp_path / "l.db", origin=ORIGIN, verifiers=[KEY.verifier(), other.verifier()]
    )
    assert [p for p in report.problems if p.startswith("checkpoint ")] == [
        "checkpoint 6: not consistent with checkpoint 5",
        "checkpoint 7: not consistent with checkpoint 6",
    ]


async def test_full_disk_stops_appends_and_leaves_a_valid_ledger(tmp_path: Path) -> None:
    alarms: list[str] = []
    ledger = await open_ledger(tmp_path / "l.db", alarms)
    await ledger.append(build)
    pages = await ledger._run(lambda: ledger._conn.execute("PRAGMA page_count").fetchone()[0])
    await ledger._run(ledger._conn.execute, f"PRAGMA max_page_count = {pages + 4}")
    with pytest.raises(LedgerStopped, match="full"):
        await append_many(ledger, 100, pad=3000)
    committed = ledger.size
    assert 1 < committed < 100 and alarms == [ledger.state.stopped]
    with pytest.raises(LedgerStopped):
        await ledger.append(build)
    report = await audit(ledger)
    assert report.ok and report.entries == committed, report.problems
    await ledger.close()
    ledger = await open_ledger(tmp_path / "l.db")
    assert ledger.state.ok and ledger.size == committed
    await ledger.close()


async def append_many(ledger: Ledger, n: int, pad: int) -> None:
    for _ in range(n):
        await ledger.append(functools.partial(build, pad=pad))


def check_all_proofs(path: Path, leaves: list[int]) -> None:
    async def run() -> None:
        ledger = await open_ledger(path)
        done = [await ledger.append(functools.partial(build, pad=n)) for n in leaves]
        hashes, roots = [a.leaf_hash for a in done], [a.root for a in done]
        n = len(leaves)
        for size in range(1, n + 1):
            for index in range(size):
                proof = await ledger.inclusion_proof(index, size)
                assert merkle.verify_inclusion(index, size, hashes[index], proof, roots[size - 1])
            for size2 in range(size, n + 1):
                proof = await ledger.consistency_proof(size, size2)
                assert merkle.verify_consistency(
                    size, size2, proof, roots[size - 1], roots[size2 - 1]
                )
        await ledger.close()

    asyncio.run(run())


@settings(max_examples=12, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=50), min_size=1, max_size=24))
def test_every_proof_verifies_for_any_append_sequence(leaves: list[int]) -> None:
    with tempfile.TemporaryDirectory() as tmp:
        check_all_proofs(Path(tmp) / "l.db", leaves)
