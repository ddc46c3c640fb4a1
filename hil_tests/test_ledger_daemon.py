"""The daemon signs production records and casts; certificates verify with only log.vkey."""

from __future__ import annotations

import subprocess
import sys

import pytest

from hil_tests.support.caster import PROFILES, caster_rig
from labctl.ledger import keys
from labctl.ledger.certificate import ENVELOPE, CertificateError, verify_certificate
from labctl.profiles.alloys import load_alloy
from labctl.sim.demo.records import demo_records
from labctl.sim.site import LEDGER_ORIGIN

pytestmark = [pytest.mark.hil, pytest.mark.timeout(180)]


def labctl(*args: str) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "labctl.cli", *args]
    return subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=60)


async def test_a_cast_is_signed_and_its_certificate_verifies_offline(tmp_path):
    alloy = load_alloy(PROFILES / "alloys" / "gold-18k-yellow.toml")
    key = tmp_path / "ledger.key"
    keys.generate(key, LEDGER_ORIGIN)
    async with caster_rig(
        tmp_path, "vacuum", flask_c=alloy.flask.medium_c, crucible_c=1000.0, ledger_key=key
    ) as rig:
        await rig.start_daemon()
        start = {"caster": "caster1", "alloy": alloy.name, "piece_class": "medium", "kiln": "kiln1"}
        refused = await rig.command("cast_start", **start)
        assert not refused["ok"] and "give the flask id" in refused["error"], refused
        bad_melt = {"melt_id": "M-9", "alloy": alloy.name, "result_mass_mg": 1, "inputs": [
            {"lot_id": "L-404", "mass_mg": 5, "coc_class": "mined", "metal": "gold",
             "fineness_ppt": 750}]}  # fmt: skip
        refused = await rig.command("ledger_record", kind="melt", record=bad_melt)
        assert not refused["ok"] and "lot L-404 is not in the ledger" in refused["error"]
        for record in demo_records(alloy.name, "medium", alloy.metal, alloy.fineness_ppt):
            reply = await rig.command("ledger_record", **record)
            assert reply["ok"], reply
        kept = (await rig.command("ledger_status"))["result"]
        checkpoint_file = tmp_path / "kept.checkpoint"
        size_before = kept["size"]
        chain = {"flask_id": "F-0007", "melt_id": "M-0031", "idempotency_key": "hil-cast-0007"}
        reply = await rig.command("cast_start", **start, **chain)
        assert reply["ok"], reply
        cast_id = reply["result"]["cast_id"]
        retry = await rig.command("cast_start", **start, **chain)  # the reply was lost: again
        assert retry["ok"] and retry["result"] == reply["result"], (reply, retry)
        await rig.wait_state("flask_transfer", timeout_s=60)
        rig.sim.io.flask_present = True
        await rig.wait_for(lambda c: c["flask_present"], timeout_s=5)
        assert (await rig.command("cast_confirm", caster="caster1", step="flask_placed"))["ok"]
        assert await rig.outcome(timeout_s=60) == "completed"
        # issue 12: the same flask and melt are not cast twice; ids are unique; refs must exist
        again = await rig.command("cast_start", **start, flask_id="F-0007", melt_id="M-0031")
        assert not again["ok"] and "flask F-0007 was already cast: cast-" in again["error"], again
        lot = demo_records(alloy.name, "medium", alloy.metal, alloy.fineness_ppt)[0]
        lot["record"] = lot["record"] | {"fineness_ppt": 375}
        refused = await rig.command("ledger_record", **lot)
        assert not refused["ok"], refused
        assert "lot-receipt L-2026-0141 is already in the ledger (index 0" in refused["error"]
        qa = {"cast_id": "cast-999", "input_mass_mg": 1000, "pieces": [], "scrap_mg": 0,
              "tolerance_ppt": 20}  # fmt: skip
        refused = await rig.command("ledger_record", kind="qa-balance", record=qa)
        assert not refused["ok"] and "cast cast-999 is not in the ledger" in refused["error"]
        qa["cast_id"] = f"cast-{cast_id}"
        first = await rig.command("ledger_record", kind="qa-balance", record=qa,
                                  idempotency_key="hil-qa-0001")  # fmt: skip
        retry = await rig.command("ledger_record", kind="qa-balance", record=qa,
                                  idempotency_key="hil-qa-0001")  # fmt: skip
        assert first["ok"] and retry["ok"] and retry["result"] == first["result"], (first, retry)
        second = await rig.command("ledger_record", kind="qa-balance", record=qa | {"scrap_mg": 1})
        assert not second["ok"] and "already in the ledger" in second["error"], second
        reply = await rig.command("ledger_export", cast_id=f"cast-{cast_id}")
        assert reply["ok"], reply
        certificate = tmp_path / "state" / "certificates" / f"cast-{cast_id}"
        verified = verify_certificate(certificate)
        assert verified.subject == f"cast-{cast_id}" and verified.index == size_before
        assert verified.predicate["flask_id"] == "F-0007"
        assert verified.predicate["confirmations"][0]["step"] == "flask_placed"
        assert verified.predicate["process"]["outcome"] == "complete"
        cli = labctl("ledger", "verify-certificate", str(certificate))
        assert cli.returncode == 0 and "verified: cast-record" in cli.stdout, cli.stderr
        envelope = certificate / ENVELOPE
        envelope.write_bytes(envelope.read_bytes().replace(b'"payload":"', b'"payload":"A', 1))
        with pytest.raises(CertificateError, match=ENVELOPE):
            verify_certificate(certificate)
        # a checkpoint kept before the cast: the log only grew from it
        checkpoint_file.write_text(kept["checkpoint"])
        cli = labctl("ledger", "consistency", "--config", str(rig.site), str(checkpoint_file))
        assert cli.returncode == 0 and "grew append-only" in cli.stdout, cli.stdout + cli.stderr
        await rig.stop_daemon()
    audit = labctl("ledger", "verify", "--config", str(tmp_path / "site.toml"))
    assert audit.returncode == 0 and "valid" in audit.stdout, audit.stdout + audit.stderr
