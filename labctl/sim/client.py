"""``labctl sim control``: the command-line client of the rig's API (:mod:`labctl.sim.control`).

::

    labctl sim control --url-file /run/labctl-sim/control.url              # the whole rig
    labctl sim control --url http://127.0.0.1:8760/v1/ caster1             # one device + actions
    labctl sim control --url ... caster1 place-flask                        # an action
    labctl sim control --url ... kiln1_tc slow-replies delay_s=0.5          # with arguments
    labctl sim control --url ... caster1.io press-estop on=false            # undo a fault

Action names take ``-`` or ``_``. Each ``ARG=VALUE`` is read as JSON (``true``, ``0.5``, ``7``),
else as a string. The answer is printed as JSON; a refusal goes to stderr with exit status 1.
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.parse
import urllib.request
from pathlib import Path
from typing import Any, TextIO

TIMEOUT_S = 10.0
EXIT_OK, EXIT_REFUSED, EXIT_USAGE = 0, 1, 2


class ClientError(Exception):
    """The API could not be reached or answered something that is not its JSON."""


def add_control_command(sim: argparse.ArgumentParser) -> None:
    """Add ``control`` under the ``labctl sim`` parser."""
    sub = sim.add_subparsers(dest="sim_command")
    control = sub.add_parser("control", help="drive a running rig: its state, faults, a person")
    where = control.add_mutually_exclusive_group(required=True)
    where.add_argument("--url", help="the control API's base URL (http://127.0.0.1:PORT/v1/)")
    where.add_argument("--url-file", help="a file holding it (the rig's control_url_file)")
    control.add_argument("device", nargs="?", help="kiln1_tc, caster1, caster1.io, ...")
    control.add_argument("action", nargs="?", help="place-flask, press-estop, comms-loss, ...")
    control.add_argument("args", nargs="*", metavar="ARG=VALUE", help="the action's arguments")
    control.set_defaults(func=run_control)


def run_control(args: argparse.Namespace) -> int:
    """Print the rig, a device, or the answer to an action."""
    try:
        base = args.url or Path(args.url_file).read_text(encoding="utf-8").strip()
        body = _arguments(args.args)
    except OSError as err:
        _say(sys.stderr, f"error: {args.url_file}: {err.strerror}")
        return EXIT_USAGE
    except ValueError as err:
        _say(sys.stderr, f"error: {err}")
        return EXIT_USAGE
    if args.device is None:
        path, data = "rig", None
    elif args.action is None:
        path, data = f"devices/{args.device}", None
    else:
        path, data = f"devices/{args.device}/{args.action.replace('-', '_')}", body
    try:
        reply = request(base, path, data)
    except ClientError as err:
        _say(sys.stderr, f"error: {err}")
        return EXIT_REFUSED
    if not reply.get("ok"):
        _say(sys.stderr, f"refused: {reply.get('error')}")
        return EXIT_REFUSED
    _say(sys.stdout, json.dumps(reply, indent=2))
    return EXIT_OK


def _say(stream: TextIO, text: str) -> None:
    stream.write(text + "\n")


def _arguments(pairs: list[str]) -> dict[str, object]:
    out: dict[str, object] = {}
    for pair in pairs:
        name, sep, text = pair.partition("=")
        if not sep or not name:
            raise ValueError(f"{pair!r}: an argument is NAME=VALUE")
        try:
            out[name] = json.loads(text)
        except ValueError:
            out[name] = text
    return out


def request(base: str, path: str, body: dict[str, object] | None = None) -> dict[str, Any]:
    """GET ``base + path``, or POST ``body`` as JSON: the API's JSON answer, refusals too."""
    url = base.rstrip("/") + "/" + urllib.parse.quote(path)
    data = None if body is None else json.dumps(body).encode()
    req = urllib.request.Request(url, data=data, method="GET" if data is None else "POST")
    req.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(req, timeout=TIMEOUT_S) as response:
            text = response.read()
    except urllib.error.HTTPError as err:
        text = err.read()
    except (urllib.error.URLError, OSError) as err:
        reason = getattr(err, "reason", err)
        raise ClientError(f"cannot reach the control API at {url}: {reason}") from err
    try:
        reply = json.loads(text)
    except ValueError as err:
        raise ClientError(f"{url} answered something that is not JSON") from err
    if not isinstance(reply, dict):
        raise ClientError(f"{url} answered a JSON {type(reply).__name__}, not an object")
    return reply
