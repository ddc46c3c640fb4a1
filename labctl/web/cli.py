"""``labctl ui hash-pin``: the scrypt hash of a badge PIN, for ``[users.NAME] pin_hash``."""

from __future__ import annotations

import argparse
import getpass
import sys

from labctl.web.pins import hash_pin


def _cmd_hash_pin(_: argparse.Namespace) -> int:
    if sys.stdin.isatty():
        pin = getpass.getpass("PIN (4-12 digits): ")
        if getpass.getpass("again: ") != pin:
            print("the two PINs differ", file=sys.stderr)
            return 1
    else:
        pin = sys.stdin.readline().strip()
    try:
        print(hash_pin(pin))
    except ValueError as err:
        print(f"not hashed: {err}", file=sys.stderr)
        return 1
    return 0


def add_ui_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """``labctl ui ...``."""
    ui = sub.add_parser("ui", help="the touchscreen")
    usub = ui.add_subparsers(dest="ui_command", required=True)
    hash_cmd = usub.add_parser("hash-pin", help="hash a badge PIN (read from the terminal/stdin)")
    hash_cmd.set_defaults(func=_cmd_hash_pin)
