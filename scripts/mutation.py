#!/usr/bin/env python3
"""Mutation check of the pool rules with mutmut 3: prints one JSON object of figures.

    .venv/bin/pip install -e '.[mutation]'
    .venv/bin/python scripts/mutation.py                       # the four default modules
    .venv/bin/python scripts/mutation.py src/leadtocash/pool/reclaim.py --max-children 4
    .venv/bin/python scripts/mutation.py src/leadtocash/allocation/engine.py  # the engine only
    .venv/bin/python scripts/mutation.py --incremental         # reuse mutants/ (see below)
    .venv/bin/python scripts/mutation.py src/leadtocash/contracts/pricing.py --tests \
        tests/unit/contracts tests/properties/test_contracts_properties.py  # modules first

Only the modules named (default: the four below) have their mutants run and reported; the other
configured modules are rewritten in mutants/ as usual but none of their mutants is tested.

mutmut copies src/ and tests/ into mutants/, rewrites the chosen modules so every mutant can
be switched on by name, and runs, per mutant, only the selected tests that executed the mutated
function ([tool.mutmut] in pyproject.toml: the unit and property tests of the pool). A mutant
is *killed* when a test fails, *survived* when every test passes, *timeout* when the tests ran
far longer than they do unmutated (an endless loop: caught too). Figures per module:
``mutants``, ``killed``, ``survived``, ``timeout``, ``other`` (no test reached it, crashed,
not checked) and ``score`` = (killed + timeout) / mutants, in percent.

By default mutants/ is rebuilt and every mutant of the modules is run (a full, honest
measurement). ``--incremental`` keeps mutants/: functions whose source changed get new
mutants, untested mutants run (of every configured module: mutmut's own incremental run), and
the previous survivors of the chosen modules run again against the current tests (a killed
mutant stays killed while its function is unchanged and tests are only added).
Survivors are listed by name; ``.venv/bin/mutmut show NAME`` prints the diff of one.
See docs/mutation.md.
"""

from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import time
import tomllib
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_MODULES = (
    "src/leadtocash/pool/ownership.py",
    "src/leadtocash/pool/reclaim.py",
    "src/leadtocash/allocation/policies.py",
    "src/leadtocash/allocation/engine.py",
)
# Runs mutmut's command line with ``only_mutate`` widened to the requested modules, so any
# module under src/ can be checked without editing pyproject.toml. The configured modules stay
# in the list: a module must not flip between mutated and copied inside one mutants/ tree.
_LAUNCHER = """
import json, sys
from mutmut.configuration import config
cfg, given = config(), json.loads(sys.argv[1])
cfg.only_mutate = sorted(set(cfg.only_mutate) | set(given["modules"]))
if given["tests"]:
    cfg.pytest_add_cli_args_test_selection = given["tests"]
from mutmut.__main__ import cli
cli(sys.argv[2:], prog_name="mutmut")
"""


def _module_path(raw: str) -> str:
    path = Path(raw)
    if path.is_absolute():
        path = path.relative_to(ROOT)
    if path.parts[0] != "src":
        path = Path("src") / path
    if path.suffix != ".py" or not (ROOT / path).is_file():
        raise SystemExit(f"not a module under src/: {raw}")
    return path.as_posix()


def _glob(module: str) -> str:
    """mutmut's name pattern for every mutant of ``module`` (dotted path + function)."""
    return ".".join(Path(module).relative_to("src").with_suffix("").parts) + ".*"


def _mutmut(modules: list[str], tests: list[str], args: list[str], log: Any) -> None:
    given = json.dumps({"modules": modules, "tests": tests})
    command = [sys.executable, "-c", _LAUNCHER, given, *args]
    done = subprocess.run(command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, check=False)
    if done.returncode != 0:
        raise SystemExit(f"mutmut {args[0]} failed ({done.returncode}); see {log.name}")


def _results(module: str) -> dict[str, int | None]:
    meta = ROOT / "mutants" / f"{module}.meta"
    if not meta.exists():
        raise SystemExit(f"no mutmut results for {module} ({meta} missing)")
    found: dict[str, int | None] = json.loads(meta.read_text())["exit_code_by_key"]
    return found


def _figures(codes: dict[str, int | None]) -> dict[str, Any]:
    from mutmut.stats import status_by_exit_code

    statuses = [status_by_exit_code[code] for code in codes.values()]
    killed = statuses.count("killed")
    survived = statuses.count("survived")
    timeout = statuses.count("timeout")
    total = len(statuses)
    return {
        "mutants": total,
        "killed": killed,
        "survived": survived,
        "timeout": timeout,
        "other": total - killed - survived - timeout,
        "score": round(100 * (killed + timeout) / total, 1) if total else None,
        "survivors": sorted(k for k, s in zip(codes, statuses, strict=True) if s == "survived"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "modules", nargs="*", help="the only modules to run (default: the four rule modules)"
    )
    parser.add_argument("--max-children", type=int, default=2, help="parallel mutant workers")
    parser.add_argument(
        "--incremental", action="store_true", help="reuse mutants/ and re-run survivors only"
    )
    parser.add_argument(
        "--tests",
        nargs="+",
        default=[],
        help="test files or node ids replacing the configured selection (changing it "
        "invalidates mutmut's cached results)",
    )
    options = parser.parse_args()
    # ``--tests`` takes every following argument: modules written after it would silently
    # become tests (and the default modules would run instead).
    stray = [t for t in options.tests if Path(t).parts[:1] == ("src",)]
    if stray:
        parser.error(f"--tests takes test paths; name the modules before it: {' '.join(stray)}")
    modules = [_module_path(m) for m in options.modules or DEFAULT_MODULES]
    config = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mutmut"]
    configured = [m for m in config.get("only_mutate", []) if m not in modules]
    workers = ["--max-children", str(options.max_children)]
    started = time.monotonic()
    if not options.incremental:
        shutil.rmtree(ROOT / "mutants", ignore_errors=True)
    (ROOT / "mutants").mkdir(exist_ok=True)
    with open(ROOT / "mutants" / "mutation-run.log", "a") as log:
        if options.incremental and (ROOT / "mutants" / f"{modules[0]}.meta").exists():
            # mutmut's own incremental run: untested mutants (new or changed functions) of every
            # configured module. Then the survivors of the chosen modules, against today's tests.
            _mutmut(modules, options.tests, ["run", *workers], log)
            survivors = [n for m in modules for n in _figures(_results(m))["survivors"]]
            if survivors:
                _mutmut(modules, options.tests, ["run", *workers, *survivors], log)
        else:
            _mutmut(modules, options.tests, ["run", *workers, *map(_glob, modules)], log)
    report = {
        "tool": "mutmut",
        "seconds": round(time.monotonic() - started),
        "max_children": options.max_children,
        "tests": options.tests or config.get("pytest_add_cli_args_test_selection", []),
        "modules": {m: _figures(_results(m)) for m in modules},
        "not_run": configured,
    }
    json.dump(report, sys.stdout, indent=2, ensure_ascii=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
