"""Naming a team lead while that rep moves out of the team, in either commit order.

``set_team_lead`` reads the rep (a member of the team) and saves the team; ``move_rep`` reads
the rep's old team and saves it with ``last_departure_at`` (clearing the lead if it was the
rep). Each test lets the other command commit, through a second facade on the same store,
between the first command's reads and its commit: the second to commit re-runs and sees the
other, so a rep who moved out never leads the team.
"""

from __future__ import annotations

from typing import Any

import pytest

from leadtocash import Team, ValidationError, ZoneId
from leadtocash.app.unit_of_work import Repository
from pool_fixtures import ADMIN, World, make_world, meanwhile, other_process

EAST = ZoneId("east")


def _org(world: World) -> None:
    org = world.crm.org
    org.create_zone(ADMIN, EAST, "华东战区")
    org.create_team(ADMIN, "t1", "East 1", EAST)
    org.create_team(ADMIN, "t2", "East 2", EAST)
    org.join(ADMIN, "r9", "Rep 9", team_id="t1")


def _a_team(_repository: Any, aggregate: Any) -> bool:
    """A command staging a team: its reads are done, its commit is next."""
    return isinstance(aggregate, Team)


def test_a_lead_named_from_a_stale_read_of_a_rep_who_moved_is_refused(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world = make_world()
    _org(world)
    other = other_process(world.store, world.clock, world.crm)
    moved = meanwhile(
        monkeypatch.setattr, Repository, "save",
        lambda: other.org.move_rep(ADMIN, "r9", zone_id="east", team_id="t2").team_id,
        when=_a_team,
    )  # fmt: skip
    with pytest.raises(ValidationError) as refused:
        world.crm.org.set_team_lead(ADMIN, "t1", "r9")
    assert [e.code for e in refused.value.errors] == ["org.lead_not_in_team"]
    assert moved == ["t2"]
    assert world.crm.org.get_team(ADMIN, "t1").lead_rep_id is None


def test_a_move_that_read_the_team_before_its_rep_became_lead_clears_the_lead(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    world = make_world()
    _org(world)
    other = other_process(world.store, world.clock, world.crm)
    named = meanwhile(
        monkeypatch.setattr, Repository, "save",
        lambda: other.org.set_team_lead(ADMIN, "t1", "r9").lead_rep_id,
        when=_a_team,
    )  # fmt: skip
    moved = world.crm.org.move_rep(ADMIN, "r9", zone_id="east", team_id="t2")
    assert moved.team_id == "t2" and named == ["r9"]
    team = world.crm.org.get_team(ADMIN, "t1")
    assert team.lead_rep_id is None
    assert team.last_departure_at == world.clock.now()
