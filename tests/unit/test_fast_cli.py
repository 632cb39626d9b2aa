"""The command line starts without torch or transformers (issue 26), and usage errors are one line.

``lamina --help``, every command's ``--help``, the listings and the refusal of bad settings read
only the registries' light metadata (options models, descriptions): they must not import torch,
transformers, datasets or numpy-heavy code. This test is the guard: it runs them all in a fresh
interpreter and names the invocation that first imported a heavy library.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from conftest import assert_one_line_error
from typer.testing import CliRunner

import lamina
from lamina.cli import app

HEAVY = ("torch", "transformers", "datasets", "accelerate", "sklearn", "scipy", "pandas", "onnxruntime", "matplotlib")

# each invocation runs in one fresh process, in this order; after each, the heavy modules it imported
SCRIPT = r"""
import contextlib, io, json, sys
HEAVY = {heavy!r}
import typer
from lamina.cli import app

def commands(group, path=()):
    for name, cmd in sorted(group.commands.items()):
        yield (*path, name)
        if hasattr(cmd, "commands"):
            yield from commands(cmd, (*path, name))

invocations = [["--help"], ["--version"]]
invocations += [[*path, "--help"] for path in commands(typer.main.get_command(app))]
invocations += json.loads(sys.argv[1])
out = []
for args in invocations:
    stdout, stderr = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(stdout), contextlib.redirect_stderr(stderr):
        try:
            app(args, prog_name="lamina")
            code = 0
        except SystemExit as exc:
            code = exc.code
    out.append({{"args": args, "code": code, "stdout": stdout.getvalue(), "stderr": stderr.getvalue(),
                "heavy": sorted(m for m in HEAVY if m in sys.modules)}})
print(json.dumps(out))
"""

LISTINGS = [["strategies"], ["importance"], ["losses"], ["methods"], ["tasks"], ["models", "list"]]


def bad_inputs(tmp: Path) -> list[tuple[list[str], str]]:
    """(arguments, a part of the one error line): refusals judged without reading a model."""
    o = str(tmp / "out")
    return [
        (["prune", "minilm-l6", "--strategy", "bogus", "--drop", "1", "-o", o], "unknown strategy 'bogus'"),
        (["prune", "minilm-l6", "--keep", "0", "-o", o], "--keep"),
        (["prune", "minilm-l6", "--drop", "1", "-o", o, "--strategy-option", "stride=2"], "has no option 'stride'"),
        (["prune", str(tmp / "no-such-model"), "--drop", "1", "-o", o], "model not found"),
        (
            ["prune", "minilm-l6", "--drop", "1", "-o", o, "--config", str(tmp / "missing.yaml")],
            "config file not found",
        ),
        (["run", str(tmp / "missing.yaml")], "recipe not found"),
        (["distill", "--teacher", "t", "-o", o, "--method", "bogus"], "unknown distillation method 'bogus'"),
        (["distill", "--teacher", "t", "-o", o, "--loss", "bogus=1"], "unknown loss 'bogus'"),
        (["distill", "--teacher", "t", "-o", o, "-T", "0"], "--temperature"),
        (["distill", "--teacher", "t", "-o", o, "--pilot-lr", "0.1"], "is a setting of --method metadistil"),
        (["finetune", "minilm-l6", "--task", "bogus", "-o", o], "unknown task 'bogus'"),
        (["eval", "minilm-l6", "--task", "sst2", "--depths", "2", "--strategy", "bogus"], "unknown strategy"),
        (["export", str(tmp / "no-such-model"), "-o", o, "--format", "bogus"], "unknown export format 'bogus'"),
        (["export", str(tmp / "no-such-model"), "-o", o], "model not found"),
        (["inspect", str(tmp / "no-such-model")], "model not found"),
        (["report", str(tmp / "no-such-folder")], "not found"),
        (["prune", "--bogus-flag"], "no such option: --bogus-flag"),  # click's usage errors
        (["prune", "minilm-l6", "--keep", "x"], "'--keep'"),
        (["bogus-command"], "no such command 'bogus-command'"),
    ]


@pytest.fixture(scope="module")
def fresh_process_runs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("fast_cli")
    bad = bad_inputs(tmp)
    env = {**os.environ, "PYTHONPATH": str(Path(lamina.__file__).parents[1])}
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT.format(heavy=HEAVY), json.dumps(LISTINGS + [args for args, _ in bad])],
        capture_output=True,
        text=True,
        env=env,
        cwd=tmp,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr
    return json.loads(proc.stdout), dict((tuple(args), match) for args, match in bad)


def _first_heavy(runs):
    for run in runs:
        if run["heavy"]:
            return f"`lamina {' '.join(run['args'])}` imported {', '.join(run['heavy'])}"
    return None


def test_help_listings_and_refusals_import_no_torch_or_transformers(fresh_process_runs):
    runs, _ = fresh_process_runs
    assert _first_heavy(runs) is None, _first_heavy(runs) + " (import it inside the function that needs it)"
    helps = [r for r in runs if r["args"][-1] == "--help"]
    assert {"distill", "prune", "finetune", "eval", "run", "models"} <= {r["args"][0] for r in helps}
    assert len(helps) > 15  # the top level, every command, and the models subcommands


def test_help_and_listings_work(fresh_process_runs):
    runs, bad = fresh_process_runs
    for run in runs:
        if tuple(run["args"]) in bad:
            continue
        assert run["code"] in (0, None), run
        assert run["stdout"].strip(), run
    by_args = {tuple(r["args"]): r for r in runs}
    assert "--method-option" in by_args[("distill", "--help")]["stdout"]
    assert "--strategy" in by_args[("prune", "--help")]["stdout"]
    assert "metadistil" in by_args[("methods",)]["stdout"] and "pilot_lr=" in by_args[("methods",)]["stdout"]
    assert "angular" in by_args[("strategies",)]["stdout"]
    assert "kd" in by_args[("losses",)]["stdout"] and "sst2" in by_args[("tasks",)]["stdout"]
    assert "activation" in by_args[("importance",)]["stdout"]
    assert by_args[("--version",)]["stdout"].strip() == f"lamina {lamina.__version__}"


def test_bad_input_is_one_error_line_without_torch(fresh_process_runs, tmp_path):
    runs, bad = fresh_process_runs
    refused = [r for r in runs if tuple(r["args"]) in bad]
    assert len(refused) == len(bad)
    for run in refused:
        lines = run["stderr"].strip().splitlines()
        assert run["code"] == 2, run
        assert len(lines) == 1 and lines[0].startswith("error: "), run
        assert bad[tuple(run["args"])] in lines[0], run
        assert not run["heavy"], run
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------- in process: usage errors, --version

runner = CliRunner()


@pytest.mark.parametrize(
    "args,match",
    [
        (["--bogus"], "no such option: --bogus"),
        (["prune", "--bogus-flag"], "no such option: --bogus-flag"),
        (["prune", "minilm-l6", "--keep", "x"], "invalid value for '--keep'"),
        (["nope"], "no such command 'nope'"),
        (["models", "install"], "missing argument"),
    ],
)
def test_a_usage_error_is_one_error_line_and_exit_2(args, match):
    result = runner.invoke(app, args)
    assert_one_line_error(result, match, code=2)
    assert "Usage:" not in result.output and "Try '" not in result.output


def test_no_arguments_still_prints_the_help():
    result = runner.invoke(app, [])
    assert "Usage:" in result.output and "distill" in result.output


def test_version():
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip() == f"lamina {lamina.__version__}"
