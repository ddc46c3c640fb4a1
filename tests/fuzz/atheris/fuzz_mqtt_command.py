"""Atheris: MQTT command topics and payload bytes through topic parsing and command parsing."""

from __future__ import annotations

import atheris

with atheris.instrument_imports():
    from labctl.telemetry.mqtt_topics import CommandRequest, Refusal, Topics, parse_command

from tests.fuzz.atheris.common import run

TOPICS = Topics("lab1")


def test_one_input(data: bytes) -> None:
    fdp = atheris.FuzzedDataProvider(data)
    TOPICS.user_of_command("labctl/lab1/cmd/" + fdp.ConsumeUnicodeNoSurrogates(80))
    outcome = parse_command(fdp.ConsumeBytes(fdp.remaining_bytes()), 4096)
    if isinstance(outcome, Refusal):
        if not outcome.reason:
            raise AssertionError("a refusal without a reason")
    elif not isinstance(outcome, CommandRequest):
        raise AssertionError(f"parse_command returned {outcome!r}")


TestOneInput = test_one_input

if __name__ == "__main__":
    run(TestOneInput)
