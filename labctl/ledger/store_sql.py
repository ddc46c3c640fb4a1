"""The ledger's SQLite schema and the blocking reads and writes its one thread makes.

Tables: ``entries`` (contiguous 0-based ``idx``, the leaf bytes, the RFC 6962 leaf hash and a
hash chain over the leaf hashes), ``checkpoints`` (one signed note per tree size), ``tiles``
(the hash of every complete subtree of 2**level leaves, level >= 1, written when it completes;
level 0 is ``entries.leaf_hash``) and ``meta`` (origin, schema version). Triggers make every
table append-only: they catch bugs, not attackers; the Merkle tree and the signatures do that.
"""

from __future__ import annotations

import hashlib
import sqlite3
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Final

from labctl.ledger import merkle, note
from labctl.ledger.jcs import LedgerFormatError

SCHEMA_VERSION: Final = 1
CHAIN_DOMAIN: Final = b"labctl-ledger-chain/v1\n"
NO_HASH: Final = bytes(32)  # the chain before entry 0, and entry 0's previous leaf hash

_TABLES: Final = ("meta", "entries", "checkpoints", "tiles")
SCHEMA: Final = (
    "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
    """CREATE TABLE entries (
        idx INTEGER PRIMARY KEY CHECK (idx >= 0), leaf BLOB NOT NULL,
        leaf_hash BLOB NOT NULL CHECK (length(leaf_hash) = 32),
        chain BLOB NOT NULL CHECK (length(chain) = 32),
        kind TEXT NOT NULL, subject TEXT NOT NULL)""",
    "CREATE INDEX entries_by_subject ON entries (subject, kind)",
    "CREATE TABLE checkpoints (size INTEGER PRIMARY KEY CHECK (size > 0), note TEXT NOT NULL)",
    """CREATE TABLE tiles (
        level INTEGER NOT NULL CHECK (level > 0), idx INTEGER NOT NULL CHECK (idx >= 0),
        hash BLOB NOT NULL CHECK (length(hash) = 32), PRIMARY KEY (level, idx)) WITHOUT ROWID""",
    *(
        f"CREATE TRIGGER {table}_no_{op} BEFORE {op.upper()} ON {table}"
        f" BEGIN SELECT RAISE(ABORT, '{table} is append-only'); END"
        for table in _TABLES
        for op in ("update", "delete")
    ),
)

Tile = tuple[int, int, bytes]  # (level, index at that level, hash)


def chain_hash(prev_chain: bytes, leaf_hash: bytes) -> bytes:
    """``chain[i] = SHA-256(domain || chain[i-1] || leaf_hash[i])``, ``chain[-1]`` all zeros."""
    return hashlib.sha256(CHAIN_DOMAIN + prev_chain + leaf_hash).digest()


def connect(path: Path, *, readonly: bool = False) -> sqlite3.Connection:
    """A connection in autocommit mode (explicit transactions), WAL, ``synchronous=FULL``."""
    if readonly:
        conn = sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)
    else:
        path.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        conn = sqlite3.connect(path)
    conn.isolation_level = None
    try:
        if not readonly:
            conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=FULL")
        conn.execute("PRAGMA busy_timeout=5000")
    except BaseException:
        conn.close()
        raise
    return conn


def create_schema(conn: sqlite3.Connection, origin: str) -> None:
    """Create the tables in one transaction unless they exist (the caller holds BEGIN)."""
    for statement in SCHEMA:
        conn.execute(statement)
    conn.executemany(
        "INSERT INTO meta (key, value) VALUES (?, ?)",
        [("origin", origin), ("schema_version", str(SCHEMA_VERSION))],
    )


def has_schema(conn: sqlite3.Connection) -> bool:
    row = conn.execute("SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = 'meta'")
    return row.fetchone() is not None


def meta(conn: sqlite3.Connection, key: str) -> str | None:
    row = conn.execute("SELECT value FROM meta WHERE key = ?", (key,)).fetchone()
    return None if row is None else str(row[0])


def subtree_reader(conn: sqlite3.Connection) -> Callable[[int, int], bytes]:
    """``subtree_hash(level, index)`` for merkle's proof builders: one indexed read each."""

    def subtree_hash(level: int, index: int) -> bytes:
        if level == 0:
            row = conn.execute("SELECT leaf_hash FROM entries WHERE idx = ?", (index,))
        else:
            row = conn.execute("SELECT hash FROM tiles WHERE level = ? AND idx = ?", (level, index))
        found = row.fetchone()
        if found is None:
            raise LookupError(f"no stored subtree at level {level}, index {index}")
        return bytes(found[0])

    return subtree_hash


def compact_range(subtree_hash: Callable[[int, int], bytes], size: int) -> merkle.CompactRange:
    """The compact range of ``[0, size)`` from its stored perfect subtrees: O(log n) reads."""
    hashes, start = [], 0
    for level in range(size.bit_length() - 1, -1, -1):
        if size >> level & 1:
            hashes.append(subtree_hash(level, start >> level))
            start += 1 << level
    return merkle.CompactRange(size, hashes)


def tail(conn: sqlite3.Connection) -> tuple[int, bytes, bytes]:
    """``(size, last leaf hash, last chain)`` as stored, zeros when empty."""
    row = conn.execute("SELECT idx, leaf_hash, chain FROM entries ORDER BY idx DESC LIMIT 1")
    found = row.fetchone()
    if found is None:
        return 0, NO_HASH, NO_HASH
    return int(found[0]) + 1, bytes(found[1]), bytes(found[2])


def leaf(conn: sqlite3.Connection, index: int) -> bytes:
    found = conn.execute("SELECT leaf FROM entries WHERE idx = ?", (index,)).fetchone()
    if found is None:
        raise LookupError(f"no entry {index}")
    return bytes(found[0])


def chain_before(conn: sqlite3.Connection, index: int) -> bytes:
    """The chain hash of entry ``index - 1`` (zeros for entry 0)."""
    if index == 0:
        return NO_HASH
    found = conn.execute("SELECT chain FROM entries WHERE idx = ?", (index - 1,)).fetchone()
    if found is None:
        raise LookupError(f"no entry {index - 1}")
    return bytes(found[0])


def stray_tiles(conn: sqlite3.Connection, size: int) -> list[Tile]:
    """Tiles that reach beyond ``size`` leaves (left by a truncated log): one read per level."""
    rows = conn.execute("SELECT level, max(idx) FROM tiles GROUP BY level").fetchall()
    return [(int(lv), int(ix), b"") for lv, ix in rows if (int(ix) + 1) << int(lv) > size]


def insert(
    conn: sqlite3.Connection,
    entry: tuple[int, bytes, bytes, bytes, str, str],
    tiles: list[Tile],
    checkpoint: tuple[int, str] | None,
) -> None:
    """Insert one entry ``(idx, leaf, leaf_hash, chain, kind, subject)``, its tiles and note."""
    conn.execute(
        "INSERT INTO entries (idx, leaf, leaf_hash, chain, kind, subject) VALUES (?,?,?,?,?,?)",
        entry,
    )
    conn.executemany(
        "INSERT INTO tiles (level, idx, hash) VALUES (?, ?, ?)", [t for t in tiles if t[0] > 0]
    )
    if checkpoint is not None:
        conn.execute("INSERT INTO checkpoints (size, note) VALUES (?, ?)", checkpoint)


def note_at(conn: sqlite3.Connection, size: int | None) -> str | None:
    """The checkpoint note of tree ``size``, or the latest when ``size`` is None."""
    if size is None:
        row = conn.execute("SELECT note FROM checkpoints ORDER BY size DESC LIMIT 1")
    else:
        row = conn.execute("SELECT note FROM checkpoints WHERE size = ?", (size,))
    found = row.fetchone()
    return None if found is None else str(found[0])


def sign_checkpoint(origin: str, size: int, root: bytes, signers: Sequence[note.NoteSigner]) -> str:
    """The C2SP checkpoint note of tree ``size`` with ``root``, signed by every signer."""
    return note.sign(note.Checkpoint(origin, size, root).text(), signers)


def verify_checkpoint(
    text: str, origin: str, verifiers: Sequence[note.Verifier]
) -> note.Checkpoint:
    """Open a checkpoint note: a trusted signature of ``origin``'s key, and that origin."""
    checkpoint = note.open_checkpoint(text, verifiers)
    if checkpoint.origin != origin:
        raise LedgerFormatError("checkpoint", f"origin {checkpoint.origin!r} is not {origin!r}")
    return checkpoint


def check_tail(
    conn: sqlite3.Connection, origin: str, verifiers: Sequence[note.Verifier]
) -> tuple[merkle.CompactRange, bytes, bytes]:
    """Check the stored tail; returns ``(compact range, last leaf hash, last chain)``.

    Checks the last entry's leaf and chain, the latest checkpoint's signature and size, the
    root of the stored compact range, the last leaf's inclusion under it, and that no tile
    reaches beyond the entries. Raises ValueError, LookupError or LedgerFormatError.
    """
    stored_origin = meta(conn, "origin")
    if stored_origin != origin:
        raise ValueError(f"the ledger's origin is {stored_origin!r}, not {origin!r}")
    size, leaf_hash, chain = tail(conn)
    latest = note_at(conn, None)
    stray = stray_tiles(conn, size)
    if stray:
        raise ValueError(f"tiles {[t[:2] for t in stray]} reach beyond the {size} entries")
    if latest is None:
        if size:
            raise ValueError(f"{size} entries but no checkpoint")
        return merkle.CompactRange(), NO_HASH, NO_HASH
    checkpoint = verify_checkpoint(latest, origin, verifiers)
    if (checkpoint.size, note_at(conn, checkpoint.size)) != (size, latest):
        raise ValueError(f"the latest checkpoint is for size {checkpoint.size}, not {size}")
    if merkle.leaf_hash(leaf(conn, size - 1)) != leaf_hash:
        raise ValueError(f"entry {size - 1}'s leaf does not match its leaf hash")
    prev_chain = chain_before(conn, size - 1)
    if chain_hash(prev_chain, leaf_hash) != chain:
        raise ValueError(f"entry {size - 1}'s chain hash does not match")
    reader = subtree_reader(conn)
    tree = compact_range(reader, size)
    if tree.root() != checkpoint.root:
        raise ValueError(f"the stored tree's root differs from checkpoint {size}'s")
    proof = merkle.inclusion_proof_from(reader, size - 1, size)
    if not merkle.verify_inclusion(size - 1, size, leaf_hash, proof, checkpoint.root):
        raise ValueError(f"entry {size - 1} is not included under checkpoint {size}")
    return tree, leaf_hash, chain
