"""The docs cannot drift: their runnable examples run, their other `lamina` commands use flags that exist, the
site builds with no warning, every command has a generated reference page that agrees with `--help`, and the
README stays short with the two commands on its first screen.

The runnable-example convention: an HTML comment ``<!-- test -->`` on the line before a fenced ``bash`` or
``python`` block (blank lines between are allowed). Such blocks must run offline in seconds. A page's marked
blocks run in document order in one fresh folder (``recipes/`` linked in), in one Python process: ``python``
blocks share one namespace, ``bash`` blocks run with ``bash -euo pipefail`` and a ``lamina`` on PATH that runs
the tree under test (``python -m lamina.cli``). Blocks without the marker (training runs, anything needing data or
the network) are not run, but their ``lamina`` commands are checked flag by flag against the command line.
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import shlex
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
DOCS = ROOT / "docs"
MARKER = "<!-- test -->"
FENCE = re.compile(r"^```(\w*)\s*$")


def doc_files() -> list[Path]:
    return [ROOT / "README.md"] + sorted(p for p in DOCS.rglob("*.md") if "hooks" not in p.parts)


def blocks(path: Path) -> list[dict]:
    """Every fenced block of a Markdown file: language, code, first line number, whether marked runnable."""
    lines = path.read_text(encoding="utf-8").split("\n")
    out, i, marked = [], 0, False
    while i < len(lines):
        line = lines[i].strip()
        if line == MARKER:
            marked = True
        elif FENCE.match(line):
            lang = FENCE.match(line).group(1)
            start, i = i + 1, i + 1
            while i < len(lines) and lines[i].strip() != "```":
                i += 1
            out.append({"lang": lang, "code": "\n".join(lines[start:i]), "line": start, "run": marked})
            marked = False
        elif line and marked:
            raise AssertionError(f"{path.relative_to(ROOT)}:{i + 1}: {MARKER} must be followed by a fenced block")
        i += 1
    return out


def runnable(path: Path) -> list[dict]:
    found = [b for b in blocks(path) if b["run"]]
    for b in found:
        assert b["lang"] in ("bash", "python"), f"{path.name}:{b['line']}: a runnable block is bash or python"
    return found


PAGES = [p for p in doc_files() if runnable(p)]


def test_the_convention_finds_the_examples():
    names = {p.relative_to(ROOT).as_posix(): runnable(p) for p in PAGES}
    assert "README.md" in names and any(b["lang"] == "bash" for b in names["README.md"])
    api = names["docs/how-to/python-api.md"]
    assert len(api) >= 5 and {b["lang"] for b in api} == {"python"}
    assert sum(len(v) for v in names.values()) >= 15


# ---------------------------------------------------------------- running them

DRIVER = r"""
import json, subprocess, sys
namespace = {"__name__": "__main__"}
for block in json.load(open(sys.argv[1])):
    print(f"----- {block['where']} ({block['lang']})", flush=True)
    if block["lang"] == "python":
        exec(compile(block["code"], block["where"], "exec"), namespace)
    else:
        subprocess.run(["bash", "-euo", "pipefail", "-c", block["code"]], check=True)
"""


def _environment(tmp_path: Path) -> dict:
    shim = tmp_path / "bin"
    shim.mkdir()
    (shim / "lamina").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m lamina.cli "$@"\n')
    (shim / "lamina").chmod(0o755)
    env = dict(os.environ)
    env["PATH"] = f"{shim}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), *filter(None, [env.get("PYTHONPATH")])])
    env.update(HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", HF_DATASETS_OFFLINE="1", PYTHONUNBUFFERED="1")
    return env


@pytest.mark.parametrize("page", PAGES, ids=[p.relative_to(ROOT).as_posix() for p in PAGES])
def test_the_runnable_examples_run(page, tmp_path):
    work = tmp_path / "work"
    work.mkdir()
    (work / "recipes").symlink_to(ROOT / "recipes")
    rel = page.relative_to(ROOT).as_posix()
    todo = [{"lang": b["lang"], "code": b["code"], "where": f"{rel}:{b['line']}"} for b in runnable(page)]
    (tmp_path / "blocks.json").write_text(json.dumps(todo))
    (tmp_path / "driver.py").write_text(DRIVER)
    done = subprocess.run(
        [sys.executable, str(tmp_path / "driver.py"), str(tmp_path / "blocks.json")],
        cwd=work,
        env=_environment(tmp_path),
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, f"an example of {rel} failed:\n{done.stdout[-6000:]}\n{done.stderr[-6000:]}"


# ---------------------------------------------------------------- the commands that are not run


def _click_commands():
    import typer.main

    from lamina.cli import app

    group = typer.main.get_command(app)
    return group


def _accepted(command) -> set[str]:
    """Every flag a command accepts and does not refuse (renamed settings' old flags are refused)."""
    flags = set()
    for param in command.params:
        if (getattr(param, "help", "") or "").startswith("Renamed "):
            continue
        flags.update(getattr(param, "opts", []))
        flags.update(getattr(param, "secondary_opts", []))
    return flags | {"--help"}


def _logical_lines(code: str) -> list[str]:
    out, buffer = [], ""
    for line in code.split("\n"):
        buffer = f"{buffer} {line.rstrip()[:-1]}" if line.rstrip().endswith("\\") else f"{buffer} {line}"
        if line.rstrip().endswith("\\"):
            continue
        try:
            shlex.split(buffer, comments=True)
        except ValueError:  # a quoted value goes on on the next line
            buffer += "\n"
            continue
        out.append(buffer.strip())
        buffer = ""
    return out


def lamina_invocations(code: str) -> list[list[str]]:
    calls = []
    for line in _logical_lines(code):
        tokens = shlex.split(line, comments=True)
        segment: list[str] = []
        for token in tokens + [";"]:
            if token in ("&&", "||", ";", "|"):
                while segment and re.match(r"^[A-Z_][A-Z0-9_]*=", segment[0]):  # VAR=value before a command
                    segment.pop(0)
                if segment and segment[0] == "lamina":
                    calls.append(segment[1:])
                segment = []
            else:
                segment.append(token)
    return calls


def test_every_lamina_command_in_the_docs_uses_flags_that_exist():
    group = _click_commands()
    checked, problems = 0, []
    for path in doc_files():
        for block in blocks(path):
            if block["lang"] not in ("bash", "sh", ""):
                continue
            for args in lamina_invocations(block["code"]):
                where = f"{path.relative_to(ROOT)}:{block['line']}: lamina {' '.join(args)[:60]}"
                command, rest = group, args
                while rest and hasattr(command, "commands") and not rest[0].startswith("-"):
                    if rest[0] not in command.commands:
                        problems.append(f"{where}: no command {rest[0]!r}")
                        break
                    command, rest = command.commands[rest[0]], rest[1:]
                accepted = _accepted(command)
                for token in rest:
                    flag = token.split("=")[0]
                    if flag.startswith("-") and not re.match(r"^-\d", flag) and flag not in accepted:
                        problems.append(f"{where}: {flag} is not an option of this command")
                checked += 1
    assert not problems, "\n".join(problems)
    assert checked >= 40


# ---------------------------------------------------------------- the README


def test_the_readme_is_short_and_starts_with_the_two_commands():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    lines = text.split("\n")
    assert len(lines) <= 200
    first_screen = "\n".join(lines[:45])
    for marker in (
        "<!-- main-command -->",
        "<!-- /main-command -->",
        "<!-- test-command -->",
        "<!-- /test-command -->",
    ):
        assert marker in first_screen, marker
    assert "lamina quickstart" in first_screen and "python -m pytest" in first_screen
    ci = (ROOT / ".ci" / "run").read_text()
    assert "test-command" in ci and "mkdocs build --strict" in ci
    for target in re.findall(r"\]\(([^)#\s]+)(?:#[^)]*)?\)", text):  # its relative links point at files
        if not re.match(r"^[a-z]+:", target):
            assert (ROOT / target).exists(), f"README links to {target}, which does not exist"


# ---------------------------------------------------------------- the site


@pytest.fixture(scope="module")
def site(tmp_path_factory):
    if importlib.util.find_spec("mkdocs") is None or importlib.util.find_spec("material") is None:
        pytest.skip("mkdocs-material is not installed (pip install mkdocs-material)")
    out = tmp_path_factory.mktemp("site")
    env = {
        **os.environ,
        "NO_MKDOCS_2_WARNING": "1",
        "PYTHONPATH": os.pathsep.join([str(ROOT / "src"), *filter(None, [os.environ.get("PYTHONPATH")])]),
    }
    done = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "-f", str(ROOT / "mkdocs.yml"), "-d", str(out)],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    assert "WARNING" not in done.stdout + done.stderr, done.stdout + done.stderr
    return out


def test_the_site_builds_with_no_warning_and_every_command_has_its_reference_page(site):
    import html

    from typer.testing import CliRunner

    from lamina.cli import app

    group = _click_commands()
    for name, command in group.commands.items():
        page = site / "reference" / name / "index.html"
        assert page.is_file(), f"no reference page for lamina {name}"
        text = html.unescape(page.read_text(encoding="utf-8"))
        subcommands = list(command.commands) if hasattr(command, "commands") else [None]
        for sub in subcommands:
            args = [name, sub, "--help"] if sub else [name, "--help"]
            shown = CliRunner().invoke(app, args, terminal_width=200).output
            flags = set(re.findall(r"(?<![\w-])(--[a-z0-9][a-z0-9-]*)", shown.split("Options:")[-1]))
            missing = {f for f in flags if f not in text} - {"--help"}
            assert not missing, f"lamina {' '.join(filter(None, [name, sub]))} --help shows {missing}, its page not"
    for generated in (
        "reference/index.html",
        "reference/registries/index.html",
        "benchmarks/index.html",
        "changelog/index.html",
        "getting-started/index.html",
        "how-to/python-api/index.html",
    ):
        assert (site / generated).is_file(), generated
    registries = html.unescape((site / "reference" / "registries" / "index.html").read_text(encoding="utf-8"))
    assert "contribution" in registries and "metadistil" in registries and "bbc-news" in registries
    assert (site / "benchmarks" / "results" / "serve" / "page.png").is_file()  # the results' links resolve
