"""Every code block of the documentation runs (docs/**/*.md and README.md, new pages included).

* ```python blocks: the blocks of one page run in order in one namespace (later blocks use
  earlier names), in a fresh interpreter whose working directory is a temporary folder and
  whose path has ``examples/`` on it (like this suite). A traceback names the page and line.
  ``--8<-- "path"`` lines (pymdownx.snippets) are replaced by the file they quote.
* A block with ``title="NAME"`` (```toml title="holidays-2027.toml"```) is a file: it is
  written to that folder under NAME before the page's python blocks run, and not executed.
* Shell blocks (bash, sh, console, shell): every ``leadtocash`` subcommand and option named
  exists, every extra named in ``pip install '…[extra]'`` is declared in pyproject.toml, every
  repository file named (under scripts/, examples/, tests/, benchmarks/, docs/, src/) exists,
  and every ``python -m MODULE`` is importable.

A block that cannot run (a server, a secret, a web framework's request object) is preceded by
``<!-- docs: skip REASON -->``; the reason is required, and skips are meant to stay rare.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shlex
import subprocess
import sys
import tomllib
from collections.abc import Iterator
from pathlib import Path
from typing import NamedTuple

import click
import pytest

ROOT = Path(__file__).resolve().parents[2]
SKIP = re.compile(r"<!--\s*docs:\s*skip\b(?P<reason>.*?)-->")
FENCE = re.compile(r"^(?P<indent> *)(?P<fence>`{3,}|~{3,})\s*(?P<info>[^`]*)$")
SNIPPET = re.compile(r'^\s*--8<--\s+"(?P<path>[^"]+)"\s*$')
PYTHON = {"python", "py", "python3"}
SHELL = {"bash", "sh", "console", "shell"}
REPO_DIRS = ("scripts/", "examples/", "tests/", "benchmarks/", "docs/", "src/")


class Block(NamedTuple):
    """One fenced code block of a page."""

    page: Path
    line: int  # 1-based line of the block's first code line
    lang: str
    code: str
    skip: str | None  # the reason given by a skip marker, or None
    title: str | None = None  # title="NAME": a file the page's python blocks read


def pages() -> list[Path]:
    """Every Markdown page of the site, and the README."""
    return [*sorted((ROOT / "docs").rglob("*.md")), ROOT / "README.md"]


def _rel(page: Path) -> str:
    return page.relative_to(ROOT).as_posix()


def _closes(line: str, fence: str) -> bool:
    text = line.strip()
    return len(text) >= len(fence) and text == fence[0] * len(text)


def blocks(page: Path) -> list[Block]:
    """The fenced blocks of ``page`` in order (nested fences inside a block are content)."""
    lines = page.read_text("utf-8").splitlines()
    found: list[Block] = []
    i = 0
    while i < len(lines):
        match = FENCE.match(lines[i])
        if match is None:
            i += 1
            continue
        fence, indent = match["fence"], len(match["indent"])
        lang = (match["info"].split() or [""])[0].strip("{}.").lower()
        title = re.search(r'title="([^"]+)"', match["info"])
        before = next((x for x in reversed(lines[:i]) if x.strip()), "")
        marker = SKIP.search(before)
        start, body = i + 1, []
        i += 1
        while i < len(lines) and not _closes(lines[i], fence):
            line = lines[i]
            body.append(line[indent:] if line[:indent].strip() == "" else line.lstrip())
            i += 1
        i += 1
        skip = None if marker is None else (marker["reason"].strip(" -—:") or "")
        code = "\n".join(body) + "\n"
        found.append(Block(page, start + 1, lang, code, skip, title[1] if title else None))
    return found


def _expand_snippets(code: str) -> str:
    out = []
    for line in code.splitlines():
        match = SNIPPET.match(line)
        out.append((ROOT / match["path"]).read_text("utf-8") if match else line)
    return "\n".join(out) + "\n"


def _runnable(page: Path) -> list[Block]:
    return [b for b in blocks(page) if b.lang in PYTHON and b.skip is None and b.title is None]


RUNNER = """
import json, sys
ns = {"__name__": "__docs__"}
for item in json.load(open(sys.argv[1], encoding="utf-8")):
    exec(compile("\\n" * (item["line"] - 1) + item["code"], item["page"], "exec"), ns)
"""


@pytest.mark.parametrize("page", pages(), ids=_rel)
def test_python_blocks_of_the_page_run_in_order(page: Path, tmp_path: Path) -> None:
    runnable = _runnable(page)
    if not runnable:
        return
    items = [
        {"page": _rel(b.page), "line": b.line, "code": _expand_snippets(b.code)} for b in runnable
    ]
    for block in blocks(page):
        if block.title is not None and block.skip is None:
            target = tmp_path / block.title
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(_expand_snippets(block.code), "utf-8")
    (tmp_path / "blocks.json").write_text(json.dumps(items), "utf-8")
    (tmp_path / "run_blocks.py").write_text(RUNNER, "utf-8")
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(
        [str(ROOT / "examples"), *filter(None, [env.get("PYTHONPATH")])]
    )
    env.setdefault("LANG", "C.UTF-8")
    result = subprocess.run(
        [sys.executable, "run_blocks.py", "blocks.json"],
        cwd=tmp_path, env=env, capture_output=True, text=True, timeout=600, check=False,
    )  # fmt: skip
    assert result.returncode == 0, f"{_rel(page)}:\n{result.stderr[-4000:]}"


def test_skips_give_a_reason_and_stay_rare() -> None:
    skipped = [b for p in pages() for b in blocks(p) if b.skip is not None]
    for block in skipped:
        assert block.skip, f"{_rel(block.page)}:{block.line}: say why the block is skipped"
    python = [b for p in pages() for b in blocks(p) if b.lang in PYTHON]
    assert len(skipped) * 5 <= len(python), "more than one python block in five is skipped"


def test_the_block_parser_reads_fences_markers_and_lines(tmp_path: Path) -> None:
    page = tmp_path / "p.md"
    page.write_text(
        "# t\n\n```python\nx = 1\n```\n\n<!-- docs: skip needs a server -->\n"
        '```python\ny = 2\n```\n\n```toml title="a.toml"\n  k = 1\n```\n'
        "1. list\n\n    ```bash\n    leadtocash --help\n    ```\n",
        "utf-8",
    )
    found = blocks(page)
    assert [(b.lang, b.line, b.code, b.skip, b.title) for b in found] == [
        ("python", 4, "x = 1\n", None, None),
        ("python", 9, "y = 2\n", "needs a server", None),
        ("toml", 13, "  k = 1\n", None, "a.toml"),
        ("bash", 18, "leadtocash --help\n", None, None),
    ]
    assert _runnable(page) == found[:1]


# --- shell blocks -----------------------------------------------------------------------------


def _extras() -> set[str]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text("utf-8"))
    return set(data["project"]["optional-dependencies"])


def _cli() -> dict[str, set[str]]:
    """The ``leadtocash`` subcommands and the options each takes (the group's included)."""
    from leadtocash.cli.commands import cli

    def names(params: list[click.Parameter]) -> set[str]:
        return {o for p in params for o in (*p.opts, *p.secondary_opts)}

    group = names(cli.params) | {"--help"}
    return {name: names(cmd.params) | group for name, cmd in cli.commands.items()}


def _commands(code: str) -> Iterator[list[str]]:
    """Each simple command of a shell block as tokens (continuations joined, heredocs skipped)."""
    text = re.sub(r"\\\n", " ", code)
    heredoc: str | None = None
    for raw in text.splitlines():
        if heredoc is not None:
            if raw.strip() == heredoc:
                heredoc = None
            continue
        line = raw.strip().removeprefix("$ ")
        here = re.search(r"<<-?\s*['\"]?(\w+)['\"]?", line)
        if here:
            heredoc, line = here[1], line[: here.start()]
        try:
            tokens = shlex.split(line, comments=True)
        except ValueError:
            continue
        command: list[str] = []
        for token in tokens:
            if token in {"&&", "||", ";", "|", "&"}:
                yield command
                command = []
            else:
                command.append(token)
        yield command


def _problems(tokens: list[str], cli: dict[str, set[str]], extras: set[str]) -> Iterator[str]:
    while tokens and re.match(r"^[A-Z_][A-Z0-9_]*=", tokens[0]):
        tokens = tokens[1:]
    if not tokens:
        return
    program, args = Path(tokens[0]).name, tokens[1:]
    if program == "leadtocash":
        words = [a for a in args if not a.startswith("-")]
        if words:
            sub = words[0]
            if sub not in cli:
                yield f"leadtocash has no subcommand {sub!r}"
            else:
                for arg in args:
                    option = arg.split("=")[0]
                    if option.startswith("-") and option not in cli[sub]:
                        yield f"leadtocash {sub} has no option {option}"
    for arg in args:
        for bracket in re.findall(r"^(?:leadtocash|\.)\[([^\]]+)\]$", arg):
            for extra in bracket.split(","):
                if extra.strip() not in extras:
                    yield f"no extra {extra.strip()!r} in pyproject.toml"
        path = arg.split("::")[0]
        if path.startswith(REPO_DIRS) and not (ROOT / path).exists():
            yield f"no file {path}"
    if program.startswith("python") and "-m" in args[:-1]:
        module = args[args.index("-m") + 1]
        if importlib.util.find_spec(module) is None:
            yield f"no module {module}"


@pytest.mark.parametrize("page", pages(), ids=_rel)
def test_shell_blocks_name_commands_options_extras_and_files_that_exist(page: Path) -> None:
    cli, extras = _cli(), _extras()
    problems = [
        f"{_rel(page)}:{block.line}: {problem}"
        for block in blocks(page)
        if block.lang in SHELL and block.skip is None
        for tokens in _commands(block.code)
        for problem in _problems(tokens, cli, extras)
    ]
    assert not problems, "\n".join(problems)


def test_the_shell_check_catches_a_wrong_subcommand_option_extra_and_file() -> None:
    cli, extras = _cli(), _extras()
    code = (
        "pip install 'leadtocash[cli,nope]' && leadtocash migrat x\n"
        "leadtocash simulate --seed 1 --colour red   # comment\n"
        "bash scripts/missing.sh\n.venv/bin/python -m leadtocash.nowhere\n"
    )
    found = [p for tokens in _commands(code) for p in _problems(tokens, cli, extras)]
    assert found == [
        "no extra 'nope' in pyproject.toml",
        "leadtocash has no subcommand 'migrat'",
        "leadtocash simulate has no option --colour",
        "no file scripts/missing.sh",
        "no module leadtocash.nowhere",
    ]


def test_the_site_hook_lists_every_service_of_the_facade() -> None:
    """mkdocs.yml's hook expands the API reference's marker into one section per service."""
    spec = importlib.util.spec_from_file_location("mkdocs_hooks", ROOT / "scripts/mkdocs_hooks.py")
    assert spec is not None and spec.loader is not None
    hooks = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(hooks)
    from leadtocash import LeadToCash

    services = dict(hooks.facade_services())
    assert services["leads"] == "leadtocash.app.LeadService"
    assert services["pools"] == "leadtocash.app.PoolService"
    assert set(services) == set(LeadToCash.__annotations__) - {"ctx"}
    for attribute, path in services.items():
        assert path.rsplit(".", 1)[1] == LeadToCash.__annotations__[attribute]
    page = (ROOT / "docs/reference/facade.md").read_text("utf-8")
    expanded = hooks.on_page_markdown(page)
    assert hooks.MARKER not in expanded
    assert "### `crm.billing`\n\n::: leadtocash.app.BillingService" in expanded
    assert hooks.on_page_markdown("# other page\n") == "# other page\n"


def test_every_leadtocash_subcommand_is_in_the_cli_page() -> None:
    """docs/cli.md's command table has a row for each subcommand of ``leadtocash --help``."""
    page = (ROOT / "docs" / "cli.md").read_text("utf-8")
    rows = {row.split("`")[1].split()[0] for row in page.splitlines() if row.startswith("| `")}
    missing = sorted(set(_cli()) - rows)
    assert not missing, f"subcommands without a row in docs/cli.md: {missing}"


def _option_tables() -> dict[str, dict[str, str]]:
    """docs/cli.md's option tables: command ('' for the group's) → option → default shown."""
    page = (ROOT / "docs" / "cli.md").read_text("utf-8")
    section = page.split("## Options of each command", 1)[1].split("\n## ", 1)[0]
    tables: dict[str, dict[str, str]] = {"": {}}
    current = ""
    for line in section.splitlines():
        if line.startswith("### `leadtocash "):
            current = line.split("`")[1].split()[1]
            tables[current] = {}
        elif line.startswith("| `-"):
            option, default = (cell.strip() for cell in line.strip("|").split("|")[:2])
            for name in re.findall(r"`(-[^` ]+)", option):
                tables[current][name] = default.strip("`")
    return tables


def test_the_cli_page_lists_every_option_of_every_command_with_its_default() -> None:
    """docs/cli.md has a table per command naming each of its options (no more, no fewer)
    and the default ``--help`` shows for it, so the page cannot drift from the commands."""
    from leadtocash.cli.commands import cli

    def shown(params: list[click.Parameter]) -> dict[str, str]:
        options: dict[str, str] = {}
        for param in params:
            if not isinstance(param, click.Option) or param.name == "help":
                continue
            default = str(param.default) if param.show_default and not param.is_flag else ""
            options.update(dict.fromkeys((*param.opts, *param.secondary_opts), default))
        return options

    tables = _option_tables()
    expected = {"": shown(cli.params)} | {
        name: shown(command.params) for name, command in cli.commands.items()
    }
    assert tables == expected
