"""The prune and inspect workflows behind ``lamina prune`` and ``lamina inspect``."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from lamina.analysis.layer_stats import LayerStats, compute_layer_stats, layer_table
from lamina.data.calibration import load_calibration_texts, tokenize_batches
from lamina.eval.timing import compare_throughput, parameter_count, weights_size_bytes
from lamina.io import atomic_output_dir, check_output_dir, write_json
from lamina.models.adapters import get_adapter
from lamina.models.card import write_prune_card
from lamina.models.loading import load_model
from lamina.models.surgery import drop_layers
from lamina.results import RESULTS_FILE, command_line, finish_record, new_record, versions
from lamina.strategies import get_strategy, select_layers


@dataclass
class Calibration:
    source: str | None = None
    data_dir: str | None = None
    samples: int = 256
    max_length: int = 128
    batch_size: int = 16

    def stats(self, model, tokenizer) -> tuple[LayerStats, dict]:
        texts = load_calibration_texts(self.source, data_dir=self.data_dir, samples=self.samples)
        max_length = min(self.max_length, int(getattr(model.config, "max_position_embeddings", self.max_length)))
        batches = tokenize_batches(tokenizer, texts, max_length=max_length, batch_size=self.batch_size)
        stats = compute_layer_stats(model, batches)
        info = {
            "source": self.source or "bbc-news",
            "samples": len(texts),
            "tokens": stats.num_tokens,
            "max_length": max_length,
            "token": stats.token,
        }
        return stats, info


@dataclass
class PruneRequest:
    model: str
    output: str
    strategy: str = "top"
    drop: int | None = None
    keep: int | None = None
    layers: list[int] | None = None
    strategy_options: dict = field(default_factory=dict)
    calibration: Calibration = field(default_factory=Calibration)
    measure_speed: bool = True
    speed_batch_size: int = 8
    speed_seq_len: int = 128
    overwrite: bool = False


def run_prune(req: PruneRequest) -> dict:
    check_output_dir(req.output, overwrite=req.overwrite)  # fail before any heavy work
    options = dict(req.strategy_options)
    if req.layers is not None:
        options["layers"] = req.layers
    strategy = get_strategy(req.strategy, **options)
    record = new_record(
        "prune",
        model=req.model,
        config={"strategy": strategy.name, "drop": req.drop, "keep": req.keep, **options},
    )
    model, tokenizer, source = load_model(req.model)
    adapter = get_adapter(model)
    n = adapter.num_layers(model.config)
    stats, cal_info = (None, None)
    if strategy.needs_calibration:
        stats, cal_info = req.calibration.stats(model, tokenizer)
    keep = select_layers(strategy, n, drop=req.drop, keep=req.keep, stats=stats)
    pruned = drop_layers(model, keep)
    record["sizes"] = {
        "layers_before": n,
        "layers": len(keep),
        "parameters_before": parameter_count(model),
        "parameters": parameter_count(pruned),
        "bytes_before": weights_size_bytes(source) if Path(source).is_dir() else None,
    }
    record["prune"] = {
        "source_path": source,
        "architecture": type(model).__name__,
        "model_type": model.config.model_type,
        "kept_layers": keep,
        "dropped_layers": [i for i in range(n) if i not in keep],
        "calibration": cal_info,
        "layer_scores": None
        if stats is None
        else {
            "contribution_cosine": [round(float(x), 6) for x in stats.contribution()],
            "angular_distance": [round(float(x), 6) for x in stats.block_angular(1)],
        },
    }
    if req.measure_speed:
        kw = {"batch_size": req.speed_batch_size, "seq_len": min(req.speed_seq_len, _max_positions(model))}
        timed = compare_throughput({"before": model, "after": pruned}, rounds=3, repeats=3, **kw)
        before, after = timed["before"], timed["after"]
        record["speeds"] = {
            "batch_size": kw["batch_size"],
            "seq_len": kw["seq_len"],
            "threads": before["threads"],
            "repeats": f"{before['rounds']} interleaved rounds x {before['repeats']} passes",
            "before_samples_per_second": before["samples_per_second"],
            "samples_per_second": after["samples_per_second"],
            "speedup": after["samples_per_second"] / before["samples_per_second"],
        }
    with atomic_output_dir(req.output, overwrite=req.overwrite) as tmp:
        pruned.save_pretrained(tmp)
        if tokenizer is not None:
            tokenizer.save_pretrained(tmp)
        record["sizes"]["bytes"] = weights_size_bytes(tmp)
        finish_record(record)
        write_prune_card(tmp, record, name=Path(req.output).name)
        write_json(Path(tmp) / RESULTS_FILE, record)
    return record


def _max_positions(model) -> int:
    return int(getattr(model.config, "max_position_embeddings", None) or getattr(model.config, "n_positions", 512))


def run_inspect(model_spec: str, calibration: Calibration) -> dict:
    model, tokenizer, source = load_model(model_spec)
    stats, cal_info = calibration.stats(model, tokenizer)
    table = layer_table(model, stats)
    table.update(
        {
            "kind": "inspect",
            "command": command_line(),
            "model": model_spec,
            "architecture": type(model).__name__,
            "calibration": cal_info,
            "versions": versions(),
        }
    )
    return table
