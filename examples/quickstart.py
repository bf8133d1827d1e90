"""Quickstart: embed leadtocash with the in-memory store, capture leads, read them back."""

from leadtocash import LeadToCash, Principal, Role, ValidationError, verify_audit_chain
from leadtocash.testing import FakeClock, InMemoryStore, SequentialIds

store = InMemoryStore()
crm = LeadToCash(store=store, clock=FakeClock(), ids=SequentialIds())
rep = Principal("alice", roles=frozenset({Role.REP}))

lead = crm.leads.capture(
    rep,
    {"channel": "web_form", "company_name": "华为技术有限公司", "phone": "138 0013 8000",
     "email": "Buyer@Example.com", "uscc": "91110000600037341L"},
)  # fmt: skip
print(f"captured {lead.id}: {lead.company_name} {lead.phone} {lead.email} [{lead.status}]")
assert crm.leads.get(rep, lead.id) == lead

try:
    crm.leads.capture(rep, {"channel": "fax", "company_name": "", "email": "not-an-email"})
except ValidationError as error:
    print(f"rejected [{error.code}]:", ", ".join(error.paths))

print(
    "audit entries:",
    len(store.audit_log()),
    "chain ok:",
    verify_audit_chain(store.audit_log()) is None,
)
