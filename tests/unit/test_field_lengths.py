"""Names and free text have documented maximum lengths; a rejected capture takes no id."""

from __future__ import annotations

import pytest

from leadtocash import ValidationError
from leadtocash.fields import ADDRESS_MAX, NAME_MAX, TEXT_MAX, length_errors
from pool_fixtures import ADMIN, make_world, rep_principal


def test_length_errors_name_each_field_that_is_too_long() -> None:
    errors = length_errors({"name": "x" * (NAME_MAX + 1), "note": "y" * TEXT_MAX, "title": None})
    assert [(e.path, e.code) for e in errors] == [("name", "field.too_long")]
    assert length_errors({"address": " " + "a" * ADDRESS_MAX + " "}) == []  # trimmed first


def test_a_ten_thousand_character_company_name_is_refused() -> None:
    world = make_world()
    with pytest.raises(ValidationError) as caught:
        world.crm.pools.add_customer(ADMIN, "华" * 10_000, pool_id=world.pool_id)
    assert [(e.path, e.code) for e in caught.value.errors] == [("name", "field.too_long")]
    payload = {"channel": "web_form", "company_name": "华" * 10_000, "phone": "13800138000"}
    with pytest.raises(ValidationError) as lead_caught:
        world.crm.leads.capture(rep_principal(1), payload)
    assert [e.path for e in lead_caught.value.errors] == ["company_name"]


def test_a_rejected_capture_consumes_no_id() -> None:
    world = make_world()
    rep = rep_principal(1)
    ids = world.crm.ctx.ids
    before = ids.new_id("probe")
    with pytest.raises(ValidationError):
        world.crm.leads.capture(rep, {"channel": "web_form", "company_name": ""})
    after = ids.new_id("probe")
    assert int(after.rsplit("-", 1)[-1]) == int(before.rsplit("-", 1)[-1]) + 1
