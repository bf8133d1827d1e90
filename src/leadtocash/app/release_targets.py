"""The pool a pool's rules release to (``release_to``) must exist: checked when rules are set."""

from __future__ import annotations

from leadtocash.app.unit_of_work import UnitOfWork
from leadtocash.errors import ValidationError
from leadtocash.model import PoolId
from leadtocash.pool.leads import LeadPool, LeadPoolRules
from leadtocash.pool.rules import Pool, PoolRules

__all__ = ["check_release_target"]

#: The stable code of rules that release to a pool that does not exist.
UNKNOWN_TARGET = "pool.unknown_release_target"


def check_release_target(
    uow: UnitOfWork, pool_id: PoolId, rules: PoolRules | LeadPoolRules
) -> None:
    """Refuse rules whose ``release_to`` names no pool of their kind (a customer pool for
    :class:`PoolRules`, a lead pool for :class:`LeadPoolRules`): released and reclaimed
    records would go to a pool nobody can list or claim from. ValidationError on
    ``rules.release_to``; the pool itself (``pool_id``) is always a valid target."""
    target = rules.release_to
    if target is None or target == pool_id:
        return
    kind: type[Pool | LeadPool] = Pool if isinstance(rules, PoolRules) else LeadPool
    if uow.repository(kind).find(target) is None:
        raise ValidationError.single(
            "rules.release_to", UNKNOWN_TARGET, f"there is no pool {target!r} to release to"
        )
