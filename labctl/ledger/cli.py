"""``labctl ledger ...``: keys, records, certificates, audit and consistency."""

from __future__ import annotations

import argparse
import asyncio
import base64
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

from labctl.commands.client import send_command
from labctl.errors import LabctlError

Send = Callable[[argparse.Namespace, str, dict[str, object]], int]


def add_ledger_commands(
    sub: argparse._SubParsersAction[argparse.ArgumentParser], send: Send
) -> None:
    """Register ``labctl ledger`` and its subcommands; ``send`` talks to the daemon."""
    ledger = sub.add_parser("ledger", help="the signed traceability ledger")
    lsub = ledger.add_subparsers(dest="ledger_command", required=True)
    keygen = lsub.add_parser("keygen", help="create a signing key (mode 0600)")
    keygen.add_argument("--key", required=True, help="path of the new key file")
    keygen.add_argument(
        "--origin", required=True, help="the log origin, e.g. lab.example/ledger/v1"
    )
    keygen.set_defaults(func=_keygen)
    check = lsub.add_parser("verify-certificate", help="verify a cast certificate offline")
    check.add_argument("directory")
    check.set_defaults(func=_verify_certificate)
    audit = lsub.add_parser("verify", help="audit the whole ledger file (offline)")
    audit.add_argument("--config", required=True)
    audit.set_defaults(func=_audit)

    def daemon(name: str, help_text: str) -> argparse.ArgumentParser:
        cmd = lsub.add_parser(name, help=help_text)
        cmd.add_argument("--config", required=True)
        return cmd

    record = daemon("record", "sign a production record from a JSON file")
    record.add_argument(
        "kind", choices=["lot-receipt", "melt", "job-ticket", "tree-flask", "qa-balance"]
    )
    record.add_argument("file")
    record.set_defaults(func=lambda a: _record(a, send))
    jobs = daemon("import-jobs", "sign job tickets from a JSON file (a list of tickets)")
    jobs.add_argument("file")
    jobs.set_defaults(func=lambda a: _import_jobs(a, send))
    export = daemon("export", "write a cast's certificate (cast-<id>)")
    export.add_argument("cast_id")
    export.set_defaults(func=lambda a: send(a, "ledger_export", {"cast_id": a.cast_id}))
    show = daemon("show", "the ledger's origin, size, keys and state")
    show.set_defaults(func=lambda a: send(a, "ledger_status", {}))
    rotate = daemon("rotate", "record the rotation to the second key in key_files")
    rotate.set_defaults(func=lambda a: send(a, "ledger_rotate", {}))
    consistency = daemon("consistency", "prove the log grew append-only from a kept checkpoint")
    consistency.add_argument("checkpoint", help="a checkpoint note file kept earlier")
    consistency.set_defaults(func=_consistency)


def _keygen(args: argparse.Namespace) -> int:
    from labctl.ledger import keys

    try:
        signer = keys.generate(Path(args.key), args.origin)
    except LabctlError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    print(f"key written to {args.key} (mode 0600); publish this verifier key:\n{signer.vkey}")
    return 0


def _verify_certificate(args: argparse.Namespace) -> int:
    from labctl.ledger.certificate import CertificateError, verify_certificate

    try:
        verified = verify_certificate(Path(args.directory))
    except CertificateError as err:
        print(f"NOT VERIFIED: {err}", file=sys.stderr)
        return 1
    print(
        f"verified: {verified.kind} {verified.subject}, entry {verified.index} of "
        f"{verified.origin} (checkpoint size {verified.tree_size}), signed by "
        f"{', '.join(verified.signed_by)}"
    )
    return 0


def _audit(args: argparse.Namespace) -> int:
    from labctl.config.site import load_site
    from labctl.ledger import keys, note
    from labctl.ledger.audit import audit

    site = load_site(Path(args.config))
    if site.ledger is None:
        print("error: the site has no [ledger]", file=sys.stderr)
        return 2
    cfg = site.ledger
    verifiers = [keys.load(path, cfg.origin).verifier() for path in cfg.key_files]
    verifiers += [note.parse_vkey(vkey) for vkey in cfg.retired_vkeys]
    path = cfg.path or site.state_dir / "ledger.sqlite"
    report = asyncio.run(audit(path, origin=cfg.origin, verifiers=verifiers))
    for problem in report.problems:
        print(f"PROBLEM: {problem}", file=sys.stderr)
    print(
        f"{path}: {report.entries} entries, {report.checkpoints} checkpoints, "
        f"{'valid' if report.ok else 'NOT VALID'} ({report.entries_per_s:.0f} entries/s)"
    )
    return 0 if report.ok else 1


def _load_json(path: str) -> Any:
    try:
        return json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError) as err:
        raise SystemExit(f"error: {path}: {err}") from err


def _record(args: argparse.Namespace, send: Send) -> int:
    return send(args, "ledger_record", {"kind": args.kind, "record": _load_json(args.file)})


def _import_jobs(args: argparse.Namespace, send: Send) -> int:
    from labctl.ledger.tickets import load_jobs

    try:
        jobs = load_jobs(Path(args.file))
    except LabctlError as err:
        print(f"error: {err}", file=sys.stderr)
        return 1
    for job in jobs:
        record = job.model_dump(mode="json")
        if send(args, "ledger_record", {"kind": "job-ticket", "record": record}) != 0:
            return 1
    return 0


def _consistency(args: argparse.Namespace) -> int:
    from labctl.config.site import load_site
    from labctl.ledger import merkle, note

    site = load_site(Path(args.config))
    socket = site.state_dir / "labctl.sock"
    old_text = Path(args.checkpoint).read_text(encoding="utf-8")
    status = asyncio.run(send_command(socket, "ledger_status", {}))
    if not status.get("ok"):
        print(f"refused: {status.get('error')}", file=sys.stderr)
        return 1
    state: Any = status["result"]
    verifiers = [note.parse_vkey(v) for v in state["vkeys"]]
    try:
        old = note.open_checkpoint(old_text, verifiers)
        reply = asyncio.run(send_command(socket, "ledger_consistency", {"size": old.size}))
        if not reply.get("ok"):
            print(f"refused: {reply.get('error')}", file=sys.stderr)
            return 1
        result: Any = reply["result"]
        new = note.open_checkpoint(result["checkpoint"], verifiers)
        proof = [base64.b64decode(h) for h in result["proof"]]
    except LabctlError as err:
        print(f"NOT VERIFIED: {err}", file=sys.stderr)
        return 1
    if new.origin != old.origin or not merkle.verify_consistency(
        old.size, new.size, proof, old.root, new.root
    ):
        print(
            f"NOT CONSISTENT: size {old.size} is not a prefix of size {new.size}", file=sys.stderr
        )
        return 1
    print(f"consistent: {old.origin} grew append-only from size {old.size} to {new.size}")
    return 0
