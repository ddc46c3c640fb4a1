"""The command registry with arbitrary JSON for every registered command, from every role.

The registry is populated by the daemon's own register_* functions; only the handlers are spies
(:class:`~tests.fuzz.support.SpyRegistry`). Property: each dispatch is refused with a reason
naming the command, or reaches the handler exactly once with a payload of the command's own
model, re-validating to itself, from a caller whose role allows it.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from hypothesis import event, given
from hypothesis import strategies as st
from pydantic import BaseModel

from labctl.commands.registry import Caller, CommandRefused
from labctl.config.users import Role
from labctl.ledger.commands import KINDS, _build
from tests.fuzz.support import JSON, PLAUSIBLE, fuzz, populated_registry, requests_for, says

REGISTRY = populated_registry()
CALLERS = st.builds(Caller, st.text(min_size=1, max_size=12), st.sampled_from(list(Role)))


@fuzz(250)
@given(request=requests_for(REGISTRY), caller=CALLERS)
def test_any_payload_is_refused_with_a_reason_or_validated(
    request: tuple[str, dict[str, object]], caller: Caller
) -> None:
    name, raw = request
    before = len(REGISTRY.calls)
    try:
        result = asyncio.run(REGISTRY.dispatch(name, raw, caller))
    except CommandRefused as refused:
        assert len(REGISTRY.calls) == before, "a refused command reached its handler"
        says(refused, name if name in REGISTRY.models else "unknown command")
        event("refused")
        return
    event("dispatched")
    assert len(REGISTRY.calls) == before + 1
    call = REGISTRY.calls[-1]
    model = REGISTRY.models[name]
    assert (call.command, call.caller, dict(result)) == (name, caller, {"spied": name})
    assert caller.role >= REGISTRY.roles[name]
    assert type(call.payload) is model
    assert model.model_validate(call.payload.model_dump()) == call.payload


def _json_of(kind: str) -> st.SearchStrategy[Mapping[str, object]]:
    """Record dicts keyed by the record model's own field names (nested models too)."""
    model = KINDS[kind]
    nested = {
        f for m in (model, *_submodels(model)) for f in m.model_fields
    }  # e.g. cad_file.name, inputs[].lot_id
    key = st.sampled_from(sorted(nested)) | st.text(max_size=8)
    value = PLAUSIBLE | JSON | st.dictionaries(key, PLAUSIBLE | JSON, max_size=4)
    return st.dictionaries(key, value, max_size=8)


def _submodels(model: type[BaseModel]) -> list[type[BaseModel]]:
    found: list[type[BaseModel]] = []
    for info in model.model_fields.values():
        for arg in (info.annotation, *getattr(info.annotation, "__args__", ())):
            inner = getattr(arg, "__args__", (arg,))
            found += [t for t in inner if isinstance(t, type) and issubclass(t, BaseModel)]
    return found


@fuzz(150)
@given(data=st.data(), kind=st.sampled_from(sorted(KINDS)))
def test_ledger_record_payloads_build_a_record_or_name_the_field(
    data: st.DataObject, kind: str
) -> None:
    raw = data.draw(_json_of(kind), label="record")
    try:
        record = _build(KINDS[kind], raw)
    except CommandRefused as refused:
        says(refused, kind)
        event("refused")
        return
    event("built")
    assert record.kind == kind
