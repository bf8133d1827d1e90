"""Lead use cases end to end: authorization, audit, outbox, lookups."""

from __future__ import annotations

import pytest

from leadtocash import (
    Lead,
    LeadStatus,
    LeadToCash,
    NotFound,
    PermissionDenied,
    Principal,
    Role,
    verify_audit_chain,
)
from leadtocash.events import LeadCaptured, event_types
from leadtocash.serialization import structure
from leadtocash.testing import InMemoryStore

PAYLOAD = {"channel": "referral", "company_name": "字节跳动", "phone": "13900139000"}


def test_capture_writes_lead_audit_entry_and_outbox_event_in_one_commit(
    crm: LeadToCash, store: InMemoryStore, rep: Principal
) -> None:
    lead = crm.leads.capture(rep, PAYLOAD)
    assert store.commits == 1
    (entry,) = store.audit_log()
    assert (entry.actor_id, entry.action, entry.target_kind, entry.target_id) == (
        "alice",
        "lead.capture",
        "lead",
        lead.id,
    )
    assert entry.before is None
    assert entry.after is not None
    assert entry.after["company_name"] == "字节跳动"
    assert verify_audit_chain(store.audit_log()) is None
    (message,) = store.outbox_due(lead.created_at)
    assert message.topic == "lead.captured"
    event = structure(message.payload, event_types()[message.topic])
    assert isinstance(event, LeadCaptured)
    assert event.lead_id == lead.id


def test_denied_principals_change_nothing_and_get_a_stable_code(
    crm: LeadToCash, store: InMemoryStore, finance: Principal
) -> None:
    with pytest.raises(PermissionDenied) as caught:
        crm.leads.capture(finance, PAYLOAD)
    assert caught.value.code == "auth.permission_denied"
    assert caught.value.details["action"] == "lead.capture"
    assert store.commits == 0
    assert store.audit_log() == []
    with pytest.raises(PermissionDenied):
        crm.leads.get(finance, "lead-000001")
    nobody = Principal("anon")
    with pytest.raises(PermissionDenied):
        crm.leads.capture(nobody, PAYLOAD)


def test_unknown_lead_is_not_found(crm: LeadToCash, rep: Principal) -> None:
    with pytest.raises(NotFound) as caught:
        crm.leads.get(rep, "nope")
    assert caught.value.code == "storage.not_found"
    assert caught.value.details == {"kind": "lead", "id": "nope"}


def test_leads_page_by_status_with_a_keyset_cursor(crm: LeadToCash, rep: Principal) -> None:
    made = [crm.leads.capture(rep, {**PAYLOAD, "company_name": f"公司{i}"}) for i in range(7)]
    seen: list[Lead] = []
    cursor = None
    while True:
        page = crm.leads.by_status(rep, LeadStatus.NEW, after=cursor, limit=3)
        seen.extend(page.items)
        cursor = page.next_cursor
        if cursor is None:
            break
    assert [lead.id for lead in seen] == sorted(lead.id for lead in made)
    assert crm.leads.by_status(rep, LeadStatus.QUALIFIED).items == ()


def test_service_role_may_read_but_not_capture(crm: LeadToCash, rep: Principal) -> None:
    lead = crm.leads.capture(rep, PAYLOAD)
    service = Principal("sam", roles=frozenset({Role.SERVICE}))
    assert crm.leads.get(service, lead.id) == lead
    with pytest.raises(PermissionDenied):
        crm.leads.capture(service, PAYLOAD)
