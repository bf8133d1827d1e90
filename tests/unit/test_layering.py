"""Architecture rules that import-linter cannot express on its own.

* every domain module sits in a domain layer of the import-linter layers contract, and branch
  coverage measures exactly those modules;
* the domain never reads the wall clock or global randomness;
* examples/ import only public names (``__all__`` of a leadtocash package ``__init__``).
"""

from __future__ import annotations

import ast
import importlib
import pkgutil
import tomllib
from pathlib import Path
from typing import Any

import leadtocash

ROOT = Path(__file__).resolve().parents[2]
SRC = ROOT / "src" / "leadtocash"
NOT_DOMAIN = {
    "ports",
    "app",
    "testing",
    "serialization",
    "system",
    "cli",
    "stores",
    "simulation",
    "audit_processes",
}


def _config() -> dict[str, Any]:
    return tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))


def _domain_layers() -> list[str]:
    """The modules of the layers below ``serialization | ports`` in the layers contract."""
    contracts = _config()["tool"]["importlinter"]["contracts"]
    (layered,) = [c for c in contracts if c["type"] == "layers"]
    layers: list[str] = layered["layers"]
    below_ports = layers[layers.index("serialization | ports") + 1 :]
    return [
        f"leadtocash.{name.strip()}"
        for layer in below_ports
        for name in layer.replace("|", ":").split(":")
    ]


def _domain_modules() -> list[str]:
    return sorted(
        f"leadtocash.{m.name}"
        for m in pkgutil.iter_modules(leadtocash.__path__)
        if m.name not in NOT_DOMAIN and not m.name.startswith("_")
    )


def test_every_domain_module_sits_in_a_domain_layer() -> None:
    listed = set(_domain_layers())
    missing = [m for m in _domain_modules() if m not in listed]
    assert missing == [], f"place {missing} in a domain layer of pyproject.toml's layers contract"
    assert listed == set(_domain_modules()), "a domain layer names a module that is not domain"


def test_branch_coverage_measures_exactly_the_domain_layers() -> None:
    measured = _config()["tool"]["coverage"]["run"]["source_pkgs"]
    assert sorted(measured) == sorted(_domain_layers())


def _calls(tree: ast.AST) -> list[str]:
    names = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            names.append(ast.unparse(node.func))
    return names


def test_the_domain_never_reads_the_clock_or_global_randomness() -> None:
    forbidden = {"datetime.now", "datetime.utcnow", "date.today", "time.time", "time.time_ns",
                 "time.monotonic", "uuid.uuid4", "uuid.uuid1", "os.urandom"}  # fmt: skip
    offenders = []
    for module in _domain_modules():
        base = SRC / module.split(".", 1)[1]
        files = list(base.rglob("*.py")) if base.is_dir() else [base.with_suffix(".py")]
        for path in files:
            tree = ast.parse(path.read_text("utf-8"))
            offenders += [f"{path.name}: {c}" for c in _calls(tree) if c in forbidden]
    assert offenders == []


def _public_names(module: str) -> set[str]:
    return set(getattr(importlib.import_module(module), "__all__", ()))


def test_examples_import_only_the_public_api() -> None:
    problems = []
    for path in sorted((ROOT / "examples").rglob("*.py")):
        tree = ast.parse(path.read_text("utf-8"))
        for node in ast.walk(tree):
            module_name = node.module or "" if isinstance(node, ast.ImportFrom) else ""
            ours = module_name == "leadtocash" or module_name.startswith("leadtocash.")
            if isinstance(node, ast.ImportFrom) and ours:
                module = node.module or ""
                is_package = (SRC / module.split(".", 1)[-1] / "__init__.py").exists() or (
                    module == "leadtocash"
                )
                public = _public_names(module) if is_package else set()
                for alias in node.names:
                    if alias.name not in public:
                        problems.append(f"{path.relative_to(ROOT)}: {module}.{alias.name}")
            elif isinstance(node, ast.Import):
                problems += [
                    f"{path.relative_to(ROOT)}: import {a.name}"
                    for a in node.names
                    if a.name.startswith("leadtocash.")
                ]
    assert problems == []
