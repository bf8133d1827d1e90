"""The one cattrs converter adapters and the unit of work use to turn aggregates into JSON.

Datetimes and times of day become ISO-8601 text (UTC, microseconds kept), Decimals become
text (exact), churn rules carry their ``signal`` as a tag,
frozensets become sorted lists, enums their values. ``structure(unstructure(x)) == x`` holds
for every aggregate (property-tested).

Money is read through :meth:`Money.parse`, so stored or received amounts obey the same rules
as new ones: an unknown currency is a ``ValidationError`` (``money.unknown_currency``) whose
path names the field (``budget.currency``), never a cattrs exception.
"""

from __future__ import annotations

import enum
from collections.abc import Callable, Iterable, Mapping
from datetime import datetime, time
from decimal import Decimal
from operator import attrgetter
from typing import Any, NewType, TypeVar, get_args, get_origin, get_type_hints

import attrs
import cattrs
from cattrs.errors import AttributeValidationNote, IterableValidationNote
from cattrs.gen import make_hetero_tuple_unstructure_fn
from cattrs.preconf.json import make_converter
from cattrs.strategies import configure_tagged_union

from leadtocash.aftersales.churn import ChurnRule
from leadtocash.classification import RequiredFields, ScoreRules, TagRules, TierRules
from leadtocash.errors import FieldError, ValidationError
from leadtocash.money import Money
from leadtocash.signals import DemandSignals

__all__ = ["converter", "structure", "unstructure", "unstructure_from", "warm_up"]

T = TypeVar("T")


def _map_rules(config: Any, change: Callable[[Any], Any]) -> Any:
    """``config`` (a tier or tag table) with ``change`` applied to every rule's ``when``."""
    key = "rules" if isinstance(config, dict) and "rules" in config else "tags"
    rules = config.get(key) if isinstance(config, dict) else None
    if not isinstance(rules, list):
        return config  # malformed: from_config names the problem
    return {
        **config,
        key: [
            {**rule, "when": change(rule["when"])}
            if isinstance(rule, dict) and "when" in rule
            else rule
            for rule in rules
        ],
    }


def _as_pairs(when: Any) -> Any:
    return [[fact, spec] for fact, spec in when.items()] if isinstance(when, dict) else when


def _as_mapping(when: Any) -> Any:
    if isinstance(when, list) and all(isinstance(p, list) and len(p) == 2 for p in when):
        return dict(when)
    return when


def _make() -> cattrs.Converter:
    conv = make_converter()
    conv.register_unstructure_hook(datetime, lambda d: d.isoformat())
    conv.register_structure_hook(datetime, lambda v, _: datetime.fromisoformat(v))
    conv.register_unstructure_hook(Decimal, str)
    conv.register_structure_hook(Decimal, lambda v, _: Decimal(v))
    conv.register_structure_hook(Money, lambda v, _: Money.parse(v))
    conv.register_unstructure_hook(time, lambda t: t.isoformat())
    conv.register_structure_hook(time, lambda v, _: time.fromisoformat(v))
    # A churn rule says which kind it is by the signal it looks at (every field has a default,
    # so the classes cannot be told apart by their keys).
    configure_tagged_union(
        ChurnRule, conv, tag_generator=lambda rule: rule().signal.value, tag_name="signal"
    )
    # Rule tables travel in their documented config form (they hold unions and classes), with
    # each rule's conditions as [fact, spec] pairs: stores may reorder JSON object keys
    # (PostgreSQL's jsonb does), and condition order is what explanations list.
    for table in (TierRules, TagRules, ScoreRules):
        conv.register_unstructure_hook(table, lambda v: _map_rules(v.to_config(), _as_pairs))
        conv.register_structure_hook(
            table, lambda v, cls: cls.from_config(_map_rules(v, _as_mapping))
        )
    conv.register_unstructure_hook(RequiredFields, lambda v: v.to_config())
    conv.register_structure_hook(RequiredFields, lambda v, _: RequiredFields.from_config(v))
    conv.register_unstructure_hook_func(
        lambda t: isinstance(t, type) and issubclass(t, enum.Enum), lambda v: v.value
    )
    conv.register_unstructure_hook_func(
        lambda t: getattr(t, "__origin__", None) is frozenset,
        lambda v: sorted(conv.unstructure(x) for x in v),
    )
    # Fixed-length tuples (cursors such as (index value, id)) become JSON arrays like every
    # other sequence, so a document reads back equal to what was written.
    conv.register_unstructure_hook_factory(
        _is_fixed_tuple, lambda t: make_hetero_tuple_unstructure_fn(t, conv, unstructure_to=list)
    )
    # Most customers' demand signals are all "not known yet": that document structures to one
    # shared instance (frozen, and every field immutable) instead of a new one per read.
    unknown = DemandSignals()
    unknown_document = conv.unstructure(unknown)
    signals_hook = conv.get_structure_hook(DemandSignals)
    conv.register_structure_hook(
        DemandSignals,
        lambda v, t: unknown if v == unknown_document else signals_hook(v, t),
    )
    return conv


def _is_fixed_tuple(t: Any) -> bool:
    args: tuple[Any, ...] = getattr(t, "__args__", ())
    return getattr(t, "__origin__", None) is tuple and bool(args) and args[-1] is not Ellipsis


#: The shared converter; adapters use it through :func:`structure` / :func:`unstructure`.
converter: cattrs.Converter = _make()


def unstructure(value: object) -> Any:
    """JSON-compatible form of an aggregate, event or value."""
    return converter.unstructure(value)


#: Classes unstructured by a hook of their own (not cattrs' field-by-field function).
_OWN_HOOKS: frozenset[type[Any]] = frozenset({TierRules, TagRules, ScoreRules, RequiredFields})
_Fields = tuple[Callable[[Any], tuple[Any, ...]], tuple[tuple[str, Callable[[Any], Any]], ...]]
#: Per attrs class: a getter of its fields' values (``version`` left out), and each of those
#: fields' name and unstructure hook.
_FIELD_HOOKS: dict[type[Any], _Fields] = {}


def _field_hooks(cls: type[Any]) -> _Fields:
    found = _FIELD_HOOKS.get(cls)
    if found is None:
        hints = get_type_hints(cls)
        names = [f.name for f in attrs.fields(cls) if f.name != "version"]
        hooks = tuple((name, converter.get_unstructure_hook(hints[name])) for name in names)
        found = _FIELD_HOOKS[cls] = (attrgetter(*names, names[0]), hooks)  # always a tuple
    return found


def unstructure_from(value: Any, base: Any, base_data: Mapping[str, Any]) -> dict[str, Any]:
    """``unstructure(value)`` without its ``version`` key, built from ``base_data``, the same
    for ``base`` (another instance of the same attrs class, such as the aggregate ``value``
    was copied from); ``value`` is an attrs instance.

    Only the fields whose value is not the very object ``base`` holds are unstructured; the
    others are taken from ``base_data``. cattrs unstructures an attrs class field by field,
    so the result is equal to unstructuring ``value`` whole (property-tested); other values
    are unstructured whole.
    """
    cls = type(value)
    if type(base) is not cls or not attrs.has(cls) or cls in _OWN_HOOKS:
        data: dict[str, Any] = unstructure(value)  # a dict: attrs classes and rule tables
        data.pop("version", None)
        return data
    values, hooks = _field_hooks(cls)
    data = dict(base_data)
    for (name, hook), new, old in zip(hooks, values(value), values(base), strict=False):
        if new is not old:
            data[name] = hook(new)
    return data


def _reachable(types: Iterable[Any]) -> list[Any]:
    """``types`` and every type their attrs fields name, through unions, optionals and
    collections, each once (in the order first met)."""
    found: dict[Any, None] = {}
    pending = list(types)
    while pending:
        t = pending.pop(0)
        if t in found or t is type(None) or not (isinstance(t, type | NewType) or get_origin(t)):
            continue  # None of an optional, Any, type variables, Literal values
        found[t] = None
        pending += get_args(t)
        if isinstance(t, type) and attrs.has(t) and t not in _OWN_HOOKS:
            hints = get_type_hints(t)
            pending += [hints[field.name] for field in attrs.fields(t)]
    return list(found)


def warm_up(types: Iterable[type[Any]]) -> int:
    """Build now the structure and unstructure functions of ``types`` and of every type
    they hold; returns how many passes that took.

    cattrs builds a type's functions on first use (``compile`` of generated code); building
    one for a new mapping type empties the converter's cache, and an optional field looks
    its type's function up when it first holds a value, so without this the first commands
    of a process build some of them, some more than once. A pass that gets back the very
    functions the previous pass got built nothing: everything is cached from then on.
    """
    wanted = _reachable(types)
    seen: list[object] = []
    passes = 0
    while True:
        passes += 1
        hooks: list[object] = []
        for t in wanted:
            hooks += (converter.get_structure_hook(t), converter.get_unstructure_hook(t))
            if isinstance(t, type) and attrs.has(t) and t not in _OWN_HOOKS:
                hooks.append(_field_hooks(t))
        if len(hooks) == len(seen) and all(a is b for a, b in zip(hooks, seen, strict=True)):
            return passes
        seen = hooks


def _where(exc: BaseException, path: str) -> str:
    for note in getattr(exc, "__notes__", ()):
        if isinstance(note, AttributeValidationNote):
            return f"{path}.{note.name}" if path else note.name
        if isinstance(note, IterableValidationNote):
            return f"{path}[{note.index}]"
    return path


def _domain_errors(exc: BaseException, path: str = "") -> list[FieldError]:
    """The library's own field errors inside a cattrs error tree, with their full paths."""
    if isinstance(exc, ValidationError):
        return [attrs.evolve(e, path=f"{path}.{e.path}" if path else e.path) for e in exc.errors]
    if isinstance(exc, cattrs.BaseValidationError):
        return [error for sub in exc.exceptions for error in _domain_errors(sub, _where(sub, path))]
    return []


def structure(data: Any, cls: type[T]) -> T:
    """Rebuild a ``cls`` from its JSON form; malformed data is a ValidationError.

    When the data breaks a domain rule (an unknown currency, a negative budget), the error
    keeps that rule's code and names the field's path; other malformed data is
    ``serialization.malformed``.
    """
    try:
        return converter.structure(data, cls)
    except ValidationError:
        raise
    except (cattrs.BaseValidationError, ValueError, TypeError, KeyError) as exc:
        found = _domain_errors(exc)
        if found:
            raise ValidationError(found) from exc
        raise ValidationError(
            [FieldError(cls.__name__, "serialization.malformed", f"cannot read: {exc}")]
        ) from exc
