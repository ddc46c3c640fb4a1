import base64
import stat
from pathlib import Path

import pytest

from labctl.ledger import keys, merkle, note
from labctl.ledger.jcs import LedgerFormatError, LedgerKeyError, LedgerSignatureError

VECTORS = Path(__file__).resolve().parents[2] / "vectors" / "signed-note"
EXAMPLE = (VECTORS / "example.note").read_bytes()
EXAMPLE_VKEY = (VECTORS / "example.vkey").read_text().strip()
ORIGIN = "castlab.example.com/ledger/v1"


@pytest.fixture
def signer(tmp_path: Path) -> keys.Signer:
    return keys.generate(tmp_path / "log.key", ORIGIN)


def test_spec_example_verifies():
    verifier = note.parse_vkey(EXAMPLE_VKEY)
    assert (verifier.name, verifier.keyid) == ("example.com/foo", "530d903a")
    opened = note.verify(EXAMPLE, [verifier])
    assert opened.text == "This is an example message.\n"
    assert opened.verified_by == (verifier,)
    assert note.vkey(verifier.name, verifier.public_key) == EXAMPLE_VKEY


@pytest.mark.parametrize("offset", range(len(EXAMPLE)))
def test_any_flipped_byte_of_the_example_fails(offset: int):
    changed = bytearray(EXAMPLE)
    changed[offset] ^= 0x01
    with pytest.raises(LedgerFormatError):
        note.verify(bytes(changed), [note.parse_vkey(EXAMPLE_VKEY)])


def test_vkey_with_wrong_key_id_is_rejected():
    name, _, key = EXAMPLE_VKEY.split("+", 2)
    with pytest.raises(LedgerFormatError, match="does not match"):
        note.parse_vkey(f"{name}+00000000+{key}")
    with pytest.raises(LedgerFormatError, match="key name"):
        note.key_id("has space", b"\x00" * 32)
    with pytest.raises(LedgerFormatError, match="key name"):
        note.key_id("a+b", b"\x00" * 32)


def test_several_signers_unknown_keys_ignored(tmp_path: Path, signer: keys.Signer):
    other = keys.generate(tmp_path / "witness.key", "witness.example.org")
    signed = note.sign("hello\n\nworld\n", [signer, other])
    assert signed.count("\n\u2014 ") == 2
    opened = note.verify(signed, [other.verifier()])
    assert opened.text == "hello\n\nworld\n"
    assert [v.name for v in opened.verified_by] == ["witness.example.org"]
    assert len(note.verify(signed, [signer.verifier(), other.verifier()]).verified_by) == 2
    with pytest.raises(LedgerSignatureError, match="not signed by any trusted key"):
        note.verify(signed, [note.parse_vkey(EXAMPLE_VKEY)])


def test_bad_signature_from_trusted_key_rejects(tmp_path: Path, signer: keys.Signer):
    # A second key with the same name: its line is tried and fails under the first key's id.
    impostor = keys.Signer(ORIGIN, keys.generate(tmp_path / "x.key", "x").private_key)
    line = note.sign("text\n", [impostor]).split("\n")[2]
    name, encoded = line[2:].split(" ")
    forged = base64.b64encode(signer.key_id + base64.b64decode(encoded)[4:]).decode()
    note_text = note.sign("text\n", [signer]) + f"\u2014 {name} {forged}\n"
    with pytest.raises(LedgerSignatureError, match="invalid"):
        note.verify(note_text, [signer.verifier()])


@pytest.mark.parametrize(
    "bad",
    ["no newline", "bell\x07\n", ""],
)
def test_unsignable_text(signer: keys.Signer, bad: str):
    with pytest.raises(LedgerFormatError, match="note text"):
        note.sign(bad, [signer])


def test_checkpoint_round_trip(signer: keys.Signer):
    leaves = [merkle.leaf_hash(b"a"), merkle.leaf_hash(b"b")]
    checkpoint = note.Checkpoint(ORIGIN, 2, merkle.root(leaves))
    text = checkpoint.text()
    assert text.splitlines() == [ORIGIN, "2", base64.b64encode(merkle.root(leaves)).decode()]
    signed = note.sign(text, [signer])
    assert note.open_checkpoint(signed, [signer.verifier()]) == checkpoint
    extended = note.Checkpoint(ORIGIN, 0, merkle.EMPTY_ROOT, ("ext one",))
    assert note.Checkpoint.parse(extended.text()) == extended


def test_checkpoint_signed_by_other_origin_is_rejected(tmp_path: Path):
    stranger = keys.generate(tmp_path / "s.key", "someone.else")
    signed = note.sign(note.Checkpoint(ORIGIN, 1, merkle.leaf_hash(b"")).text(), [stranger])
    with pytest.raises(LedgerSignatureError, match="of that origin"):
        note.open_checkpoint(signed, [stranger.verifier()])


@pytest.mark.parametrize(
    ("body", "why"),
    [
        ("o\n1\n", "origin, size and root"),
        ("\n1\n" + "A" * 43 + "=\n", "origin"),
        ("o\n01\n" + "A" * 43 + "=\n", "size"),
        ("o\n-1\n" + "A" * 43 + "=\n", "size"),
        ("o\n1\nAAAA\n", "root"),
        ("o\n1\n" + "A" * 43 + "=\n\n", "extension"),
    ],
)
def test_bad_checkpoint_bodies(body: str, why: str):
    with pytest.raises(LedgerFormatError, match=why):
        note.Checkpoint.parse(body)


def test_generate_is_private_and_never_overwrites(tmp_path: Path):
    path = tmp_path / "log.key"
    first = keys.generate(path, ORIGIN)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    with pytest.raises(LedgerKeyError, match="refusing to overwrite"):
        keys.generate(path, ORIGIN)
    assert [p.name for p in tmp_path.iterdir()] == ["log.key"]
    loaded = keys.load(path, ORIGIN)
    assert loaded.vkey == first.vkey
    assert note.parse_vkey(loaded.vkey) == first.verifier()
    assert "BEGIN PUBLIC KEY" in loaded.public_key_pem()


def test_load_refuses_readable_or_bad_key_files(tmp_path: Path):
    path = tmp_path / "log.key"
    keys.generate(path, ORIGIN)
    path.chmod(0o640)
    with pytest.raises(LedgerKeyError, match="mode 0640"):
        keys.load(path, ORIGIN)
    with pytest.raises(LedgerKeyError, match="cannot open"):
        keys.load(tmp_path / "missing.key", ORIGIN)
    junk = tmp_path / "junk.key"
    junk.write_bytes(b"not a key")
    junk.chmod(0o600)
    with pytest.raises(LedgerKeyError, match="not an unencrypted PEM"):
        keys.load(junk, ORIGIN)
