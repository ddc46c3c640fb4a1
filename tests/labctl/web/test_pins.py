"""Badge PINs: scrypt hashes in the stored format, verified in constant time."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from labctl.config.users import UserSection
from labctl.web.pins import N, PinFormatError, hash_pin, verify_pin

FAST = 2**4  # scrypt cost for tests; the format carries it, so verify_pin needs no hint


def test_round_trip_and_a_wrong_pin() -> None:
    stored = hash_pin("4321", n=FAST)
    assert verify_pin("4321", stored)
    assert not verify_pin("4320", stored)
    assert not verify_pin("43210", stored)


def test_the_cost_travels_with_the_hash() -> None:
    stored = hash_pin("123456", n=FAST)
    kind, n, r, p, _, _ = stored.split("$")
    assert (kind, int(n), int(r), int(p)) == ("scrypt", FAST, 8, 1)
    assert "123456" not in stored
    assert UserSection(badge="1", pin_hash=stored).pin_hash == stored  # the config accepts it


def test_default_cost_is_the_slow_one() -> None:
    stored = hash_pin("2468")
    assert stored.split("$")[1] == str(N)
    assert N >= 2**14
    assert verify_pin("2468", stored)


def test_each_hash_has_its_own_salt() -> None:
    first, second = hash_pin("2468", n=FAST), hash_pin("2468", n=FAST)
    assert first.split("$")[4] != second.split("$")[4]
    assert first != second
    assert verify_pin("2468", first) and verify_pin("2468", second)


@pytest.mark.parametrize("pin", ["1234", "123456789012", "0000"])
def test_pins_of_4_to_12_digits_are_hashed(pin: str) -> None:
    assert verify_pin(pin, hash_pin(pin, n=FAST))


@pytest.mark.parametrize(
    "pin",
    [
        "123",
        "1234567890123",
        "12a4",
        "",
        "12 34",
        "+1234",
        "\u0661\u0662\u0663\u0664",  # Arabic-Indic digits: no keypad can type them
        "12\u00b334",  # a superscript three
        "1234\n",
    ],
)
def test_other_pins_are_refused(pin: str) -> None:
    with pytest.raises(ValueError, match="4 to 12 digits"):
        hash_pin(pin, n=FAST)


@pytest.mark.parametrize(
    "mangle",
    [
        lambda s: s.replace("scrypt", "bcrypt", 1),
        lambda s: s.rsplit("$", 1)[0],  # a field missing
        lambda s: s + "$extra",
        lambda s: s.rsplit("$", 1)[0] + "$not*base64",
        lambda s: s.replace("$16$", "$sixteen$", 1),
        lambda s: s.replace("$16$", "$15$", 1),  # n must be a power of two
        lambda s: "",
    ],
)
def test_an_unreadable_hash_is_a_format_error(mangle: Callable[[str], str]) -> None:
    stored = mangle(hash_pin("2468", n=FAST))
    with pytest.raises(PinFormatError, match="unreadable PIN hash"):
        verify_pin("2468", stored)
