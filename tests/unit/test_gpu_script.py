"""benchmarks/gpu/run.sh (the GPU form, issue 30): its derived recipes plan, and with --tiny it runs end to
end on the CPU, writes summary.md and timings.txt, and a rerun skips the stages it finished."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
SCRIPT = ROOT / "benchmarks" / "gpu" / "run.sh"
STAGES = ("pmb", "md", "seqkd")


def _env(tmp_path: Path) -> dict:
    shim = tmp_path / "bin"
    shim.mkdir()
    (shim / "lamina").write_text(f'#!/bin/sh\nexec "{sys.executable}" -m lamina.cli "$@"\n')
    (shim / "lamina").chmod(0o755)
    env = dict(os.environ)
    env["PATH"] = f"{shim}{os.pathsep}{env.get('PATH', '')}"
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT / "src"), *filter(None, [env.get("PYTHONPATH")])])
    env["PYTHON"] = sys.executable
    env["LAMINA_DATA_DIR"] = ""  # no GLUE, no Multi30k: the embedded bbc-news / bbc-headline fallbacks
    env.pop("OUT", None)
    return env


@pytest.mark.parametrize("size", ["gpu", "tiny"])
@pytest.mark.parametrize("stage", STAGES)
def test_the_derived_recipes_plan(stage, size, tmp_path):
    from lamina.recipes.runner import prepare

    task = "bbc-headline" if stage == "seqkd" else "bbc-news"
    recipe = tmp_path / f"{stage}.yaml"
    subprocess.run(
        [sys.executable, str(ROOT / "benchmarks/gpu/derive.py"), stage, size, str(recipe), "--task", task, "--bf16"],
        check=True,
    )
    outcome = prepare(recipe, output_dir=str(tmp_path / "runs"))
    assert outcome.form == "gpu" and outcome.runs
    kinds = {r.step.kind for r in outcome.runs}
    assert "report" in kinds
    trained = [r for r in outcome.runs if r.step.kind in ("finetune", "distill")]
    assert trained and all(r.args.get("bf16") is True for r in trained)
    if stage == "md":
        names = {r.step.name for r in outcome.runs}
        assert {"kd-bert-distilbert", "md-bert-distilbert"} <= names and "roberta" not in names


def test_the_script_explains_itself():
    assert subprocess.run(["bash", "-n", str(SCRIPT)]).returncode == 0
    shown = subprocess.run(["bash", str(SCRIPT), "--help"], capture_output=True, text=True, check=True).stdout
    assert "--tiny" in shown and "9 minutes" in shown


@pytest.mark.slow
def test_tiny_runs_end_to_end_and_a_rerun_skips_finished_stages(tmp_path):
    env, out, work = _env(tmp_path), tmp_path / "out", tmp_path / "work"
    command = ["bash", str(SCRIPT), "--tiny", "--out", str(out), "--work", str(work)]
    first = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)
    assert first.returncode == 0, first.stdout[-4000:] + first.stderr[-4000:]
    summary = (out / "summary.md").read_text()
    assert "bbc-news" in summary and "bbc-headline" in summary  # the fallbacks are said
    timings = [line.split("\t") for line in (out / "timings.txt").read_text().splitlines()[1:]]
    assert [t[0] for t in timings] == ["check", *STAGES]
    assert all(t[1] == "done" for t in timings[1:]), timings
    for stage in STAGES:
        assert (out / "reports" / stage / "report.md").is_file()
        assert list((out / "results" / stage).glob("*.json"))
    assert "MetaDistil" in summary and "Poor Man" in summary

    again = subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600)
    assert again.returncode == 0, again.stdout[-4000:] + again.stderr[-4000:]
    timings = [line.split("\t") for line in (out / "timings.txt").read_text().splitlines()[1:]]
    assert all(t[1] == "skipped" and t[2] == "0" and int(t[3]) > 0 for t in timings[1:]), timings
    assert (out / "summary.md").is_file()
