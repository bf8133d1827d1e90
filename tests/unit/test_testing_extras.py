"""Test support as integrators find it: the pytest plugin, the guarded conformance suite
without the ``test`` extra, and hypothesis strategies registered for the public value types."""

from __future__ import annotations

import re
import subprocess
import sys
from importlib.metadata import entry_points
from pathlib import Path

from hypothesis import given
from hypothesis import strategies as st

from leadtocash import (
    AuditEntry,
    Contact,
    Customer,
    Duration,
    FollowUp,
    Lead,
    LeadToCash,
    Money,
    Opportunity,
    OrganisationSettings,
    Pool,
    PoolRules,
    SalesRep,
    Team,
    Zone,
)
from leadtocash.testing import FakeClock, InMemoryStore, RecordingNotifier, SequentialIds

# An import hook that makes pytest and hypothesis look uninstalled (what a production install
# without the ``test`` extra sees).
_BLOCK = """
import sys
class _Missing:
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in ("pytest", "_pytest", "hypothesis"):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None
sys.meta_path.insert(0, _Missing())
"""


def _python(code: str, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _BLOCK + code], cwd=tmp_path, capture_output=True, text=True,
        timeout=120, check=False,
    )  # fmt: skip


def test_without_the_test_extra_the_suite_names_the_extra(tmp_path: Path) -> None:
    result = _python("from leadtocash.testing import StoreConformance\n", tmp_path)
    assert result.returncode == 1
    last = result.stderr.strip().splitlines()[-1]
    assert "MissingExtra" in last and "leadtocash[test]" in last, result.stderr


def test_without_the_test_extra_import_star_imports_the_rest(tmp_path: Path) -> None:
    result = _python(
        "from leadtocash.testing import *\n"
        "print(sorted(n for n in dir() if not n.startswith('_') and n != 'sys'))\n"
        "import leadtocash\n"
        "print(leadtocash.connect('memory://').audit_strands > 0)\n",
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split("\n")[:2] == [
        "['FakeClock', 'InMemoryStore', 'RecordingNotifier', 'SequentialIds']",
        "True",
    ]


def test_with_the_extra_the_suite_is_importable_and_listed() -> None:
    import leadtocash.testing as testing
    import leadtocash.testing.conformance as conformance
    from leadtocash.testing import StoreConformance

    assert StoreConformance is conformance.StoreConformance
    assert "StoreConformance" in testing.__all__


def test_the_entry_points_are_registered() -> None:
    assert [e.value for e in entry_points(group="pytest11") if e.name == "leadtocash"] == [
        "leadtocash.testing.pytest_plugin"
    ]
    (hook,) = [e for e in entry_points(group="hypothesis") if e.name == "leadtocash"]
    assert hook.value.endswith(":_hypothesis_setup_hook")
    (script,) = [e for e in entry_points(group="console_scripts") if e.name == "leadtocash"]
    assert script.value == "leadtocash.cli:main"


def test_the_plugin_fixtures(
    leadtocash_clock: FakeClock,
    leadtocash_ids: SequentialIds,
    leadtocash_store: InMemoryStore,
    leadtocash_notifier: RecordingNotifier,
    leadtocash_crm: LeadToCash,
) -> None:
    assert leadtocash_ids.new_id("lead") == "lead-000001"
    assert leadtocash_store.audit_log() == [] and leadtocash_notifier.sent == []
    assert leadtocash_crm.ctx.store is leadtocash_store
    assert leadtocash_crm.ctx.clock is leadtocash_clock


_PUBLIC_VALUE_TYPES = (
    Money, Lead, Customer, Contact, FollowUp, SalesRep, Team, Zone, Pool, PoolRules, Duration,
    Opportunity, OrganisationSettings, AuditEntry,
)  # fmt: skip


@given(st.data())
def test_from_type_draws_every_public_value_type(data: st.DataObject) -> None:
    for value_type in _PUBLIC_VALUE_TYPES:
        assert isinstance(data.draw(st.from_type(value_type)), value_type)


def test_strategies_are_registered_when_hypothesis_is_imported_first(tmp_path: Path) -> None:
    code = (
        "from hypothesis import strategies as st\n"
        "from leadtocash import Money\n"
        "print(type(st.from_type(Money).example()).__name__)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=120,
        check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "Money"


def test_the_documented_adapter_test_file_passes(tmp_path: Path) -> None:
    """docs/adapters/conformance.md's complete test file (and its hypothesis example) pass."""
    doc = Path(__file__).resolve().parents[2] / "docs" / "adapters" / "conformance.md"
    blocks = re.findall(r"```python\n(.*?)```", doc.read_text("utf-8"), flags=re.S)
    (tmp_path / "test_my_store.py").write_text(blocks[0], "utf-8")
    (tmp_path / "test_money_example.py").write_text(blocks[1], "utf-8")
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", str(tmp_path)],
        cwd=tmp_path, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:]
    assert " passed" in result.stdout
