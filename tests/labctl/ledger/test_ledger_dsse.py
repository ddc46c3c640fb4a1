import base64
import json
from pathlib import Path

import pytest

from labctl.ledger import dsse, keys
from labctl.ledger.jcs import LedgerFormatError, LedgerSignatureError, canonical


@pytest.fixture
def signer(tmp_path: Path) -> keys.Signer:
    return keys.generate(tmp_path / "log.key", "castlab.example.com/ledger/v1")


def _trusted(*signers: keys.Signer) -> dict[str, bytes]:
    return {s.keyid: s.public_key for s in signers}


def test_pae_spec_example():
    assert (
        dsse.pae("http://example.com/HelloWorld", b"hello world")
        == b"DSSEv1 29 http://example.com/HelloWorld 11 hello world"
    )
    assert dsse.pae("t\u00e9", b"") == "DSSEv1 3 t\u00e9 0 ".encode()


def test_round_trip(tmp_path: Path, signer: keys.Signer):
    other = keys.generate(tmp_path / "new.key", "castlab.example.com/ledger/v1")
    envelope = dsse.sign(b'{"a":1}', [signer, other])
    obj = envelope.to_dict()
    assert obj["payloadType"] == "application/vnd.in-toto+json"
    assert obj["payload"] == base64.b64encode(b'{"a":1}').decode()
    assert [s["keyid"] for s in obj["signatures"]] == [signer.keyid, other.keyid]
    again = dsse.Envelope.from_json(canonical(obj))
    assert again == envelope
    verified = dsse.verify(again, _trusted(signer, other))
    assert verified.payload == b'{"a":1}'
    assert verified.keyids == (signer.keyid, other.keyid)
    assert dsse.verify(again, _trusted(other)).keyids == (other.keyid,)


def test_url_safe_unpadded_base64_accepted(signer: keys.Signer):
    payload = bytes(range(250, 256)) * 3 + b"?>"
    obj = dsse.sign(payload, [signer]).to_dict()
    sig = base64.urlsafe_b64encode(dsse.sign(payload, [signer]).signatures[0].sig).decode()
    obj["payload"] = base64.urlsafe_b64encode(payload).decode().rstrip("=")
    obj["signatures"] = [{"keyid": signer.keyid, "sig": sig}]
    assert "-" in obj["payload"] or "_" in obj["payload"]
    assert dsse.verify(dsse.Envelope.from_dict(obj), _trusted(signer)).payload == payload


def test_untrusted_or_wrong_type_rejected(tmp_path: Path, signer: keys.Signer):
    stranger = keys.generate(tmp_path / "s.key", "someone")
    envelope = dsse.sign(b"x", [signer])
    with pytest.raises(LedgerSignatureError, match="not signed by any trusted key"):
        dsse.verify(envelope, _trusted(stranger))
    with pytest.raises(LedgerFormatError, match="payloadType"):
        dsse.verify(envelope, _trusted(signer), payload_type="application/json")
    with pytest.raises(LedgerFormatError, match="at least one signer"):
        dsse.sign(b"x", [])


def test_any_flipped_byte_fails(signer: keys.Signer):
    data = canonical(dsse.sign(b'{"_type":"x","n":12345}', [signer]).to_dict())
    for offset in range(len(data)):
        for mask in (0x01, 0x20):
            changed = bytearray(data)
            changed[offset] ^= mask
            with pytest.raises(LedgerFormatError):
                dsse.verify(dsse.Envelope.from_json(bytes(changed)), _trusted(signer))


@pytest.mark.parametrize(
    ("obj", "why"),
    [
        ([], "must be an object"),
        ({"payload": "", "payloadType": "t"}, "must be an object"),
        ({"payload": "", "payloadType": "t", "signatures": []}, "non-empty list"),
        ({"payload": "", "payloadType": "t", "signatures": [{"sig": "QQ="}]}, "padding"),
        ({"payload": "QR==", "payloadType": "t", "signatures": [{"sig": ""}]}, "canonical"),
        ({"payload": "", "payloadType": "t", "signatures": [{"sig": "", "x": 1}]}, "fields"),
    ],
)
def test_malformed_envelopes(obj: object, why: str):
    with pytest.raises(LedgerFormatError, match=why):
        dsse.Envelope.from_dict(obj)


def test_not_json():
    with pytest.raises(LedgerFormatError, match="not valid JSON"):
        dsse.Envelope.from_json(b"{")
    assert json.loads(canonical({"b": 1, "a": 2})) == {"a": 2, "b": 1}
