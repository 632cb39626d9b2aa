"""The promise that each extension is one registration in one place, kept.

Each test registers a toy extension here, in this file only, and shows it working through
the command line, a recipe and ``lamina report`` with no other edit:

- a layer-selection strategy with an option of its own,
- a loss that reads projected hidden states of a narrower student,
- a distillation method that also trains its teacher (so the teacher lives in checkpoints),
- a command (which is then also a recipe step kind and a record kind of reports), with its own
  model card, terminal table and typed section of the results record,
- a task objective (with the task that names it), scored by `lamina eval`,
- an export format (exported, parity-checked, carded, then read back by ``lamina eval``),
- a metric (its function, direction and scale, read by scoring, display and best-run choice),
- an architecture adapter (a model_type that layer surgery then knows; a duplicate refused),
- an importance criterion of width pruning (then `lamina prune --importance NAME`),
- a task with an option of its own (`--task-option NAME=VALUE`, validated by the task).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from conftest import STUDENT_CONFIG
from pydantic import BaseModel, ConfigDict, Field
from safetensors import safe_open
from typer.testing import CliRunner

from lamina.cli import app
from lamina.config import Settings, setting
from lamina.distillation.methods import METHODS, register_method
from lamina.distillation.trainer import DistillationTrainer
from lamina.eval.metrics import METRICS, Metric, register_metric
from lamina.losses import LOSSES, DistillLoss, Needs, register_loss
from lamina.losses.functional import cross_entropy
from lamina.models.adapters import ADAPTERS, ArchitectureAdapter, get_adapter, register_adapter
from lamina.models.formats import EXPORT_FORMATS, ExportFormat, register_format
from lamina.recipes import parse_recipe, run_recipe
from lamina.results import InvalidRecord, RecordPart, check_record, read_record
from lamina.strategies import STRATEGIES, Strategy, register_strategy
from lamina.workflows import WORKFLOWS, Workflow, register_workflow

runner = CliRunner()


def cli(*args):
    result = runner.invoke(app, [str(a) for a in args])
    assert result.exit_code == 0, result.output
    return result


def recipe_then_report(tmp_path, steps, vars_=None):
    """Run a recipe of ``steps`` plus a report step; then `lamina report` on its folder."""
    recipe = parse_recipe(
        {
            "name": "toy",
            "vars": vars_ or {},
            "steps": [*steps, {"name": "report", "kind": "report", "args": {"title": "toy"}}],
        }
    )
    out = tmp_path / "recipe"
    outcome = run_recipe(recipe, output_dir=str(out))
    assert "report" in outcome.ran
    result = cli("report", out, "-o", tmp_path / "rep")
    return outcome, (out / "report" / "report.md").read_text(), result.stdout


# ---------------------------------------------------------------- a strategy with its own option


class EveryNthOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    step: int = Field(2, ge=1)


@pytest.fixture
def toy_strategy():
    @register_strategy("toy-every-nth")
    class EveryNth(Strategy):
        """Drop every n-th layer counting down from the top."""

        Options = EveryNthOptions

        def layers_to_drop(self, num_layers, k, stats=None):
            return list(range(num_layers - 1, -1, -self.options.step))[:k]

    yield EveryNth
    STRATEGIES.remove("toy-every-nth")


def test_a_strategy_with_an_option_is_one_registration(toy_strategy, tiny_bert_with_tokenizer, tmp_path):
    assert "toy-every-nth" in cli("strategies").stdout and "step=2" in cli("strategies").stdout
    for step, kept in ((2, [0, 2]), (3, [1, 2])):
        out = tmp_path / f"s{step}"
        cli(
            "prune",
            tiny_bert_with_tokenizer,
            "-o",
            out,
            "--strategy",
            "toy-every-nth",
            "--strategy-option",
            f"step={step}",
            "--drop",
            2,
            "--no-speed",
        )
        record = json.loads((out / "lamina_results.json").read_text())
        assert record["prune"]["kept_layers"] == kept and record["config"]["step"] == step
    bad = runner.invoke(
        app,
        [
            "prune",
            str(tiny_bert_with_tokenizer),
            "-o",
            str(tmp_path / "x"),
            "--strategy",
            "toy-every-nth",
            "--strategy-option",
            "stride=2",
            "--drop",
            "1",
            "--no-speed",
        ],
    )
    assert bad.exit_code == 2 and "has no option 'stride'" in bad.stderr and not (tmp_path / "x").exists()

    _, md, _ = recipe_then_report(
        tmp_path,
        [
            {
                "name": "drop",
                "kind": "prune",
                "args": {
                    "model": str(tiny_bert_with_tokenizer),
                    "strategy": "toy-every-nth",
                    "strategy_options": {"step": 3},
                    "drop": 2,
                    "speed": False,
                },
            },
        ],
    )
    assert "| drop |" in md and "prune" in md


# ---------------------------------------------------------------- a loss on projected hidden states


@pytest.fixture
def toy_loss():
    @register_loss("toy-last-mse")
    class LastStateMSE(DistillLoss):
        """MSE of the last hidden states, the student's projected to the teacher's width."""

        def needs(self, layer_map, teacher_layers, student_layers):
            return Needs(student_hidden=True, teacher_tokens={teacher_layers}, student_states={student_layers})

        def __call__(self, ctx):
            def one(view):
                student = ctx.student_state(view, ctx.student_num_layers)
                return ((student - view.tokens[view.num_layers]) ** 2).mean()

            return ctx.weighted(one)

    yield LastStateMSE
    LOSSES.remove("toy-last-mse")


def test_a_loss_reading_projected_states_of_a_narrower_student_is_one_registration(
    toy_loss, tiny_teacher, sst_like, tmp_path
):
    assert "toy-last-mse" in cli("losses").stdout
    out = tmp_path / "kd"
    common = [
        "--task",
        "sst2",
        "--data-dir",
        sst_like,
        "--student-config",
        STUDENT_CONFIG,
        "--max-steps",
        8,
        "--batch-size",
        8,
        "--lr",
        3e-3,
        "--max-length",
        32,
        "--logging-steps",
        1,
        "--cache-dir",
        tmp_path / "c",
    ]
    cli("distill", "--teacher", tiny_teacher, "-o", out, "--loss", "kd=1,toy-last-mse=10", *common)
    record = json.loads((out / "lamina_results.json").read_text())
    assert record["distill"]["projections"] == [0], "hidden 16 → 32: the loss got a projection without asking"
    curve = [h for h in json.loads((out / "lamina_results.json").read_text())["training"]["loss_curve"]]
    assert len(curve) >= 2
    logs = list((out / "logs").rglob("events.out.tfevents.*"))
    assert logs, "TensorBoard logs were written"
    with safe_open(str(out / "model.safetensors"), "pt") as f:
        assert not any("projection" in k for k in f.keys()), "the projection is never exported"

    _, md, _ = recipe_then_report(
        tmp_path,
        [
            {
                "name": "kd",
                "kind": "distill",
                "args": {
                    "teacher": [str(tiny_teacher)],
                    "task": "sst2",
                    "data_dir": sst_like,
                    "student_config": STUDENT_CONFIG,
                    "loss": {"kd": 1, "toy-last-mse": 10},
                    "max_steps": 4,
                    "batch_size": 8,
                    "max_length": 32,
                    "cache_dir": str(tmp_path / "c"),
                },
            },
        ],
    )
    assert "| kd |" in md


# ---------------------------------------------------------------- a method that also trains its teacher


@pytest.fixture
def toy_method():
    @register_method("toy-co-train")
    class CoTrain(DistillationTrainer):
        """Teacher and student learn together: the teacher also fits the gold labels."""

        trains_teachers = True
        cache_off_reason = "the teacher trains with the student"

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            out = super().compute_loss(model, inputs, return_outputs=return_outputs)
            if not model.training:
                return out
            plain = {k: v for k, v in inputs.items() if k not in ("idx", "labels")}
            teacher_loss = cross_entropy(self.teachers[0].model(**plain).logits, inputs["labels"])
            return (out[0] + teacher_loss, out[1]) if return_outputs else out + teacher_loss

    yield CoTrain
    METHODS.remove("toy-co-train")


def test_a_method_that_trains_its_teacher_is_one_registration(toy_method, tiny_teacher, sst_like, tmp_path):
    assert "toy-co-train" in cli("methods").stdout
    out = tmp_path / "co"
    cli(
        "distill",
        "--method",
        "toy-co-train",
        "--teacher",
        tiny_teacher,
        "-o",
        out,
        "--task",
        "sst2",
        "--data-dir",
        sst_like,
        "--student-config",
        STUDENT_CONFIG,
        "--max-steps",
        6,
        "--eval-steps",
        3,
        "--batch-size",
        8,
        "--lr",
        3e-3,
        "--max-length",
        32,
        "--keep-checkpoints",
    )
    record = json.loads((out / "lamina_results.json").read_text())
    assert record["distill"]["method"] == "toy-co-train"
    assert record["distill"]["cache"] == "off: method 'toy-co-train': the teacher trains with the student"
    assert "toy-co-train" in (out / "README.md").read_text() or record["config"]["method"] == "toy-co-train"

    # the teacher lives inside the trained module: checkpoints (and so --resume) carry it, changed
    checkpoint = sorted((tmp_path / "co.work").glob("checkpoint-*"))[-1]
    with safe_open(str(checkpoint / "model.safetensors"), "pt") as f:
        key = next(k for k in f.keys() if k.startswith("teachers.0.") and k.endswith("classifier.weight"))
        trained = f.get_tensor(key)
    with safe_open(str(Path(tiny_teacher) / "model.safetensors"), "pt") as f:
        original = f.get_tensor("classifier.weight")
    assert not torch.allclose(trained, original), "the teacher was trained"
    with safe_open(str(out / "model.safetensors"), "pt") as f:
        assert not any(k.startswith("teachers.") for k in f.keys()), "the exported folder is the student alone"

    _, md, _ = recipe_then_report(
        tmp_path,
        [
            {
                "name": "co",
                "kind": "distill",
                "args": {
                    "method": "toy-co-train",
                    "teacher": [str(tiny_teacher)],
                    "task": "sst2",
                    "data_dir": sst_like,
                    "student_config": STUDENT_CONFIG,
                    "max_steps": 4,
                    "batch_size": 8,
                    "max_length": 32,
                },
            },
        ],
    )
    assert "| co |" in md


# ---------------------------------------------------------------- a command


class ToyCountConfig(Settings):
    model: str = setting(..., "Model folder.")
    output: str = setting(..., "Output folder.", flag="-o")
    overwrite: bool = setting(False, "Replace an existing output folder.")
    scale: float = setting(1.0, "Multiply the count by this.", gt=0)


class ToyCountSection(RecordPart):
    """``record["toy-count"]``: what was counted."""

    parameters: int
    tensors: int


@pytest.fixture
def toy_command():
    @register_workflow("toy-count")
    class ToyCount(Workflow):
        """Count a model's parameters (in millions, times --scale)."""

        Config = ToyCountConfig
        Section = ToyCountSection
        arguments = ("model",)

        def run(self, cfg, ctx):
            from lamina.eval.timing import parameter_count
            from lamina.io import atomic_output_dir
            from lamina.models.card import write_card
            from lamina.models.loading import load_model
            from lamina.results import RESULTS_FILE, finish_record, new_record, write_record

            model, _, _ = load_model(cfg.model)
            record = new_record("toy-count", model=cfg.model, config=cfg.model_dump())
            record["metrics"] = {"million_parameters": parameter_count(model) / 1e6 * cfg.scale}
            record["toy-count"] = {"parameters": parameter_count(model), "tensors": len(list(model.parameters()))}
            with atomic_output_dir(cfg.output, overwrite=cfg.overwrite) as tmp:
                finish_record(record)
                write_card(tmp, record)  # the card below: the shared writer asks the record's kind
                write_record(tmp / RESULTS_FILE, record)  # validated by ToyCountSection first
            return record

        def card(self, folder, record, *, name, **context):
            from lamina.models.card import front_matter, provenance

            count = record["metrics"]["million_parameters"]
            return [
                *front_matter(["lamina", "toy-count"]),
                f"# {name}",
                "",
                f"Toy count: {count:.4f} million parameters (scale {record['config']['scale']:g}).",
                "",
                *provenance(record),
            ]

        def show(self, record, cfg, echo):
            from lamina.display import console, table

            t = table("toy count", ("scale", "million parameters"))
            t.add_row(f"{cfg.scale:g}", f"{record['metrics']['million_parameters']:.4f}")
            console.print(t)

    yield ToyCount
    WORKFLOWS.remove("toy-count")


def test_a_command_is_one_registration(toy_command, tiny_bert_with_tokenizer, tmp_path):
    assert "--scale" in cli("toy-count", "--help").stdout
    shown = cli("toy-count", tiny_bert_with_tokenizer, "-o", tmp_path / "one", "--scale", 2).stdout
    first = json.loads((tmp_path / "one" / "lamina_results.json").read_text())
    count = first["metrics"]["million_parameters"]
    # the command's own table, printed by the CLI, and its own card, written as the folder's README.md
    assert "toy count" in shown and "million parameters" in shown and f"{count:.4f}" in shown
    card = (tmp_path / "one" / "README.md").read_text()
    assert card.startswith("---\nlibrary_name: transformers\ntags:\n- lamina\n- toy-count\n---\n\n# one\n")
    assert f"Toy count: {count:.4f} million parameters (scale 2)." in card and "- **Command:** `lamina" in card
    # its section is typed by its own model, read back through the shared reader
    section = read_record(tmp_path / "one" / "lamina_results.json").section()
    assert isinstance(section, ToyCountSection) and section.parameters == first["toy-count"]["parameters"] > 0
    with pytest.raises(InvalidRecord, match="toy-count"):
        check_record({**first, "toy-count": {"parameters": "many", "tensors": 1}})
    (tmp_path / "c.yaml").write_text("scale: 4\n")
    cli("toy-count", tiny_bert_with_tokenizer, "-o", tmp_path / "two", "--config", tmp_path / "c.yaml")
    second = json.loads((tmp_path / "two" / "lamina_results.json").read_text())
    assert second["metrics"]["million_parameters"] == pytest.approx(2 * first["metrics"]["million_parameters"])
    bad = runner.invoke(app, ["toy-count", str(tiny_bert_with_tokenizer), "-o", str(tmp_path / "x"), "--scale", "0"])
    assert bad.exit_code == 2 and bad.stderr.strip() == "error: --scale: must be more than 0, not 0"

    _, md, printed = recipe_then_report(
        tmp_path,
        [
            {"name": "count", "kind": "toy-count", "args": {"model": str(tiny_bert_with_tokenizer), "scale": 3}},
        ],
    )
    assert "| count | toy-count |" in md, "a new command's records are rows of the report"
    assert "toy-count" in printed


def test_unregistering_a_command_removes_it_from_the_cli(toy_command):
    assert "toy-count" in cli("--help").stdout
    WORKFLOWS.remove("toy-count")
    assert "toy-count" not in cli("--help").stdout


# ---------------------------------------------------------------- an objective (with the task that uses it)


@pytest.fixture
def toy_objective():
    from dataclasses import dataclass

    from lamina.tasks import TASKS, Task, register_task
    from lamina.tasks.objectives import OBJECTIVES, Objective, register_objective

    @register_objective("toy-embedding-norm")
    class EmbeddingNorm(Objective):
        """Scores a base encoder by the mean L2 norm of its last hidden states (no labels, no training)."""

        capabilities = frozenset({"text"})

        def load_model(self, spec, task, *, train):
            from lamina.models.loading import load_model

            return load_model(spec)

        def scorer(self, task, tokenizer, settings, record):
            texts = list(task.load(settings.data_dir)[settings.split]["text"])
            record["examples"] = {settings.split: len(texts)}

            def score(model):
                batch = tokenizer(
                    texts, padding=True, return_tensors="pt", truncation=True, max_length=settings.max_length
                )
                with torch.no_grad():
                    hidden = model(**batch, output_hidden_states=True).hidden_states[-1]
                mask = batch["attention_mask"].bool()
                return {"mean_norm": float(hidden[mask].norm(dim=-1).mean())}

            return score

    @dataclass
    class NormTask(Task):
        @property
        def objective(self):
            return EmbeddingNorm

        def load(self, data_dir=None):
            import datasets

            rows = datasets.Dataset.from_dict({"text": ["a cat sat", "the dog ran to the park", "blue house"]})
            return datasets.DatasetDict({"train": rows, "dev": rows})

    register_task(NormTask(name="toy-norm", metrics=("mean_norm",), description="toy: embedding norms"))
    yield EmbeddingNorm
    OBJECTIVES.remove("toy-embedding-norm")
    TASKS.remove("toy-norm")


def test_an_objective_is_one_registration(toy_objective, tiny_bert_with_tokenizer, tmp_path):
    assert "toy-norm" in cli("tasks").stdout
    cli("eval", tiny_bert_with_tokenizer, "--task", "toy-norm", "--no-speed", "--json", tmp_path / "e.json")
    record = json.loads((tmp_path / "e.json").read_text())
    assert record["task"] == "toy-norm" and record["metrics"]["mean_norm"] > 0
    assert record["examples"] == {"dev": 3}
    # a loss reads only what the objective offers: kd needs classes or tokens, which this one has not
    bad = runner.invoke(
        app,
        [
            "distill",
            "--teacher",
            str(tiny_bert_with_tokenizer),
            "--task",
            "toy-norm",
            "--loss",
            "kd",
            "-o",
            str(tmp_path / "d"),
        ],
    )
    assert bad.exit_code == 2 and "loss 'kd' does not apply to task 'toy-norm'" in bad.stderr, bad.stderr
    assert not (tmp_path / "d").exists()


# ---------------------------------------------------------------- an export format


@pytest.fixture
def toy_format():
    @register_format("toy-fp32")
    class PlainTensors(ExportFormat):
        """The fp32 weights as one safetensors file of its own, run by PyTorch."""

        summary = "fp32 safetensors"
        card = "PyTorch fp32 tensors in toy.safetensors"
        label = "toy fp32"
        files = ("toy.safetensors",)
        parity_rule = "max_diff"

        def export(self, model, tokenizer, folder, texts, max_length):
            from safetensors.torch import save_file

            save_file(
                {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()},
                str(Path(folder) / "toy.safetensors"),
            )
            return self.load(folder, model.config), ["input_ids", "attention_mask"]

        def load(self, folder, config=None, *, threads=None):
            from safetensors.torch import load_file
            from transformers import AutoConfig, AutoModelForSequenceClassification

            config = config if config is not None else AutoConfig.from_pretrained(folder)
            model = AutoModelForSequenceClassification.from_config(config)
            model.load_state_dict(load_file(str(Path(folder) / "toy.safetensors")))
            return model.eval()

    yield PlainTensors
    EXPORT_FORMATS.remove("toy-fp32")


def test_an_export_format_is_one_registration(toy_format, tiny_teacher, sst_like, tmp_path):
    out = tmp_path / "toy"
    cli(
        "export",
        tiny_teacher,
        "-o",
        out,
        "--format",
        "toy-fp32",
        "--task",
        "sst2",
        "--data-dir",
        sst_like,
        "--parity-data",
        "sst2",
        "--parity-samples",
        16,
        "--max-length",
        32,
    )
    record = json.loads((out / "lamina_results.json").read_text())
    assert record["export"]["format"] == "toy-fp32" and record["export"]["opset"] is None
    assert record["export"]["parity"]["max_abs_diff"] < 1e-5, "the format's own parity rule ran"
    assert record["metrics"] == record["export"]["reference_metrics"]
    card = (out / "README.md").read_text()
    assert "PyTorch fp32 tensors in toy.safetensors" in card and "--format toy-fp32" in card

    # read back through the format: eval runs the format's load, on the format's backend
    cli(
        "eval",
        out,
        "--task",
        "sst2",
        "--data-dir",
        sst_like,
        "--max-length",
        32,
        "--no-speed",
        "--json",
        tmp_path / "e.json",
    )
    scored = json.loads((tmp_path / "e.json").read_text())
    assert scored["backend"] == "toy-fp32" and scored["metrics"] == record["metrics"]
    bad = runner.invoke(app, ["eval", str(out), "--backend", "onnx", "--task", "sst2", "--data-dir", sst_like])
    assert (
        bad.exit_code == 2
        and bad.stderr.startswith("error: ")
        and "is a toy-fp32 export, not an ONNX export" in bad.stderr
        and len(bad.stderr.strip().splitlines()) == 1
    )

    EXPORT_FORMATS.remove("toy-fp32")
    bad = runner.invoke(app, ["export", str(tiny_teacher), "-o", str(tmp_path / "x"), "--format", "toy-fp32"])
    assert bad.exit_code == 2 and bad.stderr.strip() == (
        "error: --format: unknown export format 'toy-fp32'; available: onnx, onnx-int8, torch-int8"
    )


# ---------------------------------------------------------------- a metric


@pytest.fixture
def toy_metric():
    metric = register_metric(
        Metric(
            "toy-error-rate",
            lambda p, g: float((p != g).mean()),
            higher_is_better=False,
            description="share of labels wrong",
        )
    )
    yield metric
    METRICS.remove("toy-error-rate")


def test_a_metric_is_one_registration(toy_metric):
    import numpy as np

    from lamina.eval.metrics import compute_metrics, greater_is_better, is_fraction, scores_text
    from lamina.tasks import get_task

    logits = np.array([[2.0, 0.0], [0.0, 2.0], [2.0, 0.0], [0.0, 2.0]])
    scores = compute_metrics(get_task("sst2"), logits, [0, 1, 1, 1], metrics=["accuracy", "toy-error-rate"])
    assert scores == {"accuracy": 0.75, "toy-error-rate": 0.25}
    # its direction picks best checkpoints, best runs and Pareto fronts; its scale decides the display
    assert not greater_is_better("toy-error-rate") and is_fraction("toy-error-rate", 0.25)
    assert scores_text(scores) == "accuracy 75.00, toy-error-rate 25.00"
    with pytest.raises(ValueError, match="metric 'toy-error-rate' is registered twice"):
        register_metric(Metric("toy-error-rate"))
    METRICS.remove("toy-error-rate")
    with pytest.raises(Exception, match="unknown metric"):
        compute_metrics(get_task("sst2"), logits, [0, 1, 1, 1], metrics=["toy-error-rate"])


# ---------------------------------------------------------------- an architecture adapter


@pytest.fixture
def toy_adapter():
    adapter = register_adapter(ArchitectureAdapter("toy-bert", "encoder.layer", extra_model_types=("toy-bert-2",)))
    yield adapter
    for model_type in ("toy-bert", "toy-bert-2"):
        ADAPTERS.remove(model_type)


def test_an_architecture_adapter_is_one_registration(toy_adapter, tiny_bert_with_tokenizer):
    from types import SimpleNamespace

    from lamina.errors import LaminaError
    from lamina.models.loading import load_model
    from lamina.models.surgery import drop_layers

    assert get_adapter(SimpleNamespace(model_type="toy-bert-2")) is toy_adapter
    model, _, _ = load_model(str(tiny_bert_with_tokenizer))
    model.config.model_type = "toy-bert"  # a BERT under another name: layer surgery finds its blocks by the toy
    pruned = drop_layers(model, [0, 2])
    assert get_adapter(pruned).num_layers(pruned.config) == 2 and len(toy_adapter.layers(pruned)) == 2
    with pytest.raises(ValueError, match="architecture 'toy-bert' is registered twice"):
        register_adapter(ArchitectureAdapter("toy-bert-3", "layers", extra_model_types=("toy-bert",)))
    assert "toy-bert-3" not in ADAPTERS, "a refused adapter adds none of its model types"
    for model_type in ("toy-bert", "toy-bert-2"):
        ADAPTERS.remove(model_type)
    with pytest.raises(LaminaError, match="unsupported architecture 'toy-bert'; supported: .*bert"):
        get_adapter(SimpleNamespace(model_type="toy-bert"))


# ---------------------------------------------------------------- an importance criterion (width pruning)


@pytest.fixture
def toy_importance():
    from lamina.importance import IMPORTANCE, Importance, register_importance

    @register_importance("toy-last-first")
    class LastFirst(Importance):
        """Ranks later units higher (keeps the last neurons, heads and channels); no data."""

        needs_calibration = False

        def scores(self, model, batches=None):
            from lamina.models.adapters import get_adapter
            from lamina.models.width import width_spec

            spec, c = width_spec(model), model.config
            n = get_adapter(model).num_layers(c)
            return {
                "ffn": [torch.arange(spec.ffn(c), dtype=torch.float) for _ in range(n)],
                "heads": [torch.arange(spec.heads(c), dtype=torch.float) for _ in range(n)],
                "hidden": torch.arange(spec.hidden(c), dtype=torch.float),
            }

    yield LastFirst
    IMPORTANCE.remove("toy-last-first")


def test_an_importance_criterion_is_one_registration(toy_importance, tiny_bert_with_tokenizer, tmp_path):
    assert "toy-last-first" in cli("importance").stdout
    cli(
        "prune",
        tiny_bert_with_tokenizer,
        "-o",
        tmp_path / "w",
        "--ffn",
        16,
        "--importance",
        "toy-last-first",
        "--no-speed",
    )
    from safetensors import safe_open

    with (
        safe_open(tmp_path / "w" / "model.safetensors", "pt") as pruned,
        safe_open(tiny_bert_with_tokenizer / "model.safetensors", "pt") as full,
    ):
        key = "bert.encoder.layer.0.intermediate.dense.weight"
        assert torch.equal(pruned.get_tensor(key), full.get_tensor(key)[48:])  # the last 16 of 64 neurons


# ---------------------------------------------------------------- a task with an option of its own


@pytest.fixture
def toy_task_with_option():
    from dataclasses import dataclass

    from pydantic import Field as PField

    from lamina.tasks import TASKS, Task, TaskOptions, register_task

    class RepeatOptions(TaskOptions):
        repeat: int = PField(1, ge=1, description="Write each example's text this many times.")

    @dataclass
    class Repeated(Task):
        repeat: int = 1

        def load(self, data_dir=None):
            import datasets

            rows = {
                "text": [" ".join(["good film"] * self.repeat), " ".join(["bad film"] * self.repeat)] * 4,
                "label": [1, 0] * 4,
            }
            d = datasets.Dataset.from_dict(rows)
            return datasets.DatasetDict({"train": d, "dev": d})

    def build(repeat: int = 1):
        return Repeated("toy-repeat", ("accuracy",), ("negative", "positive"), "toy: repeated texts", repeat=repeat)

    register_task(build, name="toy-repeat", options=RepeatOptions)
    yield RepeatOptions
    TASKS.remove("toy-repeat")


def test_a_task_option_is_one_registration(toy_task_with_option, tmp_path):
    listed = cli("tasks").stdout
    assert "toy-repeat" in listed and "--task-option repeat=" in listed
    assert "--repeat" not in cli("data", "--help").stdout, "a task's options are not every command's flags"
    runs = {}
    for times in (1, 3):
        cli("data", "toy-repeat", "--task-option", f"repeat={times}")
        from lamina.tasks.summary import summarize_task

        runs[times] = summarize_task("toy-repeat", task_options={"repeat": times})["splits"]["train"]["token_lengths"]
    assert runs[3]["max"] > runs[1]["max"]
    (tmp_path / "c.yaml").write_text("repeat: 3\n")  # a key of its own name reaches the task too
    assert cli("data", "toy-repeat", "--config", tmp_path / "c.yaml").exit_code == 0
    bad_key = tmp_path / "bad.yaml"
    bad_key.write_text("repeat: 0\n")
    assert "must be 1 or more" in runner.invoke(app, ["data", "toy-repeat", "--config", str(bad_key)]).stderr
    bad = runner.invoke(app, ["data", "toy-repeat", "--task-option", "repeat=0"])
    assert bad.exit_code == 2 and "task 'toy-repeat': --task-option repeat (--repeat): must be 1 or more" in bad.stderr
    other = runner.invoke(app, ["data", "sst2", "--task-option", "repeat=2"])
    assert other.exit_code == 2 and "repeat is an option of toy-repeat" in other.stderr
