"""One definition per command: the CLI options are the config fields, everywhere.

The command line of every registered workflow is generated from its pydantic ``Config``;
these tests compare them, check that a shared setting reads the same in every command,
that ``--config FILE.yaml`` works (and fails) the same way for every command, that every
numeric bound is enforced from a flag, a file and a recipe alike, and that a refused run
never touches an existing output folder.
"""

from __future__ import annotations

import json

import annotated_types as at
import pytest
import typer
from typer.testing import CliRunner

from lamina.cli import app
from lamina.config import flag_name
from lamina.workflows import WORKFLOWS

runner = CliRunner()


def commands() -> dict:
    return typer.main.get_command(app).commands


def cli_fields(name: str) -> dict:
    cfg = WORKFLOWS.get(name).Config
    return {n: f for n, f in cfg.model_fields.items() if (f.json_schema_extra or {}).get("cli", True)}


def one_line_error(result, *parts):
    assert result.exit_code == 2, result.output
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr
    for part in parts:
        assert part in lines[0], lines[0]
    assert "Value error" not in lines[0]
    return lines[0]


WORKFLOW_NAMES = sorted(WORKFLOWS.names())


@pytest.mark.parametrize("name", WORKFLOW_NAMES)
def test_options_are_the_config_fields(name):
    command = commands()[name]
    params = {p.name: p for p in command.params}
    fields = cli_fields(name)
    cfg = WORKFLOWS.get(name).Config
    extra = cfg.extra_cli_fields() if hasattr(cfg, "extra_cli_fields") else {}  # e.g. distill: each method's settings
    renamed = cfg.renamed_settings()  # old names: hidden flags, refused naming the new one (test_renames.py)
    assert set(params) == set(fields) | set(extra) | set(renamed) | {"config"}, (
        "every setting is an option, and nothing else is"
    )
    assert all(params[old].hidden for old in renamed)
    for field_name, field in fields.items():
        param = params[field_name]
        if param.param_type_name == "option":
            assert flag_name(field_name) in param.opts, (field_name, param.opts)
        default = field.get_default(call_default_factory=True) if not field.is_required() else None
        if isinstance(default, (bool, int, float, str)) and param.param_type_name == "option":
            assert param.default == default, (field_name, param.default, default)
        assert (field.description or "")[:30] in (param.help or ""), field_name
    result = runner.invoke(app, [name, "--help"])
    assert result.exit_code == 0, result.output
    for field_name in fields:
        if params[field_name].param_type_name == "option":
            assert flag_name(field_name) in result.stdout, field_name


def test_a_shared_setting_has_one_flag_and_one_default_in_every_command():
    seen: dict[str, tuple] = {}
    for name in WORKFLOW_NAMES:
        for field_name, field in cli_fields(name).items():
            key = (
                field.description,
                repr(field.get_default(call_default_factory=True)) if not field.is_required() else "",
            )
            seen.setdefault(field_name, set()).add(key)
    # a setting differs only where a command redefines it on purpose: its own default (pretrain trains
    # from scratch: 1 epoch at 5e-4; eval's batch is for scoring), a required value, or what it describes
    differing = {k for k, v in seen.items() if len(v) > 1}
    assert differing == {
        "epochs",
        "lr",
        "group_by_length",  # pretrain's defaults for training from scratch
        "max_length",
        "batch_size",
        "seed",  # calibration tokens / scoring batch / subset seed in prune and eval
        "model",
        "output",
        "overwrite",  # required in some commands, optional in others
        "strategy",
        "strategy_options",  # prune's strategy vs eval's --depths strategy vs distill's student strategy
        "json_path",  # a table (inspect) or a record (eval)
        "keep",  # prune: layers to keep; distill: the student's depth (the same count, two wordings)
        "ffn",
        "heads",
        "hidden",
        "importance",  # how many units to keep: prune's model, distill's student
        "task",  # generate-targets: a seq2seq task (multi30k by default)
        "teacher",  # generate-targets: one positional teacher; distill: a list
        "cache_dir",  # the n-best store (generate-targets) vs the teacher-output cache (distill)
        "threads",  # eval: CPU threads while timing; serve: threads per loaded model
        "max_samples",  # eval: a subset to score; export: a dev subset for the score change (with --task)
        "split",  # eval: the split scored (dev); generate-targets: the sources decoded (train, for Seq-KD)
        "method",  # distill: a distillation method; lifelong: a lifelong-learning method (finetune, lamol, L2KD's)
        "backend",  # eval: the backend an export is read on; compress: what will be shipped (and timed)
    }, differing
    for common in (
        "data_dir",
        "max_train_samples",
        "eval_steps",
        "logging_steps",
        "optim",
        "layerdrop",
        "resume",
        "keep_checkpoints",
        "warmup_ratio",
        "weight_decay",
        "eval_batch_size",
        "max_steps",
    ):
        owners = [n for n in WORKFLOW_NAMES if common in cli_fields(n)]
        assert len(seen[common]) == 1, (common, owners)
    for training in ("finetune", "distill", "pretrain"):
        assert {"logging_steps", "optim", "keep_checkpoints", "eval_batch_size"} <= set(cli_fields(training))


# ---------------------------------------------------------------- --config FILE.yaml, for every command


@pytest.mark.parametrize("name", WORKFLOW_NAMES)
def test_every_command_refuses_a_bad_config_file(name, tmp_path):
    missing = runner.invoke(app, [name, "--config", str(tmp_path / "nope.yaml")])
    one_line_error(missing, "config file not found")
    (tmp_path / "bad.yaml").write_text("a: [unclosed\n")
    one_line_error(runner.invoke(app, [name, "--config", str(tmp_path / "bad.yaml")]), "is not valid YAML")
    (tmp_path / "list.yaml").write_text("- 1\n- 2\n")
    one_line_error(runner.invoke(app, [name, "--config", str(tmp_path / "list.yaml")]), "must hold a mapping")
    (tmp_path / "key.yaml").write_text("no_such_setting: 3\n")
    line = one_line_error(
        runner.invoke(app, [name, "--config", str(tmp_path / "key.yaml")]), "key.yaml: no_such_setting: unknown setting"
    )
    assert "--no-such-setting" not in line, "a key of a file is named as a key, not as a flag"


def test_finetune_config_file_works_like_distill_and_flags_override_it(tiny_bert_with_tokenizer, sst_like, tmp_path):
    cfg = tmp_path / "ft.yaml"
    cfg.write_text(
        f"model: {tiny_bert_with_tokenizer}\ntask: sst2\ndata_dir: {sst_like}\nmax-steps: 2\n"
        f"batch_size: 8\nmax_length: 16\nlr: 0.01\nlogging_steps: 1\noutput: {tmp_path / 'from-file'}\n"
    )
    result = runner.invoke(app, ["finetune", "--config", str(cfg), "--lr", "0.002", "-o", str(tmp_path / "out")])
    assert result.exit_code == 0, result.output
    record = json.loads((tmp_path / "out" / "lamina_results.json").read_text())
    assert record["config"]["lr"] == 0.002 and record["config"]["max_length"] == 16
    assert record["training"]["global_steps"] == 2 and not (tmp_path / "from-file").exists()
    (tmp_path / "bad.yaml").write_text("max_length: 1\n")
    one_line_error(
        runner.invoke(app, ["finetune", "--config", str(tmp_path / "bad.yaml"), "-o", str(tmp_path / "b")]),
        "bad.yaml: max_length: must be 2 or more, not 1",
    )


# ---------------------------------------------------------------- every numeric bound, from every source


def _violations():
    for name in WORKFLOW_NAMES:
        for field_name, field in cli_fields(name).items():
            for bound in field.metadata:
                if isinstance(bound, at.Ge):
                    yield name, field_name, bound.ge - 1
                elif isinstance(bound, at.Gt):
                    yield name, field_name, bound.gt
                elif isinstance(bound, at.Lt):
                    yield name, field_name, bound.lt
                elif isinstance(bound, at.Le):
                    yield name, field_name, bound.le + 1


VIOLATIONS = list(_violations())


def test_there_are_bounds_to_check():
    assert len(VIOLATIONS) > 40 and {v[0] for v in VIOLATIONS} >= {"finetune", "distill", "pretrain", "eval", "prune"}


@pytest.mark.parametrize("name,field_name,value", VIOLATIONS, ids=[f"{n}-{f}" for n, f, _ in VIOLATIONS])
def test_every_numeric_bound_is_enforced_from_a_flag_and_a_file(name, field_name, value, tmp_path):
    one_line_error(runner.invoke(app, [name, flag_name(field_name), str(value)]), f"{flag_name(field_name)}: must be")
    (tmp_path / "c.yaml").write_text(f"{field_name}: {value}\n")
    one_line_error(runner.invoke(app, [name, "--config", str(tmp_path / "c.yaml")]), f"c.yaml: {field_name}: must be")


def test_a_recipe_arg_out_of_bounds_fails_at_planning(tmp_path):
    from lamina.errors import LaminaError
    from lamina.recipes import parse_recipe, prepare

    recipe = parse_recipe(
        {"name": "r", "steps": [{"name": "a", "kind": "eval", "args": {"model": "m", "batch_size": 0}}]}
    )
    with pytest.raises(LaminaError, match="eval args: batch_size: must be 1 or more"):
        prepare(recipe, output_dir=str(tmp_path / "out"))
    assert not (tmp_path / "out").exists()


# ---------------------------------------------------------------- a refused run never touches an existing output


@pytest.mark.parametrize(
    "args",
    [
        ["finetune", "--task", "sst3"],
        ["finetune", "./no/such/model", "--task", "sst2"],
        ["distill", "--teacher", "./no/such/model"],
        ["prune", "./no/such/model", "--drop", "1"],
        ["pretrain", "--corpus", "./no/such/corpus.txt"],
        ["finetune", "--max-length", "1"],
    ],
)
def test_a_refused_run_never_touches_an_existing_output(args, tmp_path):
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    for extra in ([], ["--overwrite"]):
        result = runner.invoke(app, [*args, "-o", str(out), *extra])
        assert result.exit_code != 0, result.output
        assert sorted(p.name for p in out.iterdir()) == ["keep.txt"] and (out / "keep.txt").read_text() == "mine"
        assert not list(tmp_path.glob(".out*")) and not (tmp_path / "out.work").exists()


# ---------------------------------------------------------------- the battery every command inherits


def _base_args(name: str, model: str, data_dir: str, corpus: str) -> list[str]:
    """A command line each registered command accepts up to its work (where it names a model, the
    tiny one). A newly registered command must be added here, so that it inherits the battery."""
    base = {
        "compress": [model, "--task", "sst2", "--data-dir", data_dir, "--max-params", "1000000"],
        "data": ["sst2", "--data-dir", data_dir],
        "distill": [
            "--teacher",
            model,
            "--task",
            "sst2",
            "--data-dir",
            data_dir,
            "--student-from-teacher",
            "top",
            "--keep",
            "1",
        ],
        "eval": [model, "--task", "sst2", "--data-dir", data_dir, "--no-speed"],
        "export": [model, "--format", "onnx"],
        "finetune": [model, "--task", "sst2", "--data-dir", data_dir],
        "generate-targets": [model],
        "inspect": [model],
        "lifelong": [model, "--tasks", "sst2", "--data-dir", data_dir],
        "lottery": [model, "--task", "sst2", "--data-dir", data_dir],
        "pretrain": ["--corpus", corpus, "--tokenizer", model],
        "prune": [model, "--drop", "1", "--no-speed"],
        "report": [model],
        "serve": [model],
    }
    assert name in base, f"add the new command '{name}' to the battery's _base_args"
    return base[name]


@pytest.fixture
def battery(tiny_bert_with_tokenizer, sst_like, tmp_path):
    """A copy of the tiny model inside a folder of its own (so that a failing check harms no fixture)."""
    import shutil

    model = tmp_path / "holder" / "model"
    shutil.copytree(tiny_bert_with_tokenizer, model)
    corpus = tmp_path / "holder" / "corpus.txt"
    corpus.write_text("the cat sat on the mat .\n" * 20)
    return model, sst_like, corpus


def _snapshot(folder):
    return sorted((str(p.relative_to(folder)), p.stat().st_size) for p in folder.rglob("*"))


@pytest.mark.parametrize("name", WORKFLOW_NAMES)
def test_every_command_refuses_a_wrong_type_from_a_file(name, battery, tmp_path):
    model, data_dir, corpus = battery
    args = _base_args(name, str(model), data_dir, str(corpus))
    typed = [n for n, f in cli_fields(name).items() if f.annotation in (int, float) and flag_name(n) not in args]
    if not typed:
        pytest.skip(f"{name} has no numeric setting")
    field_name = typed[0]
    (tmp_path / "c.yaml").write_text(f"{field_name}: [not, a, number]\n")
    one_line_error(runner.invoke(app, [name, *args, "--config", str(tmp_path / "c.yaml")]), f"c.yaml: {field_name}:")


OUTPUT_COMMANDS = [n for n in WORKFLOW_NAMES if "output" in WORKFLOWS.get(n).Config.model_fields]


def test_the_battery_covers_the_commands_that_write():
    assert {
        "distill",
        "eval",
        "export",
        "finetune",
        "generate-targets",
        "lifelong",
        "lottery",
        "pretrain",
        "prune",
        "report",
    } <= set(OUTPUT_COMMANDS)


@pytest.mark.parametrize("name", OUTPUT_COMMANDS)
def test_every_command_leaves_an_existing_output_alone(name, battery, tmp_path):
    model, data_dir, corpus = battery
    out = tmp_path / "out"
    out.mkdir()
    (out / "keep.txt").write_text("mine")
    if name in ("eval", "report"):  # their output is optional, and they write into it rather than replace it
        pytest.skip(f"{name} writes its files into -o")
    one_line_error(
        runner.invoke(app, [name, *_base_args(name, str(model), data_dir, str(corpus)), "-o", str(out)]),
        "already exists",
    )
    assert _snapshot(out) == [("keep.txt", 4)] and not (tmp_path / "out.work").exists()
    assert not list(tmp_path.glob(".out*"))


@pytest.mark.parametrize("name", OUTPUT_COMMANDS)
def test_no_command_writes_over_its_own_input(name, battery):
    """``-o`` equal to the input, or a folder holding it, is refused before any work, --overwrite or not."""
    model, data_dir, corpus = battery
    holder = model.parent
    before = _snapshot(holder)
    args = _base_args(name, str(model), data_dir, str(corpus))
    for out, says in ((model, "is the run's input"), (holder, "holds the run's input")):
        for extra in ([], ["--overwrite"]) if "overwrite" in WORKFLOWS.get(name).Config.model_fields else ([],):
            one_line_error(runner.invoke(app, [name, *args, "-o", str(out), *extra]), says)
    assert _snapshot(holder) == before
    assert not any(p.name.endswith(".work") or ".partial-" in p.name for p in holder.parent.iterdir())
