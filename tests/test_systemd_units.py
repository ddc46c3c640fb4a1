"""The systemd units: `systemd-analyze verify` and `security --offline` (no systemd PID 1), the
baseline directives, and the daemon's code under MemoryDenyWriteExecute= (seccomp, by hand).
"""

from __future__ import annotations

import ctypes
import mmap
import os
import platform
import re
import struct
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

from labctl.config.site import LabSection
from labctl.config.ui import UiSection

ROOT = Path(__file__).resolve().parent.parent
UNITS = sorted((ROOT / "systemd").glob("*.service"))
INSTALLED_LABCTL = "/opt/labctl/.venv/bin/labctl"

#: Measured `systemd-analyze security --offline=yes` exposure (systemd 252): any regression fails.
MAX_EXPOSURE = {"labctl.service": 1.4, "labctl-sim.service": 1.1, "labctl-kiosk.service": 3.1}

#: What labctl.service may still fail in `security`, each for a reason (systemd/README.md).
ACCEPTED_LABCTL = {
    "RootDirectory=/RootImage=",  # runs from /opt/labctl on the host
    "SupplementaryGroups=",  # dialout, for the serial ports
    "PrivateDevices=",  # would hide /dev/ttyUSB*: DevicePolicy=closed + DeviceAllow= instead
    "DeviceAllow=",  # exactly ttyUSB, ttyACM (and rtc read-only, from ProtectClock=)
    "RestrictAddressFamilies=~AF_UNIX",  # control socket, sd_notify
    "RestrictAddressFamilies=~AF_(INET|INET6)",  # Modbus TCP, MQTT, InfluxDB, touchscreen
    "PrivateNetwork=",  # the same
    "IPAddressDeny=",  # lab network allowed, internet denied
    "PrivateUsers=",  # would unmap dialout, the serial ports' group
    "UMask=",  # 0027: the labctl group may read state and certificates
}

_ON = (
    "ProtectHome", "PrivateTmp", "NoNewPrivileges", "RestrictNamespaces", "LockPersonality",
    "MemoryDenyWriteExecute", "ProtectKernelTunables", "ProtectKernelModules",
    "ProtectKernelLogs", "ProtectControlGroups", "ProtectClock", "ProtectHostname",
)  # fmt: skip
BASELINE = {
    **dict.fromkeys(_ON, "yes"),
    "Type": "notify",
    "NotifyAccess": "main",
    "User": "labctl",
    "Group": "labctl",
    "SupplementaryGroups": "dialout",
    "StateDirectory": "labctl",
    "ProtectSystem": "strict",
    "DevicePolicy": "closed",
    "CapabilityBoundingSet": "",
    "RestrictAddressFamilies": "AF_UNIX AF_INET AF_INET6",
    "SystemCallArchitectures": "native",
    "SystemCallErrorNumber": "EPERM",  # a filtered call fails (OpenBLAS mbind), no SIGSYS
    "UMask": "0027",
    "Restart": "on-failure",
    "KillMode": "mixed",
}


def parse_unit(path: Path) -> dict[str, dict[str, list[str]]]:
    """Sections → key → every value in order (keys repeat), continuation lines joined."""
    sections: dict[str, dict[str, list[str]]] = {}
    current: dict[str, list[str]] = {}
    text = re.sub(r"\\\n\s*", " ", path.read_text())
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith(("#", ";")):
            continue
        if line.startswith("["):
            current = sections.setdefault(line.strip("[]"), {})
        else:
            key, _, value = line.partition("=")
            current.setdefault(key.strip(), []).append(value.strip())
    return sections


def staged(tmp_path: Path) -> list[Path]:
    """The units with the installed entry point replaced by this checkout's (verify needs it)."""
    labctl = ROOT / ".venv" / "bin" / "labctl"
    for unit in UNITS:
        (tmp_path / unit.name).write_text(unit.read_text().replace(INSTALLED_LABCTL, str(labctl)))
    return [tmp_path / unit.name for unit in UNITS]


def analyze(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["systemd-analyze", *args], capture_output=True, text=True, timeout=60, check=False
    )


def test_verify_passes_without_warnings(tmp_path: Path) -> None:
    assert [u.name for u in UNITS] == sorted(MAX_EXPOSURE)  # every unit is checked
    for unit in staged(tmp_path):
        result = analyze("verify", str(unit))
        assert (result.returncode, result.stderr.strip()) == (0, ""), unit.name


def test_verify_catches_a_broken_unit(tmp_path: Path) -> None:
    """The check above can fail: a misspelt directive and a missing binary are reported."""
    unit = staged(tmp_path)[UNITS.index(ROOT / "systemd" / "labctl.service")]
    unit.write_text(
        unit.read_text().replace("ProtectSystem=", "ProtectSystme=").replace(".venv/bin", "nobin")
    )
    result = analyze("verify", str(unit))
    assert result.returncode != 0
    assert "Unknown key 'ProtectSystme'" in result.stderr
    assert "is not executable" in result.stderr


def exposure(unit: Path) -> tuple[float, set[str]]:
    """The overall exposure and the names of the failed checks, from `security --offline`."""
    result = analyze("security", "--offline=yes", "--no-pager", str(unit))
    assert result.returncode == 0, result.stderr
    score = re.search(r"Overall exposure level for \S+: (\d+\.\d)", result.stdout)
    assert score is not None, result.stdout
    failed = {line.split()[1] for line in result.stdout.splitlines() if line.startswith("✗")}
    return float(score.group(1)), failed


@pytest.mark.parametrize("name", sorted(MAX_EXPOSURE))
def test_security_exposure_does_not_regress(tmp_path: Path, name: str) -> None:
    staged(tmp_path)
    score, _ = exposure(tmp_path / name)
    assert score <= MAX_EXPOSURE[name]


def test_labctl_fails_only_the_accepted_security_checks(tmp_path: Path) -> None:
    staged(tmp_path)
    _, failed = exposure(tmp_path / "labctl.service")
    assert failed <= ACCEPTED_LABCTL, failed - ACCEPTED_LABCTL


def test_labctl_service_has_the_baseline() -> None:
    service = parse_unit(ROOT / "systemd" / "labctl.service")["Service"]
    assert {key: service.get(key, ["<missing>"])[-1] for key in BASELINE} == BASELINE
    assert service["DeviceAllow"] == ["char-ttyUSB rw", "char-ttyACM rw"]
    assert "PrivateDevices" not in service  # it would hide the serial ports
    assert service["SystemCallFilter"] == ["@system-service", "~@privileged @resources"]
    for key in ("MemoryMax", "TasksMax", "WatchdogSec", "TimeoutStopSec", "RestartSec"):
        assert service[key][-1], key


def test_watchdog_and_paths_fit_the_site_example() -> None:
    """Each ping (every WatchdogSec/2) needs a tick of every loop: ticks come twice as often."""
    service = parse_unit(ROOT / "systemd" / "labctl.service")["Service"]
    example = tomllib.loads((ROOT / "systemd" / "site.example.toml").read_text())["lab"]
    interval_s = float(service["WatchdogSec"][-1].removesuffix("s")) / 2
    for tick_s in (LabSection.model_fields["tick_s"].default, example["tick_s"]):
        assert 2 * tick_s <= interval_s
    assert example["state_dir"] == f"/var/lib/{service['StateDirectory'][-1]}"
    config = service["ExecStart"][-1].split("--config ")[1]
    assert config == f"/etc/{service['ConfigurationDirectory'][-1]}/site.toml"


def test_kiosk_opens_the_ui_in_chromium_kiosk_mode() -> None:
    unit = parse_unit(ROOT / "systemd" / "labctl-kiosk.service")
    command = unit["Service"]["ExecStart"][-1]
    ui = UiSection()
    assert f"http://{ui.host}:{ui.port}/" in command.split()[-1]
    flags = set(command.rstrip("'").split())
    assert {
        "--kiosk", "--noerrdialogs", "--disable-infobars", "--no-first-run",
        "--disable-background-networking", "--disable-component-update", "--disable-sync",
        "--check-for-update-interval=31536000", "--incognito",
    } <= flags  # fmt: skip
    assert "/usr/bin/chromium" in flags
    assert unit["Service"]["Restart"] == ["always"]
    assert "labctl.service" in unit["Unit"]["Wants"][-1].split()
    assert "labctl.service" in unit["Unit"]["After"][-1].split()
    assert unit["Service"]["IPAddressDeny"] == ["any"]
    assert unit["Service"]["IPAddressAllow"] == ["localhost"]


# --- MemoryDenyWriteExecute=: systemd 252's seccomp rule (seccomp-util.c), by hand ----------
_ARCH = {  # audit arch, mmap, mprotect, pkey_mprotect, shmat
    "x86_64": (0xC000003E, 9, 10, 329, 30),
    "aarch64": (0xC00000B7, 222, 226, 288, 196),
}
_LD, _JEQ, _JSET, _AND, _RET = 0x20, 0x15, 0x45, 0x54, 0x06
_ALLOW, _EPERM = 0x7FFF0000, 0x00050001
_ARG2 = 16 + 8 * 2  # seccomp_data.args[2], low word
_PROT_WX, _PROT_EXEC, _SHM_EXEC = mmap.PROT_WRITE | mmap.PROT_EXEC, mmap.PROT_EXEC, 0o100000


def deny_write_execute() -> None:
    """Refuse (EPERM) W+X mmap, mprotect/pkey_mprotect adding PROT_EXEC, shmat SHM_EXEC."""
    arch, mmap_nr, mprotect_nr, pkey_nr, shmat_nr = _ARCH[platform.machine()]
    insns = [
        (_LD, 0, 0, 4), (_JEQ, 1, 0, arch), (_RET, 0, 0, _ALLOW), (_LD, 0, 0, 0),
        (_JEQ, 4, 0, mmap_nr), (_JEQ, 6, 0, mprotect_nr), (_JEQ, 5, 0, pkey_nr),
        (_JEQ, 6, 0, shmat_nr), (_RET, 0, 0, _ALLOW),
        (_LD, 0, 0, _ARG2), (_AND, 0, 0, _PROT_WX), (_JEQ, 5, 4, _PROT_WX),  # mmap
        (_LD, 0, 0, _ARG2), (_JSET, 3, 2, _PROT_EXEC),  # mprotect, pkey_mprotect
        (_LD, 0, 0, _ARG2), (_JSET, 1, 0, _SHM_EXEC),  # shmat
        (_RET, 0, 0, _ALLOW), (_RET, 0, 0, _EPERM),
    ]  # fmt: skip
    buf = ctypes.create_string_buffer(b"".join(struct.pack("HBBI", *i) for i in insns))

    class Prog(ctypes.Structure):
        _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.c_void_p)]

    libc = ctypes.CDLL(None, use_errno=True)
    prog = Prog(len(insns), ctypes.addressof(buf))
    assert libc.prctl(38, 1, 0, 0, 0) == 0  # PR_SET_NO_NEW_PRIVS
    assert libc.prctl(22, 2, ctypes.byref(prog), 0, 0) == 0, os.strerror(ctypes.get_errno())
    try:  # the rule holds: a writable+executable mapping is refused
        mmap.mmap(-1, mmap.PAGESIZE, prot=mmap.PROT_READ | _PROT_WX).close()
    except PermissionError:
        return
    raise AssertionError("W+X mmap was allowed")


#: Tests of the daemon's native code: pymodbus, pyserial ptys, SQLite, Ed25519, PDF, aiohttp.
MDWE_SUITE = [
    "tests/drivers",
    "tests/labctl/ledger",
    "tests/labctl/test_runstore.py",
    "tests/labctl/test_spool.py",
    "tests/labctl/test_influx_writers.py",
    "tests/labctl/test_watchdog.py",
    # flaky under load with or without the filter (reported); it asks no W+X question:
    "--deselect=tests/labctl/test_runstore.py::test_sigkill_mid_write_loses_no_acknowledged_state",
]


@pytest.mark.slow
@pytest.mark.timeout(400)
def test_daemon_code_runs_under_memory_deny_write_execute() -> None:
    """Those tests pass in a process (and its children) where W+X memory is refused."""
    script = (
        "import sys, pytest\n"
        "from tests.test_systemd_units import deny_write_execute\n"
        "deny_write_execute()\n"
        f"sys.exit(pytest.main(['-q', '-p', 'no:cacheprovider', *{MDWE_SUITE!r}]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], cwd=ROOT, capture_output=True, text=True, timeout=380
    )
    assert result.returncode == 0, result.stdout[-4000:]
    assert re.search(r"\d{3,} passed", result.stdout), result.stdout[-4000:]
