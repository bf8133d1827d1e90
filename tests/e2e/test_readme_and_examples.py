"""The README's promises: the quickstart runs, the embedding snippet runs, two commands lead."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def _run(args: list[str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(args, cwd=ROOT, capture_output=True, text=True, timeout=300, check=False)


def test_quickstart_example_runs() -> None:
    result = _run([sys.executable, "examples/quickstart.py"])
    assert result.returncode == 0, result.stderr
    assert "captured lead-000001" in result.stdout
    assert "chain ok: True" in result.stdout


def test_demo_runs_on_sqlite_in_both_languages(tmp_path: Path) -> None:
    for lang, marker in (("en", "hash chain verified"), ("zh-CN", "哈希链校验通过")):
        db = tmp_path / f"demo-{lang}.sqlite3"
        result = _run(
            [sys.executable, "examples/demo.py", "--days", "6", "--customers", "80",
             "--lang", lang, "--db", str(db)]
        )  # fmt: skip
        assert result.returncode == 0, result.stderr
        assert marker in result.stdout
        assert db.exists()


def _readme() -> str:
    return (ROOT / "README.md").read_text("utf-8")


def test_readme_opens_with_exactly_two_commands_and_ci_uses_the_test_one() -> None:
    blocks = re.findall(r"```(?:bash|sh)\n(.*?)```", _readme(), flags=re.S)
    assert len(blocks) >= 2
    run_cmd, test_cmd = blocks[0].strip(), blocks[1].strip()
    assert "\n" not in run_cmd
    assert "\n" not in test_cmd
    assert test_cmd in (ROOT / ".ci" / "run").read_text("utf-8")
    assert "examples/" in run_cmd or "leadtocash" in run_cmd


def test_readme_embedding_example_runs() -> None:
    blocks = re.findall(r"```python\n(.*?)```", _readme(), flags=re.S)
    assert blocks, "README needs a python embedding example"
    result = _run([sys.executable, "-c", blocks[0]])
    assert result.returncode == 0, result.stderr
