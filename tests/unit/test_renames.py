"""Renamed settings: the old spelling is refused from every source, naming the new one.

A settings model declares ``renamed = {"old": "new"}`` (:class:`lamina.config.Settings`); the
old name is then refused as a flag (a hidden one: not in ``--help``), as a key of a ``--config``
file and in a recipe step's ``args``, each time with one line naming the new spelling the way
that source spells it. Stored settings written before a rename (a recipe folder's report step,
a recipe's gathered args) are read with the new names.
"""

from __future__ import annotations

import json
import re

import pytest
import typer
from conftest import assert_one_line_error
from typer.testing import CliRunner

from lamina.cli import app
from lamina.config import Settings, flag_name
from lamina.errors import LaminaError
from lamina.workflows import WORKFLOWS

runner = CliRunner()

# every rename, with a value for the new setting as typed and as validated: a new rename joins this table
VALUES = {
    ("pretrain", "layers", "num_layers"): ("3", 3),
    ("pretrain", "hidden", "hidden_size"): ("64", 64),
    ("pretrain", "heads", "num_heads"): ("2", 2),
    ("pretrain", "intermediate", "intermediate_size"): ("100", 100),
    ("prune", "layers", "keep_layers"): ("0,2", [0, 2]),
    ("report", "layers", "depth_steps"): ("drop", ["drop"]),
    ("export", "calib_data", "parity_data"): ("sst2", "sst2"),
    ("export", "calib_samples", "parity_samples"): ("4", 4),
}
RENAMES = sorted(
    (name, old, new) for name in WORKFLOWS.names() for old, new in WORKFLOWS.get(name).Config.renamed_settings().items()
)
IDS = [f"{n}-{old}" for n, old, _ in RENAMES]


def test_the_renames_are_declared():
    assert RENAMES == sorted(VALUES), "a rename was added or lost: update VALUES (and the CHANGELOG)"


@pytest.fixture
def base(tmp_path):
    """A command line (and the same settings as keys) each command accepts up to its work."""
    corpus = tmp_path / "corpus.txt"
    corpus.write_text("the cat sat on the mat .\n" * 20)
    out = str(tmp_path / "out")
    flags = {
        "pretrain": ["--corpus", str(corpus), "-o", out],
        "prune": ["m", "-o", out],
        "report": ["x"],
        "export": ["m", "-o", out],
    }
    keys = {
        "pretrain": {"corpus": [str(corpus)]},
        "prune": {"model": "m"},
        "report": {"paths": ["x"]},
        "export": {"model": "m"},
    }
    return flags, keys


@pytest.mark.parametrize("name,old,new", RENAMES, ids=IDS)
def test_an_old_flag_is_refused_naming_the_new_one(name, old, new):
    typed, _ = VALUES[(name, old, new)]
    result = runner.invoke(app, [name, flag_name(old), typed])  # refused before anything else is checked
    assert_one_line_error(result, f"{flag_name(old)} was renamed {flag_name(new)}", code=2)
    assert result.stderr.strip() == f"error: {flag_name(old)} was renamed {flag_name(new)}"


@pytest.mark.parametrize("name,old,new", RENAMES, ids=IDS)
def test_an_old_key_of_a_config_file_is_refused_naming_the_new_one(name, old, new, tmp_path):
    typed, _ = VALUES[(name, old, new)]
    for key in (old, old.replace("_", "-")):
        (tmp_path / "c.yaml").write_text(f"{key}: {typed}\n")
        result = runner.invoke(app, [name, "--config", str(tmp_path / "c.yaml")])
        assert_one_line_error(result, f"c.yaml: {old} was renamed {new}", code=2)
        assert flag_name(old) not in result.stderr, "a key of a file is named as a key"


@pytest.mark.parametrize("name,old,new", RENAMES, ids=IDS)
def test_an_old_key_of_a_recipe_step_is_refused_at_planning(name, old, new, tmp_path):
    from lamina.recipes import parse_recipe, prepare

    _, value = VALUES[(name, old, new)]
    recipe = parse_recipe({"name": "r", "steps": [{"name": "a", "kind": name, "args": {old: value}}]})
    with pytest.raises(LaminaError, match=re.escape(f"step 'a' (run a): {name} args: {old} was renamed {new}")):
        prepare(recipe, output_dir=str(tmp_path / "out"))
    assert not (tmp_path / "out").exists()


@pytest.mark.parametrize("name,old,new", RENAMES, ids=IDS)
def test_an_old_flag_is_hidden(name, old, new):
    command = typer.main.get_command(app).commands[name]
    params = {p.name: p for p in command.params}
    assert params[old].hidden and flag_name(old) in params[old].opts
    shown = runner.invoke(app, [name, "--help"], terminal_width=200)
    assert shown.exit_code == 0
    flags = set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", shown.stdout))
    assert flag_name(new) in flags and flag_name(old) not in flags


@pytest.mark.parametrize("name,old,new", RENAMES, ids=IDS)
def test_the_new_name_works_from_every_source(name, old, new, base, tmp_path, monkeypatch):
    typed, value = VALUES[(name, old, new)]
    flags, keys = base
    workflow = WORKFLOWS.get(name)
    seen = []
    monkeypatch.setattr(workflow, "run", lambda self, cfg, ctx: seen.append(cfg) or {})
    monkeypatch.setattr(workflow, "show", lambda self, record, cfg, echo: None)

    result = runner.invoke(app, [name, *flags[name], flag_name(new), typed])
    assert result.exit_code == 0, result.output + result.stderr
    (tmp_path / "c.yaml").write_text(f"{new}: {json.dumps(value)}\n")
    result = runner.invoke(app, [name, *flags[name], "--config", str(tmp_path / "c.yaml")])
    assert result.exit_code == 0, result.output + result.stderr
    assert [getattr(cfg, new) for cfg in seen] == [value, value]
    cfg = workflow().config({**keys[name], new: value}, str(tmp_path / "step"), None)  # a recipe step's args
    assert getattr(cfg, new) == value


def test_a_rename_must_name_a_gone_setting_and_an_existing_one():
    with pytest.raises(TypeError, match="must name a setting that is gone and one that exists"):
        type("Bad", (Settings,), {"__annotations__": {"size": int}, "size": 1, "renamed": {"width": "breadth"}})
    with pytest.raises(TypeError, match="must name a setting that is gone"):
        type("Bad", (Settings,), {"__annotations__": {"size": int}, "size": 1, "renamed": {"size": "size"}})


def test_stored_settings_are_read_with_the_new_names(tmp_path):
    """A recipe output folder made before the renames: its report step's settings still apply."""
    from lamina.reports.recipe import report_inputs
    from lamina.workflows.prune import PruneConfig

    root = tmp_path / "recipe-out"
    (root / "results").mkdir(parents=True)
    (root / "recipe.json").write_text(
        json.dumps(
            {
                "recipe": {
                    "name": "r",
                    "steps": [{"name": "report", "kind": "report", "args": {"title": "old", "layers": ["drop"]}}],
                }
            }
        )
    )
    _, spec, _ = report_inputs([str(root)])
    assert spec.depth_steps == ["drop"] and spec.title == "old"
    assert PruneConfig.upgrade_renamed({"layers": [0, 2], "drop": None}) == {"keep_layers": [0, 2], "drop": None}
    assert PruneConfig.upgrade_renamed({"layers": [1], "keep_layers": [0]}) == {"layers": [1], "keep_layers": [0]}


def test_a_recipe_run_made_with_an_old_name_is_not_rerun(tmp_path):
    """A recipe folder's run whose gathered args use an old name is done, not 'args changed'."""
    from lamina.recipes import parse_recipe, prepare
    from lamina.results import RESULTS_FILE

    recipe = parse_recipe(
        {"name": "r", "steps": [{"name": "a", "kind": "prune", "args": {"model": "m", "keep_layers": [0, 2]}}]}
    )
    outcome = prepare(recipe, output_dir=str(tmp_path / "out"))
    run = outcome.runs[0]
    (tmp_path / "out" / "runs" / run.name).mkdir(parents=True)
    (tmp_path / "out" / "runs" / run.name / RESULTS_FILE).write_text("{}")
    (tmp_path / "out" / "results").mkdir()
    gathered = tmp_path / "out" / "results" / f"{run.name}.json"
    for stored, status in (
        ({"model": "m", "layers": [0, 2]}, "done"),
        ({"model": "m", "layers": [0, 1]}, "args changed: rerun"),
    ):
        gathered.write_text(json.dumps({"recipe": {"args": stored}}))
        assert prepare(recipe, output_dir=str(tmp_path / "out")).status[run.name] == status
