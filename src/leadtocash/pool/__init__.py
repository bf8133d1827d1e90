"""Public customer pool (公海池): pool rules, ownership operations, reclaim, rep books.

The modules are ``rules`` (Pool and PoolRules), ``ownership`` (claim, release, transfer),
``reclaim`` (schedules), ``book`` (a rep's book and daily counters) and ``visibility``.
Fair allocation lives in :mod:`leadtocash.allocation`. Pure: no I/O, no clock.
"""
