"""``lamina eval``: task metrics plus size and CPU speed of a model; with ``depths``, the
same for copies pruned to those depths without retraining (prune-on-demand)."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

from pydantic import field_validator

from lamina.config import OptionMap, parse_numbers, setting
from lamina.results import RecordPart
from lamina.training.settings import TaskSettings
from lamina.workflows import RunContext, Workflow, register_workflow
from lamina.workflows.prune import SpeedSettings


class EvalConfig(TaskSettings, SpeedSettings):
    model: str = setting(..., "Local folder, Hugging Face hub id, or bundled alias of the model to score.")
    split: Literal["dev", "train"] = setting("dev", "dev or train.")
    backend: str = setting(
        "torch",
        "torch: a PyTorch folder (fp32, or a torch-int8 export); onnx: an ONNX export run by ONNX Runtime "
        "(onnx or onnx-int8).",
    )
    max_length: int = setting(128, "Tokens per example (truncation); tokens per block for --task mlm.", ge=2)
    batch_size: int = setting(64, "Batch size for scoring.", ge=1)
    max_samples: int | None = setting(
        None,
        "Score a seeded subset of N examples (stratified by label for classification; the first N blocks "
        "for --task mlm).",
        ge=1,
    )
    seed: int = setting(42, "Seed of the subset (and of the masking for --task mlm).")
    speed_batch_sizes: list[int] = setting([1, 8, 32], "Batch sizes timed, e.g. 1,8,32.")
    threads: int | None = setting(None, "CPU threads while timing (default: torch's).", ge=1)
    depths: list[int] | None = setting(
        None,
        "Also score copies pruned to these layer counts, e.g. 4,3,2, with no retraining (prune-on-demand, "
        "as after LayerDrop).",
    )
    strategy: str = setting("alternate", "Which layers --depths keeps (a data-free strategy).")
    strategy_options: OptionMap = setting({}, "Options of that strategy, NAME=VALUE.", flag="--strategy-option")
    json_path: str | None = setting(None, "Also write the results JSON here.", flag="--json")
    output: str | None = setting(None, "Write the results record into this folder (lamina_results.json).", flag="-o")
    overwrite: bool = setting(False, "Replace an existing --output folder.")
    logit_bias: OptionMap = setting(
        {},
        "Image tasks: add VALUE to class LABEL's logit before scoring, LABEL=VALUE (Hinton et al.'s bias "
        "correction after a class was left out of the transfer set).",
        flag="--logit-bias",
    )

    @field_validator("depths", "speed_batch_sizes", mode="before")
    @classmethod
    def _parse_ints(cls, value, info):
        return parse_numbers(value, "--" + info.field_name.replace("_", "-"), int)

    @field_validator("backend")
    @classmethod
    def _known_backend(cls, value):
        from lamina.models.formats import backends

        if value not in backends():
            raise ValueError(f"unknown backend '{value}'; available: {', '.join(backends())}")
        return value


class DepthRow(RecordPart):
    """One shallower copy measured by ``--depths``."""

    layers: int
    kept_layers: list[int]
    metrics: dict[str, float | None]
    parameters: int
    speeds: dict[str, Any] | None = None
    speedup: float | None = None
    generation_speedup: float | None = None


class EvalTopLevel(RecordPart):
    """An evaluation's own keys: it has no section (``record["eval"]``); records keep these at the
    top level, where reports read ``backend``."""

    backend: str | None = None  # torch, or the export format measured
    depths: list[DepthRow] | None = None


@register_workflow("eval")
class Eval(Workflow):
    """Task metrics (or, with --task mlm --corpus FILE, MLM loss and perplexity) plus parameters, size on
    disk and CPU latency/throughput at batch 1, 8 and 32; with --depths, the same for shallower copies."""

    Config = EvalConfig
    TopLevel = EvalTopLevel
    arguments = ("model",)

    def run(self, cfg: EvalConfig, ctx: RunContext) -> dict:
        from lamina.io import atomic_output_dir, check_output_dir
        from lamina.results import RESULTS_FILE, write_record

        if cfg.output:
            check_output_dir(cfg.output, overwrite=cfg.overwrite)
        record = run_eval(cfg)
        if cfg.output:
            with atomic_output_dir(cfg.output, overwrite=cfg.overwrite) as tmp:
                write_record(tmp / RESULTS_FILE, record)
        if cfg.json_path:
            write_record(cfg.json_path, record)
        return record

    def show(self, record, cfg, echo) -> None:
        from lamina.display import Table, console, mb, metric_cell

        t = Table(title=f"{record['model']} on {record['task']} ({record['config']['split']})")
        t.add_column("")
        t.add_column("value", justify="right")
        for k, v in record["metrics"].items():
            t.add_row(k, metric_cell(k, v))
        sizes = record["sizes"]
        t.add_section()
        t.add_row("layers", str(sizes["layers"]))
        t.add_row("parameters", f"{sizes['parameters']:,}")
        t.add_row("weights on disk", mb(sizes.get("bytes")))
        speeds = record.get("speeds") or {}
        if speeds:
            t.add_section()
            if speeds.get("latency_ms_batch1") is not None:
                t.add_row(f"latency, batch 1 × {speeds['seq_len']} (ms)", f"{speeds['latency_ms_batch1']:.1f}")
            for bs, r in speeds["per_batch_size"].items():
                t.add_row(f"samples/s, batch {bs} × {speeds['seq_len']}", f"{r['samples_per_second']:.1f}")
        console.print(t)
        if record.get("depths"):
            self.show_depths(record)
        for path in (cfg.json_path, cfg.output and f"{cfg.output}/lamina_results.json"):
            if path:
                echo(f"wrote {path}")

    @staticmethod
    def show_depths(record: dict) -> None:
        """``--depths``: the table of data-free prunings scored without retraining."""
        from lamina.display import console, metric_cell, table

        rows = record["depths"]
        names = list(rows[0]["metrics"])
        t = table(
            f"pruned without retraining ({record['config']['strategy']})",
            ["layers", "kept layers", *names, "parameters"] + (["speed-up"] if "speedup" in rows[0] else []),
        )
        for r in rows:
            cells = [
                str(r["layers"]),
                ",".join(map(str, r["kept_layers"])),
                *[metric_cell(k, r["metrics"][k]) for k in names],
                f"{r['parameters']:,}",
            ]
            if "speedup" in r:
                cells.append(f"{r['speedup']:.2f}x")
            t.add_row(*cells)
        console.print(t)

    def report_row(self, record: dict) -> dict:
        # it measured the model its record names: its output folder holds no model (no size on disk of its own)
        return {"measures": True}


def _speeds(model, *, speed_seq_len, speed_batch_sizes, threads, repeats=5, generation: bool = False) -> dict:
    """Latency and throughput per batch size, each the median of ``repeats`` with its min and
    max; a model of the same shape and backend timed earlier in this process shares its figures.
    ``generation``: also greedy decoding with the KV cache (tokens/s)."""
    from lamina.data.encode import max_positions
    from lamina.eval.timing import measure_generation, measure_throughput

    # a fixed shape for every model (not its scoring --max-length), so that speeds compare across a report
    seq = min(speed_seq_len, max_positions(model.config))
    per_batch = {}
    for bs in speed_batch_sizes:
        r = measure_throughput(model, batch_size=bs, seq_len=seq, threads=threads, repeats=repeats)
        per_batch[str(bs)] = {
            k: r[k] for k in ("seconds_per_batch", "seconds_min", "seconds_max", "samples_per_second")
        }
    largest = per_batch[str(max(speed_batch_sizes))]
    one = per_batch.get("1")
    extra = {}
    if generation:  # greedy decoding with the KV cache, a prompt of half the sequence length
        g = measure_generation(
            model, batch_size=1, prompt_len=max(1, seq // 2), new_tokens=max(1, seq // 2), threads=threads
        )
        extra["generation"] = {
            k: g[k] for k in ("batch_size", "prompt_len", "new_tokens", "seconds_per_call", "tokens_per_second")
        }
    return {
        **extra,
        "backend": r["backend"],
        "speed_key": r["speed_key"],
        "seq_len": seq,
        "threads": r["threads"],
        "repeats": r["repeats"],
        "per_batch_size": per_batch,
        "latency_ms_batch1": 1000 * one["seconds_per_batch"] if one else None,
        "latency_ms_batch1_range": [1000 * one["seconds_min"], 1000 * one["seconds_max"]] if one else None,
        "samples_per_second": largest["samples_per_second"],
        "samples_per_second_range": [
            max(speed_batch_sizes) / largest["seconds_max"],
            max(speed_batch_sizes) / largest["seconds_min"],
        ],
        "samples_per_second_batch_size": max(speed_batch_sizes),
    }


def run_eval(cfg: EvalConfig) -> dict:
    """Score a model on a task through its objective; ``depths`` also scores copies pruned to
    each of these layer counts by ``strategy``, without any retraining."""
    from lamina.data.encode import check_max_length
    from lamina.errors import LaminaError
    from lamina.eval.timing import parameter_count, weights_size_bytes
    from lamina.models.adapters import get_adapter
    from lamina.models.export import export_record, exported_format, load_exported
    from lamina.models.surgery import drop_layers
    from lamina.results import finish_record, new_record
    from lamina.strategies import available_strategies, get_strategy, select_layers
    from lamina.tasks.objectives import ScoreSettings, objective_for

    task = cfg.get_task()
    objective = objective_for(task)
    chosen = get_strategy(cfg.strategy, **cfg.strategy_options) if cfg.depths else None
    if chosen is not None and chosen.needs_calibration:
        raise LaminaError(
            f"--depths prunes with a data-free strategy ({', '.join(available_strategies(data_free=True))}), "
            f"not '{cfg.strategy}'"
        )
    record = new_record("eval", model=cfg.model, task=task.name, config=cfg.model_dump(), seed=cfg.seed)
    if cfg.logit_bias and objective.reads_text:
        raise LaminaError(f"--logit-bias is for image tasks (mnist, fashion-mnist, digits), not '{task.name}'")
    loaded = load_exported(cfg.model, backend=cfg.backend, threads=cfg.threads)
    if loaded is not None and cfg.depths:
        raise LaminaError(f"--depths prunes a PyTorch model; '{cfg.model}' is an export")
    model, tokenizer, source = loaded or objective.load_model(cfg.model, task, train=False)
    check_max_length(cfg.max_length, model.config, tokenizer)
    model.eval()
    score = objective.scorer(task, tokenizer, ScoreSettings.of(cfg), record)
    n = get_adapter(model.config).num_layers(model.config)
    record["metrics"] = score(model)
    from lamina.models.width import model_shape

    record["sizes"] = {
        "layers": n,
        # an export's parameters are its source's (int8 weights are packed, not nn.Parameters)
        "parameters": ((export_record(source).get("sizes") or {}).get("parameters") if loaded else None)
        or parameter_count(model),
        "bytes": weights_size_bytes(source) if Path(source).is_dir() else None,
        "shape": model_shape(model.config),
    }
    record["backend"] = exported_format(source) or "torch"
    speed_opts = dict(
        speed_seq_len=cfg.speed_seq_len,
        speed_batch_sizes=cfg.speed_batch_sizes,
        threads=cfg.threads,
        generation=objective.generates,
    )
    if cfg.speed and objective.reads_text:  # (the timing helper feeds token ids)
        record["speeds"] = _speeds(model, **speed_opts)
    if cfg.depths:
        rows = []
        for d in cfg.depths:
            if not 1 <= d <= n:
                raise LaminaError(f"--depths {d}: the model has {n} layers")
            kept = select_layers(chosen, n, keep=d)
            pruned = model if d == n else drop_layers(model, kept)
            row = {"layers": d, "kept_layers": kept, "metrics": score(pruned), "parameters": parameter_count(pruned)}
            if cfg.speed:
                row["speeds"] = _speeds(pruned, **speed_opts)
                row["speedup"] = row["speeds"]["samples_per_second"] / record["speeds"]["samples_per_second"]
                if "generation" in row["speeds"]:
                    row["generation_speedup"] = (
                        row["speeds"]["generation"]["tokens_per_second"]
                        / record["speeds"]["generation"]["tokens_per_second"]
                    )
            rows.append(row)
        record["depths"] = rows
    return finish_record(record)
