"""``pytest -m device --device=FAMILY:PORT[:UNIT]``: commission a real device on the bench.

The same command a lab runs (``labctl commission``, a subprocess) against a site file built
around the device (:mod:`tests.device.bench`), then ``labctl ledger verify``. Skipped unless
``--device`` is given. The device's heat, pump or drive is inhibited first; its lease is
exercised in real time (an I/O module waits its 20 s lease, a Eurotherm ``--device-lease-s``).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from labctl.config.site import load_site
from labctl.ledger import keys
from tests.device.bench import FAMILIES, BadSpec, BenchDevice


def labctl(*args: str, timeout_s: float) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "labctl.cli", *args]
    return subprocess.run(cmd, capture_output=True, text=True, check=False, timeout=timeout_s)


@pytest.mark.device
@pytest.mark.timeout(900)
def test_the_bench_device_commissions(request: pytest.FixtureRequest, tmp_path: Path) -> None:
    spec = request.config.getoption("--device")
    if spec is None:
        pytest.skip("no --device=FAMILY:PORT[:UNIT] given")
    bench = BenchDevice.parse(str(spec))
    key = tmp_path / "log.key"
    keys.generate(key, "bench.labctl.invalid/ledger/v1")
    site = tmp_path / "bench.toml"
    site.write_text(
        bench.site(
            state=tmp_path,
            key=key,
            baudrate=int(request.config.getoption("--device-baudrate")),
            parity=str(request.config.getoption("--device-parity")),
        )
    )
    lease = str(request.config.getoption("--device-lease-s"))
    done = labctl(
        "commission", "--config", str(site), "--lease-s", lease, bench.device, timeout_s=800
    )
    request.node.add_report_section("call", "commissioning", done.stdout + done.stderr)
    assert done.returncode == 0, done.stdout + done.stderr
    verified = labctl("ledger", "verify", "--config", str(site), timeout_s=60)
    assert verified.returncode == 0, verified.stdout + verified.stderr


@pytest.mark.parametrize("family", FAMILIES)
@pytest.mark.parametrize("port", ["/dev/ttyUSB0:2", "192.0.2.10:502"])
def test_a_bench_site_is_valid_for_every_family(tmp_path: Path, family: str, port: str) -> None:
    spec = f"{family}:{port}"
    if family in ("tpg36x", "adam4018") and not port.startswith("/"):
        with pytest.raises(BadSpec, match="serial line"):
            BenchDevice.parse(spec)
        return
    bench = BenchDevice.parse(spec)
    path = tmp_path / "bench.toml"
    path.write_text(bench.site(state=tmp_path, key=tmp_path / "k", baudrate=9600, parity="E"))
    site = load_site(path)
    dut = site.devices["dut"]
    assert dut.family == family
    assert bench.unit == (2 if port.startswith("/") else None)


@pytest.mark.parametrize(
    "spec", ["kiln:/dev/ttyUSB0", "iomodule", "iomodule:/dev/ttyUSB0:x", "iomodule:host"]
)
def test_a_bad_device_spec_is_named(spec: str) -> None:
    with pytest.raises(BadSpec, match=f"--device={spec}"):
        BenchDevice.parse(spec)
