"""``LeadToCash.warm_up``: after it, no command of a process builds a converter function.

Each check runs in a fresh interpreter: the converter is process-wide, so in this one other
tests have long since built everything.
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

# Plays a 90-day simulation (every kind of command: leads, pools, deals, contracts, cash,
# tickets) on the in-memory store and prints how many types the converter had to build
# functions for during it (cattrs' dispatch caches count a miss per type looked up anew).
SCRIPT = textwrap.dedent(
    """
    import json, sys
    import attrs
    from leadtocash import LeadToCash
    from leadtocash.serialization import converter
    from leadtocash.simulation.config import SimulationConfig
    from leadtocash.simulation.run import play

    def built():
        return (converter._structure_func.dispatch.cache_info().misses
                + converter._unstructure_func.dispatch.cache_info().misses)

    if sys.argv[1] == "warm":
        LeadToCash.warm_up()
    before = built()
    run = play("memory://", attrs.evolve(SimulationConfig(), leads=200, days=90))
    print(json.dumps({"built": built() - before, "won": run.metrics.won}))
    """
)


def _play(mode: str) -> dict[str, int]:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, mode], capture_output=True, text=True, check=True
    )
    result: dict[str, int] = json.loads(done.stdout)
    return result


def test_after_warm_up_a_whole_simulation_builds_no_converter_function() -> None:
    warmed, cold = _play("warm"), _play("cold")
    assert warmed["won"] == cold["won"] > 0  # the same run, deals signed
    assert cold["built"] > 50  # what the first commands of a process pay without it
    assert warmed["built"] == 0
