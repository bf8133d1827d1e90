"""Required fields per entity, per tier and per stage, and the completeness score (0–100).

Paths are dotted attribute names checked against the entity class at load time
(``"signals.budget"`` on :class:`~leadtocash.model.Customer`); a missing field is one that is
not filled (:func:`~leadtocash.classification.paths.is_filled`). One check lists every missing
path at once, so a form can show them all.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from types import MappingProxyType
from typing import Any

import attrs

from leadtocash.classification.conditions import UNKNOWN_FIELD_CODE
from leadtocash.classification.paths import completeness, is_filled, path_error, value_at
from leadtocash.errors import FieldError, ValidationError
from leadtocash.fields import required_errors
from leadtocash.model import Contact, Customer, Lead, LeadStatus, Tier

__all__ = ["FieldRequirements", "RequiredFields", "default_requirements"]


def _paths(value: Iterable[str]) -> tuple[str, ...]:
    return tuple(value)


def _by_key(value: Mapping[Any, Iterable[str]]) -> Mapping[Any, tuple[str, ...]]:
    return MappingProxyType({key: tuple(paths) for key, paths in value.items()})


@attrs.frozen
class FieldRequirements:
    """The required field paths of one entity type: always, and by tier or stage."""

    entity: type[Any]
    always: tuple[str, ...] = attrs.field(default=(), converter=_paths)
    by_tier: Mapping[Tier, tuple[str, ...]] = attrs.field(factory=dict, converter=_by_key)
    by_stage: Mapping[str, tuple[str, ...]] = attrs.field(factory=dict, converter=_by_key)

    def __attrs_post_init__(self) -> None:
        name = self.entity.__name__.lower()
        errors: list[FieldError] = []
        groups: list[tuple[str, tuple[str, ...]]] = [("always", self.always)]
        groups += [(f"by_tier.{tier}", paths) for tier, paths in self.by_tier.items()]
        groups += [(f"by_stage.{stage}", paths) for stage, paths in self.by_stage.items()]
        for tier in self.by_tier:
            if not isinstance(tier, Tier):
                message = f"{tier!r} is not a tier (A-E)"
                errors.append(FieldError(f"{name}.by_tier", UNKNOWN_FIELD_CODE, message))
        for where, paths in groups:
            for path in paths:
                problem = path_error(self.entity, path)
                if problem is not None:
                    errors.append(FieldError(f"{name}.{where}.{path}", UNKNOWN_FIELD_CODE, problem))
        if errors:
            raise ValidationError(errors)

    def required(self, *, tier: Tier | None = None, stage: str | None = None) -> tuple[str, ...]:
        """Every required path for ``tier`` / ``stage`` (always-required first, no repeats)."""
        paths = list(self.always)
        if tier is not None:
            paths += self.by_tier.get(tier, ())
        if stage is not None:
            paths += self.by_stage.get(stage, ())
        return tuple(dict.fromkeys(paths))

    def missing(
        self, entity: object, *, tier: Tier | None = None, stage: str | None = None
    ) -> tuple[str, ...]:
        """The required paths that ``entity`` leaves empty."""
        return tuple(
            error.path
            for error in required_errors(
                self.required(tier=tier, stage=stage),
                lambda path: is_filled(value_at(entity, path)),
            )
        )

    def check(self, entity: object, *, tier: Tier | None = None, stage: str | None = None) -> None:
        """Raise one ValidationError listing every missing path (code ``field.required``)."""
        errors = required_errors(
            self.required(tier=tier, stage=stage), lambda path: is_filled(value_at(entity, path))
        )
        if errors:
            raise ValidationError(errors)

    def completeness(
        self, entity: object, *, tier: Tier | None = None, stage: str | None = None
    ) -> int:
        """Share of the required paths that are filled, 0–100 (100 when nothing is required)."""
        return completeness(entity, self.required(tier=tier, stage=stage))


def default_requirements() -> Mapping[str, FieldRequirements]:
    """Customers need more as they rise in tier; leads need a contact once qualified."""
    contact_paths = ("contact_name", "phone")
    return {
        "customer": FieldRequirements(
            Customer,
            always=("name",),
            by_tier={
                Tier.A: (
                    "phones",
                    "uscc",
                    "signals.need_confirmed",
                    "signals.budget",
                    "signals.decision_maker_identified",
                    "signals.expected_close",
                ),
                Tier.B: ("phones", "signals.need_confirmed", "signals.expected_close"),
                Tier.C: ("phones", "signals.need_confirmed"),
            },
        ),
        "lead": FieldRequirements(
            Lead,
            always=("company_name",),
            by_stage={
                LeadStatus.QUALIFIED.value: contact_paths,
                LeadStatus.CONVERTED.value: contact_paths,
            },
        ),
        "contact": FieldRequirements(Contact, always=("name",)),
    }


_ENTITY_TYPES: Mapping[str, type[Any]] = {"customer": Customer, "lead": Lead, "contact": Contact}


def _entities(value: Mapping[str, FieldRequirements]) -> Mapping[str, FieldRequirements]:
    return MappingProxyType(dict(value))


@attrs.frozen
class RequiredFields:
    """Required fields of every entity kind (``"customer"``, ``"lead"``, ``"contact"``, …)."""

    entities: Mapping[str, FieldRequirements] = attrs.field(
        factory=default_requirements, converter=_entities
    )

    def of(self, entity: str) -> FieldRequirements:
        """The requirements of entity kind ``entity`` (an unknown kind is a ValidationError)."""
        found = self.entities.get(entity)
        if found is not None:
            return found
        raise ValidationError.single(entity, UNKNOWN_FIELD_CODE, f"no requirements for {entity!r}")

    @classmethod
    def from_config(cls, data: Mapping[str, Any]) -> RequiredFields:
        """Load from plain data: ``{"customer": {"always": [...], "by_tier": {"A": [...]},
        "by_stage": {...}}, ...}``; entity kinds are customer, lead and contact."""
        errors: list[FieldError] = []
        entities: dict[str, FieldRequirements] = {}
        for kind, raw in data.items():
            entity = _ENTITY_TYPES.get(kind)
            if entity is None or not isinstance(raw, Mapping):
                errors.append(FieldError(kind, UNKNOWN_FIELD_CODE, f"no entity kind {kind!r}"))
                continue
            tiers = {}
            for tier, paths in dict(raw.get("by_tier", {})).items():
                try:
                    tiers[Tier(tier)] = paths
                except ValueError:
                    message = f"{tier!r} is not a tier (A-E)"
                    errors.append(FieldError(f"{kind}.by_tier", UNKNOWN_FIELD_CODE, message))
            try:
                entities[kind] = FieldRequirements(
                    entity, raw.get("always", ()), tiers, dict(raw.get("by_stage", {}))
                )
            except ValidationError as exc:
                errors += exc.errors
        if errors:
            raise ValidationError(errors)
        return cls(entities)

    def to_config(self) -> dict[str, Any]:
        """Plain data that :meth:`from_config` reads back to equal requirements."""
        return {
            kind: {
                "always": list(req.always),
                "by_tier": {tier.value: list(paths) for tier, paths in req.by_tier.items()},
                "by_stage": {stage: list(paths) for stage, paths in req.by_stage.items()},
            }
            for kind, req in self.entities.items()
        }
