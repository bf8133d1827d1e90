"""examples/fastapi_app.py over HTTP (FastAPI's TestClient): capture, claim, release, my
customers, on the SQLite store with API-key auth; errors carry the library's stable codes."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from fastapi_app import create_app  # examples/fastapi_app.py
from leadtocash import LeadToCash, PoolRules, Principal, RepId, Role, SalesRep, ZoneId, connect
from leadtocash.testing import FakeClock, SequentialIds
from leadtocash_adapters.auth import ApiKeyAuthenticator, ScryptParams

ADMIN = Principal("admin", roles=frozenset({Role.ADMIN}))
EAST = ZoneId("east")


def _rep(n: int) -> Principal:
    return Principal(f"user{n}", roles=frozenset({Role.REP}), rep_id=RepId(f"rep{n}"), zone_id=EAST)


@pytest.fixture
def world(tmp_path: Path) -> Iterator[tuple[TestClient, dict[str, str], list[str]]]:
    """A SQLite store with a pool of three customers, two reps with API keys, and the app."""
    store = connect(f"sqlite:///{tmp_path}/crm.db", create_schema=True)
    clock, ids = FakeClock(), SequentialIds()
    crm = LeadToCash(store=store, clock=clock, ids=ids)
    pool = crm.pools.create_pool(ADMIN, "East pool", zone_id=EAST, rules=PoolRules())
    for n in (1, 2):
        crm.reps.register(ADMIN, SalesRep(id=RepId(f"rep{n}"), name=f"Rep {n}", zone_id=EAST))
    customers: list[str] = [
        crm.pools.add_customer(ADMIN, name, pool_id=pool.id).id
        for name in ("华东贸易有限公司", "北方机械有限公司", "南山科技有限公司")
    ]
    auth = ApiKeyAuthenticator(clock=clock, params=ScryptParams(n=2**4))  # cheap for tests
    keys = {f"rep{n}": auth.issue_key(_rep(n))[0] for n in (1, 2)}
    app = create_app(store, auth, clock=clock, ids=ids, close_store=True)
    with TestClient(app) as client:
        yield client, keys, customers


def _as(key: str, **headers: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {key}", **headers}


def test_claim_release_and_my_customers(
    world: tuple[TestClient, dict[str, str], list[str]],
) -> None:
    client, keys, (first, second, third) = world
    rep1 = _as(keys["rep1"])
    for customer in (first, second, third):
        claimed = client.post(f"/customers/{customer}/claim", headers=rep1)
        assert claimed.status_code == 200, claimed.text
        assert claimed.json()["owner_id"] == "rep1"
    page = client.get("/me/customers", params={"limit": 2}, headers=rep1)
    assert page.status_code == 200, page.text
    body = page.json()
    assert len(body["items"]) == 2 and body["next"]
    rest = client.get("/me/customers", params={"after": body["next"]}, headers=rep1).json()
    assert sorted(c["id"] for c in body["items"] + rest["items"]) == sorted([first, second, third])
    assert rest["next"] is None
    released = client.post(
        f"/customers/{second}/release", json={"reason": "不是目标客户"}, headers=rep1
    )
    assert released.status_code == 200, released.text
    assert released.json()["owner_id"] is None
    mine = client.get("/me/customers", headers=rep1).json()["items"]
    assert sorted(c["id"] for c in mine) == sorted([first, third])
    assert client.get("/me/customers", headers=_as(keys["rep2"])).json()["items"] == []


def test_capture_a_lead_and_every_bad_field_at_once(
    world: tuple[TestClient, dict[str, str], list[str]],
) -> None:
    client, keys, _ = world
    lead = client.post(
        "/leads",
        json={"channel": "web_form", "company_name": "华为技术有限公司", "phone": "138 0013 8000"},
        headers=_as(keys["rep1"]),
    )
    assert lead.status_code == 201, lead.text
    assert lead.json()["phone"] == "+8613800138000"
    bad = client.post(
        "/leads",
        json={"channel": "fax", "email": "nope"},
        headers=_as(keys["rep1"], **{"Accept-Language": "zh-CN"}),
    )
    assert bad.status_code == 422
    assert bad.json()["code"] == "validation.invalid"


def test_errors_carry_the_librarys_codes(
    world: tuple[TestClient, dict[str, str], list[str]],
) -> None:
    client, keys, (first, _, _) = world
    anonymous = client.post(f"/customers/{first}/claim")
    assert anonymous.status_code == 401
    assert anonymous.json()["code"] == "auth.authentication_failed"
    assert anonymous.json()["details"] == {}
    forged = client.post(f"/customers/{first}/claim", headers=_as("ltc_0000000000000000.nope"))
    assert forged.status_code == 401
    assert client.post(f"/customers/{first}/claim", headers=_as(keys["rep1"])).status_code == 200
    taken = client.post(f"/customers/{first}/claim", headers=_as(keys["rep2"]))
    assert taken.status_code == 409 and taken.json()["code"].startswith("pool.")
    missing = client.post("/customers/nope/claim", headers=_as(keys["rep1"]))
    assert missing.status_code == 404 and missing.json()["code"] == "storage.not_found"
    other = client.post(
        f"/customers/{first}/release", json={"reason": "x"}, headers=_as(keys["rep2"])
    )
    assert other.status_code in (403, 409)
    assert (
        client.get(
            "/me/customers", params={"after": "garbage"}, headers=_as(keys["rep1"])
        ).status_code
        == 422
    )
