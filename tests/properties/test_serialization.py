"""structure(unstructure(x)) == x for every aggregate, value and event; output is JSON."""

from __future__ import annotations

import json
from typing import Any

import attrs
import pytest
from hypothesis import assume, given
from hypothesis import strategies as st

from leadtocash import AuditEntry, LeadToCashError, Money, ValidationError
from leadtocash.app import SPECS
from leadtocash.events import LeadCaptured
from leadtocash.model import Channel, LeadId
from leadtocash.serialization import structure, unstructure, unstructure_from
from leadtocash.signals import DemandSignals
from leadtocash.testing import strategies as strat


@given(strat.aggregates())
def test_every_aggregate_round_trips_through_json(aggregate: Any) -> None:
    text = json.dumps(unstructure(aggregate), ensure_ascii=False)
    assert structure(json.loads(text), type(aggregate)) == aggregate


def test_the_strategy_covers_every_registered_aggregate() -> None:
    assert set(strat.AGGREGATE_STRATEGIES) == {spec.type for spec in SPECS}


@given(strat.audit_entries())
def test_audit_entries_round_trip(entry: AuditEntry) -> None:
    assert structure(json.loads(json.dumps(unstructure(entry))), AuditEntry) == entry


@given(strat.money())
def test_money_round_trips_as_exact_text(amount: Money) -> None:
    data = unstructure(amount)
    assert isinstance(data["amount"], str)
    assert structure(data, Money) == amount


@given(strat.utc_datetimes(), strat.names, st.sampled_from(Channel))
def test_events_round_trip(at: Any, name: str, channel: Channel) -> None:
    event = LeadCaptured(at, LeadId("lead-1"), channel, name)
    assert structure(unstructure(event), LeadCaptured) == event


@given(st.data())
def test_unstructure_from_a_base_equals_unstructuring_whole(data: st.DataObject) -> None:
    # A value made from a base (some fields replaced, the rest shared) unstructures from
    # the base's document to what unstructuring it whole gives (the audit's after snapshot).
    kind = data.draw(st.sampled_from(sorted(strat.AGGREGATE_STRATEGIES, key=str)))
    base = data.draw(strat.AGGREGATE_STRATEGIES[kind]())
    other = data.draw(strat.AGGREGATE_STRATEGIES[kind]())
    names = [f.name for f in attrs.fields(kind)]
    taken = data.draw(st.sets(st.sampled_from(names)))
    try:
        value = attrs.evolve(base, **{name: getattr(other, name) for name in taken})
    except (LeadToCashError, ValueError, TypeError):  # an invalid mix
        assume(False)
    whole = unstructure(value)
    whole.pop("version", None)
    base_data = unstructure(base)
    base_data.pop("version", None)
    assert unstructure_from(value, base, base_data) == whole


def test_unknown_demand_signals_structure_to_one_shared_instance() -> None:
    unknown = json.loads(json.dumps(unstructure(DemandSignals())))
    assert structure(unknown, DemandSignals) is structure(dict(unknown), DemandSignals)
    assert structure(unknown, DemandSignals) == DemandSignals()
    known = {**unknown, "need_confirmed": True}
    assert structure(known, DemandSignals) == DemandSignals(need_confirmed=True)
    older = {k: v for k, v in unknown.items() if k != "collaborating_zones"}  # a missing key
    assert structure(older, DemandSignals) == DemandSignals()
    with pytest.raises(ValidationError):
        structure({**unknown, "after_sales_risk": "bogus"}, DemandSignals)
