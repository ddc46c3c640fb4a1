"""The ``labctl`` command line."""

from __future__ import annotations

import argparse
import asyncio
import json
import logging
import sys
from pathlib import Path

from labctl.commands.client import send_command
from labctl.commission.cli import add_commission_command
from labctl.ledger.cli import add_ledger_commands
from labctl.sim.client import add_control_command
from labctl.units import Unit, localize
from labctl.web.cli import add_ui_commands

EXIT_OK, EXIT_FAILED, EXIT_USAGE = 0, 1, 2


def _setup_logging(verbose: bool) -> None:
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.INFO,
        format="%(asctime)s %(levelname)-7s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def _cmd_run(args: argparse.Namespace) -> int:
    from labctl.daemon.run import run_daemon_from_config

    return asyncio.run(run_daemon_from_config(Path(args.config)))


def _cmd_sim(args: argparse.Namespace) -> int:
    from labctl.sim.command import run_rig

    if args.config is None:
        print("labctl sim: give --config RIG.toml (or: labctl sim control ...)", file=sys.stderr)
        return EXIT_USAGE
    return asyncio.run(run_rig(Path(args.config)))


def _cmd_demo(args: argparse.Namespace) -> int:
    from labctl.sim.demo.run import run_demo

    return asyncio.run(
        run_demo(
            mode=args.mode, speed=args.speed, profile=args.profile, flask=args.flask,
            alloy=args.alloy, piece_class=args.piece_class, cast=args.cast,
            keep_certificate=Path(args.keep_certificate) if args.keep_certificate else None,
            ui_port=args.ui_port,
        )
    )  # fmt: skip


def _cmd_profiles_check(args: argparse.Namespace) -> int:
    from labctl.profiles.loader import check_profiles

    paths = [Path(p) for p in args.paths] or [Path("profiles")]
    good, errors = check_profiles(paths, args.kind)
    for path, kind in good:
        print(f"ok: {path} (checked as {kind})")
    for error in errors:
        print(f"error: {error}", file=sys.stderr)
    if errors:
        print(f"{len(errors)} problem(s) found", file=sys.stderr)
        return EXIT_FAILED
    print(f"{len(good)} profile(s) valid")
    return EXIT_OK


def _socket_and_unit(args: argparse.Namespace) -> tuple[Path, Unit]:
    """The daemon's control socket, and the lab's unit (``[ui] temperature_unit``)."""
    from labctl.config.site import load_site

    site = load_site(Path(args.config))
    return site.state_dir / "labctl.sock", site.ui.temperature_unit if site.ui else "C"


def _cmd_send(args: argparse.Namespace, cmd: str, payload: dict[str, object]) -> int:
    path, unit = _socket_and_unit(args)
    reply = asyncio.run(send_command(path, cmd, payload))
    if not reply.get("ok"):
        print(f"refused: {localize(str(reply.get('error')), unit)}", file=sys.stderr)
        return EXIT_FAILED
    print(json.dumps(reply.get("result"), indent=2, default=str))
    return EXIT_OK


def _cmd_status(args: argparse.Namespace) -> int:
    path, unit = _socket_and_unit(args)
    reply = asyncio.run(send_command(path, "status", {}))
    if not reply.get("ok"):
        print(f"labctl daemon: {localize(str(reply.get('error')), unit)}", file=sys.stderr)
        return EXIT_FAILED
    result = reply.get("result")
    kilns = result.get("kilns", []) if isinstance(result, dict) else []
    for kiln in kilns:
        print(localize(_status_line(kiln), unit))
    for caster in result.get("casters", []) if isinstance(result, dict) else []:
        print(localize(_caster_line(caster), unit))
    return EXIT_OK


def _caster_line(c: dict[str, object]) -> str:
    parts = [f"{c['caster']} ({c['kind']}): {c['state']}"]
    if c.get("cast_id") is not None:
        parts.append(f"cast {c['cast_id']} {c['alloy']}")
    if c.get("waiting_for"):
        parts.append(f"WAITING FOR {c['waiting_for']}")
    readings = {
        "crucible_c": "crucible {:.0f} °C",
        "chamber_mbar": "{:.0f} mbar",
        "rpm": "{:.0f} rpm",
    }
    parts += [fmt.format(c[key]) for key, fmt in readings.items() if c.get(key) is not None]
    stale = c.get("stale")
    if isinstance(stale, list) and stale:
        parts.append(f"no reading from {', '.join(str(name) for name in stale)}")
    if c.get("outcome"):
        parts.append(f"last cast: {c['outcome']}")
    if not c.get("safe", True):
        parts.append("SAFE STATE NOT CONFIRMED")
    return " | ".join(parts + _commissioning(c))


def _status_line(k: dict[str, object]) -> str:
    def temp(key: str) -> str:
        value = k.get(key)
        return f"{value:.1f} °C" if isinstance(value, float | int) else "—"

    parts = [f"{k['kiln']}: {k['state']}", f"link {k['link']}", f"PV {temp('pv_c')}"]
    if k.get("run_id") is not None:
        parts += [
            f"run {k['run_id']} {k['profile']}",
            str(k["segment"]),
            f"SP {temp('setpoint_c')}",
        ]
    if k.get("outcome"):
        parts.append(f"last run: {k['outcome']}")
    if not k.get("safe", True):
        parts.append("HEAT-OFF NOT CONFIRMED")
    return " | ".join(parts + _commissioning(k))


def _commissioning(machine: dict[str, object]) -> list[str]:
    """``NOT COMMISSIONED: devices`` while a device holds no passing record for this config."""
    devices = machine.get("uncommissioned")
    if machine.get("commissioned") is not False or not isinstance(devices, list | tuple):
        return []
    return [f"NOT COMMISSIONED: {', '.join(str(d) for d in devices)}"]


def build_parser() -> argparse.ArgumentParser:
    """The argument parser for every subcommand."""
    parser = argparse.ArgumentParser(prog="labctl", description=__doc__)
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    demo = sub.add_parser("demo", help="a simulated kiln and caster: burnout, then a cast")
    demo.add_argument("--mode", choices=["stream", "programmer"], default="stream")
    demo.add_argument("--speed", type=float, default=1200.0, help="simulated seconds per second")
    demo.add_argument("--profile", default="gypsum-wax-small")
    demo.add_argument("--flask", choices=["small", "large"], default="small")
    demo.add_argument("--alloy", default="gold-18k-yellow", help="a file in profiles/alloys")
    demo.add_argument("--piece-class", choices=["thin", "medium", "heavy"], default="medium")
    demo.add_argument("--cast", choices=["vacuum", "centrifugal", "none"], default="vacuum")
    demo.add_argument("--keep-certificate", metavar="DIR", help="copy the cast certificate here")
    demo.add_argument("--ui-port", type=int, help="serve the touchscreen here; stay up after")
    demo.set_defaults(func=_cmd_demo)

    run = sub.add_parser("run", help="run the daemon")
    run.add_argument("--config", required=True)
    run.set_defaults(func=_cmd_run)

    sim = sub.add_parser("sim", help="run device simulators for a test rig")
    sim.add_argument("--config", help="the rig file (TOML, see the README)")
    sim.set_defaults(func=_cmd_sim)
    add_control_command(sim)

    profiles = sub.add_parser("profiles", help="burnout and alloy profiles")
    psub = profiles.add_subparsers(dest="profiles_command", required=True)
    check = psub.add_parser("check", help="validate profile files")
    check.add_argument("paths", nargs="*", help="files or folders (default: profiles/)")
    check.add_argument(
        "--kind", choices=["burnout", "alloy"], help="check every file as this kind of profile"
    )
    check.set_defaults(func=_cmd_profiles_check)

    status = sub.add_parser("status", help="what every kiln and caster is doing")
    status.add_argument("--config", required=True)
    status.set_defaults(func=_cmd_status)

    for name, help_text in [
        ("start", "start a burnout"),
        ("hold", "hold the program"),
        ("resume", "resume a held program"),
        ("abort", "abort the run (heat off)"),
        ("take-flask", "the flask was taken: complete the run"),
    ]:
        cmd = sub.add_parser(name, help=help_text)
        cmd.add_argument("--config", required=True)
        cmd.add_argument("kiln")
        if name == "start":
            cmd.add_argument("profile")
            cmd.add_argument("--alloy", help="end at this alloy's flask temperature")
            cmd.add_argument("--piece-class", choices=["thin", "medium", "heavy"])
            cmd.add_argument("--flask-id", help="the flask being burnt out")
            cmd.add_argument(
                "--cool-first",
                action="store_true",
                help="on a kiln above the loading temperature: cool to it with the heat off first",
            )
        if name == "abort":
            cmd.add_argument("--reason", default="")
        cmd.set_defaults(func=_cmd_kiln_command, wire_name=name.replace("-", "_"))
    _add_cast_commands(sub)
    add_ledger_commands(sub, _cmd_send)
    add_commission_command(sub)
    add_ui_commands(sub)
    return parser


def _add_cast_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    start = sub.add_parser("cast-start", help="start a cast on a caster")
    start.add_argument("caster")
    start.add_argument("alloy")
    start.add_argument("piece_class", choices=["thin", "medium", "heavy"])
    start.add_argument("--kiln", required=True, help="the kiln the flask comes from")
    start.add_argument("--flask-id", help="the flask's ledger id (needed when the lab has one)")
    start.add_argument("--melt-id", help="the melt's ledger id (needed when the lab has one)")
    confirm = sub.add_parser("cast-confirm", help="confirm the step a caster waits for")
    confirm.add_argument("caster")
    confirm.add_argument("step", choices=["flask_placed", "balance_confirmed"])
    abort = sub.add_parser("cast-abort", help="abort a cast (every device to its safe state)")
    abort.add_argument("caster")
    abort.add_argument("--reason", default="")
    reset = sub.add_parser("cast-reset-drive", help="clear a stopped drive's latched fault code")
    reset.add_argument("caster")
    for cmd in (start, confirm, abort, reset):
        cmd.add_argument("--config", required=True)
        cmd.set_defaults(func=_cmd_cast_command)


def _cmd_cast_command(args: argparse.Namespace) -> int:
    payload: dict[str, object] = {"caster": args.caster}
    for key in ("alloy", "piece_class", "kiln", "flask_id", "melt_id", "step", "reason"):
        if getattr(args, key, None) is not None:
            payload[key] = getattr(args, key)
    return _cmd_send(args, args.command.replace("-", "_"), payload)


def _cmd_kiln_command(args: argparse.Namespace) -> int:
    payload: dict[str, object] = {"kiln": args.kiln}
    if args.wire_name == "start":
        payload["profile"] = args.profile
        if args.alloy or args.piece_class:
            payload.update(alloy=args.alloy, piece_class=args.piece_class)
        if args.flask_id:
            payload["flask_id"] = args.flask_id
        if args.cool_first:
            payload["cool_first"] = True
    if args.wire_name == "abort":
        payload["reason"] = args.reason
    return _cmd_send(args, args.wire_name, payload)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``labctl`` command."""
    args = build_parser().parse_args(argv)
    _setup_logging(args.verbose)
    try:
        code: int = args.func(args)
    except KeyboardInterrupt:
        return EXIT_FAILED
    return code


if __name__ == "__main__":
    sys.exit(main())
