"""``labctl commission --config site.toml DEVICE``: check one real device and sign the result.

Prints each check with PASS or FAIL and its numbers as it is made, then signs a commissioning
record into the site's ledger, passed or not. Exit status: 0 when every check passed, 1 when
one failed or commissioning was refused, 2 for a bad site file or device name.
"""

from __future__ import annotations

import argparse
import asyncio
import getpass
import logging
import re
import sys
from pathlib import Path

from drivers.clock import ScaledClock
from labctl.commission.links import own_links
from labctl.commission.modbus_family import Refused
from labctl.commission.preflight import refusal
from labctl.commission.record import resolve
from labctl.commission.runner import DEFAULT_LEASE_WAIT_S, commission_device, sign
from labctl.config.site import load_site
from labctl.errors import LabctlError
from labctl.ledger.ops_records import DeviceCheck

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def add_commission_command(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Register ``labctl commission``."""
    cmd = sub.add_parser(
        "commission", help="check a real device against labctl's table and sign the result"
    )
    cmd.add_argument("--config", required=True)
    cmd.add_argument(
        "device",
        help="kiln1, kiln1.flask_tc, caster1.crucible, caster1.io, ... or its [devices] name",
    )
    cmd.add_argument(
        "--lease-s",
        type=float,
        default=DEFAULT_LEASE_WAIT_S,
        help="seconds without a remote SP write for a Eurotherm to fall back "
        f"(default {DEFAULT_LEASE_WAIT_S:g}; other devices wait their configured lease)",
    )
    cmd.set_defaults(func=_cmd_commission)


def _cmd_commission(args: argparse.Namespace) -> int:
    if not 0 < args.lease_s <= 600:
        print("error: --lease-s must be above 0 and at most 600 s", file=sys.stderr)
        return EXIT_USAGE
    return asyncio.run(run_commission(Path(args.config), args.device, lease_wait_s=args.lease_s))


def _who() -> str | None:
    """The Unix user running the command, when it can be a ledger id (else None)."""
    try:
        name = getpass.getuser()
    except (OSError, KeyError):  # no login name and no passwd entry for the uid
        return None
    return name if re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.:/-]{0,63}", name) else None


def _print(check: DeviceCheck) -> None:
    print(f"  {'PASS' if check.passed else 'FAIL'}  {check.name:<10} {check.detail}", flush=True)


async def run_commission(config: Path, device: str, *, lease_wait_s: float) -> int:
    """The command's work; its exit status."""
    try:
        site = load_site(config)
        dev = resolve(site, device)
    except LabctlError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_USAGE
    if site.ledger is None:
        print("error: the site has no [ledger] to sign the result into", file=sys.stderr)
        return EXIT_USAGE
    problem = await refusal(site, dev)
    if problem is not None:
        print(f"refused: {problem}", file=sys.stderr)
        return EXIT_FAILED
    if not logging.getLogger().isEnabledFor(logging.DEBUG):  # -v shows the links' own log
        for noisy in ("drivers", "pymodbus"):  # the checks say what went wrong
            logging.getLogger(noisy).setLevel(logging.ERROR)
    family = site.devices[dev.config_name].family
    print(f"commissioning {dev.device} ({family}, [devices.{dev.config_name}])", flush=True)
    clock = ScaledClock(site.lab.clock_speed, epoch=site.lab.clock_epoch)
    try:
        async with own_links(site, clock) as links:
            record = await commission_device(
                site,
                dev.device,
                access=links,
                clock=clock,
                who=_who(),
                lease_wait_s=lease_wait_s,
                on_check=_print,
            )
        appended = await sign(site, record)
    except Refused as err:
        print(f"refused: {err}", file=sys.stderr)
        return EXIT_FAILED
    except LabctlError as err:
        print(f"error: {err}", file=sys.stderr)
        return EXIT_FAILED
    failed = [c.name for c in record.checks if not c.passed]
    verdict = "PASSED" if record.passed else f"FAILED ({', '.join(failed)})"
    print(
        f"{dev.device}: {verdict}; signed as commissioning {record.record_id} "
        f"(ledger entry {appended.index}, config digest {record.config_digest[:16]})"
    )
    return EXIT_OK if record.passed else EXIT_FAILED
