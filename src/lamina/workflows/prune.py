"""``lamina prune``: remove transformer layers chosen by a strategy; save a plain HF folder."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic import field_validator, model_validator

from lamina.config import OptionMap, Settings, parse_numbers, setting
from lamina.results import RecordPart
from lamina.training.settings import DEFAULT_MODEL, DataSettings, OutputSettings
from lamina.workflows import RunContext, Workflow, register_workflow


class CalibrationSettings(DataSettings):
    """Text that data-driven strategies and ``lamina inspect`` measure the layers on."""

    calib_data: str | None = setting(
        None,
        "Calibration text: a .txt/.tsv/.csv/.jsonl file, a GLUE task name (sst2, mrpc, ...; read from "
        "--data-dir or LAMINA_DATA_DIR), or bbc-news (embedded; the default).",
    )
    calib_samples: int = setting(256, "Examples sampled (seed 0) for calibration.", ge=1)
    max_length: int = setting(128, "Tokens per calibration example.", ge=2)

    def calibration(self, model, tokenizer, token: str | None = None) -> tuple:
        """(LayerStats, what was measured on) for ``model``."""
        from lamina.analysis import stats_from_texts
        from lamina.data.calibration import load_calibration_texts
        from lamina.data.encode import max_positions

        texts = load_calibration_texts(self.calib_data, data_dir=self.data_dir, samples=self.calib_samples)
        stats = stats_from_texts(model, tokenizer, texts, max_length=self.max_length, token=token)
        info = {
            "source": self.calib_data or "bbc-news",
            "samples": len(texts),
            "tokens": stats.num_tokens,
            "max_length": min(self.max_length, max_positions(model.config)),
            "token": stats.token,
        }
        return stats, info

    def calibration_batches(self, tokenizer, model_name: str) -> tuple[list[dict], dict]:
        """(tokenized calibration batches, what they are) for an importance criterion."""
        from lamina.data.calibration import calibration_batches, load_calibration_texts
        from lamina.errors import LaminaError

        if tokenizer is None:
            raise LaminaError(
                f"'{model_name}' has no tokenizer: this importance criterion reads calibration text "
                "(or use --importance magnitude)"
            )
        texts = load_calibration_texts(self.calib_data, data_dir=self.data_dir, samples=self.calib_samples)
        batches = calibration_batches(tokenizer, texts, max_length=self.max_length)
        return batches, {"source": self.calib_data or "bbc-news", "samples": len(texts), "max_length": self.max_length}


class SpeedSettings(Settings):
    speed: bool = setting(True, "Measure CPU throughput (and latency).")
    speed_seq_len: int = setting(128, "Sequence length of the speed measurement.", ge=2)


class ModelSettings(Settings):
    model: str = setting(
        DEFAULT_MODEL, "Local folder, Hugging Face hub id, or bundled alias (minilm-l6, mpnet-base, smollm2-135m)."
    )


class PruneConfig(ModelSettings, CalibrationSettings, SpeedSettings, OutputSettings):
    strategy: str = setting("top", "Which layers go (see `lamina strategies`).", flag="-s")
    drop: int | None = setting(None, "Number of layers to remove.")
    keep: int | None = setting(None, "Number of layers to leave (an encoder-decoder's encoder layers).")
    keep_decoder: int | None = setting(
        None,
        "Encoder-decoders (BART, Marian, T5): decoder layers to leave, chosen by the same (data-free) strategy.",
        ge=1,
    )
    keep_layers: list[int] | None = setting(
        None, "Exact 0-based indices of the layers to keep, e.g. 0,2,4 (implies --strategy explicit)."
    )
    strategy_options: OptionMap = setting(
        {},
        "The strategy's own options, NAME=VALUE (e.g. parity=even for alternate; repeatable).",
        flag="--strategy-option",
    )
    speed_batch_size: int = setting(8, "Batch size of the speed measurement (before and after).", ge=1)
    ffn: int | None = setting(None, "Width: FFN (MLP) neurons to keep in every layer.", ge=1)
    heads: int | None = setting(
        None,
        "Width: attention heads to keep in every layer (grouped-query attention: "
        "key/value groups go whole with their query heads).",
        ge=1,
    )
    hidden: int | None = setting(None, "Width: hidden (residual) channels to keep.", ge=1)
    importance: str = setting(
        "activation",
        "Width: how units are ranked (see `lamina importance`): activation "
        "(forward passes on the calibration text, Minitron) or magnitude (weights only).",
    )
    # --layers was the indices to keep here but a layer count in pretrain and report's steps by depth
    renamed = {"layers": "keep_layers"}

    @field_validator("drop", "keep")
    @classmethod
    def _count(cls, value, info):
        least = 0 if info.field_name == "drop" else 1
        if value is not None and value < least:
            raise ValueError(f"cannot {info.field_name} {value} layers: the count must be {least} or more")
        return value

    @field_validator("keep_layers", mode="before")
    @classmethod
    def _parse_layers(cls, value):
        return parse_numbers(value, "--keep-layers", int)

    @field_validator("importance")
    @classmethod
    def _known_importance(cls, value):
        from lamina.importance import IMPORTANCE

        IMPORTANCE.get(value)  # an unknown criterion fails here
        return value

    @property
    def widths(self) -> dict:
        return {k: v for k, v in (("ffn", self.ffn), ("heads", self.heads), ("hidden", self.hidden)) if v is not None}

    @property
    def prunes_depth(self) -> bool:
        return any(v is not None for v in (self.drop, self.keep, self.keep_layers, self.keep_decoder))

    @model_validator(mode="after")
    def _check(self):
        if not self.prunes_depth and not self.widths:
            raise ValueError(
                "say what goes: --drop K, --keep N or --keep-layers 0,2,4 (depth) and/or --ffn N, "
                "--heads N, --hidden N (width)"
            )
        if self.keep_layers is not None:
            if "strategy" in self.model_fields_set and self.strategy != "explicit":
                raise ValueError(
                    f"--keep-layers lists the layers to keep and goes with --strategy explicit, not '{self.strategy}'"
                )
            if self.drop is not None or self.keep is not None:
                raise ValueError("--keep-layers cannot be combined with --drop or --keep")
            self.strategy = "explicit"
        return self

    def strategy_settings(self) -> dict:
        # the explicit strategy's own option is still named layers
        return {**self.strategy_options, **({"layers": self.keep_layers} if self.keep_layers is not None else {})}


class Calibration(RecordPart):
    """The text a data-driven strategy (or width criterion) measured the model on."""

    source: str
    samples: int
    tokens: int | None = None
    max_length: int | None = None
    token: str | None = None  # the position whose states were read (None: every token)


class PruneSection(RecordPart):
    """``record["prune"]``: what was dropped from which model."""

    source_path: str
    architecture: str
    model_type: str
    kept_layers: list[int]
    dropped_layers: list[int]
    decoder_layers_before: int | None = None  # (--keep-decoder)
    kept_decoder_layers: list[int] | None = None
    calibration: Calibration | None = None
    layer_scores: dict[str, list[float]] | None = None


class PruneTopLevel(RecordPart):
    """A pruning's key beside its section (kept at the top level, where records have it)."""

    width: dict[str, Any] | None = None  # --ffn/--heads/--hidden: lamina.importance.narrow's info + calibration


@register_workflow("prune")
class Prune(Workflow):
    """Remove transformer layers from MODEL and save a plain Hugging Face model folder."""

    Config = PruneConfig
    Section = PruneSection
    TopLevel = PruneTopLevel
    arguments = ("model",)

    @staticmethod
    def api(config, settings: dict):
        """``lamina.prune``: a config or keywords as every command, or a model object first
        (``lamina.prune(model, tokenizer=tok, keep=3)``): the pruned model comes back in
        ``Result.model``, and a folder is written only when ``output=`` is given."""
        from lamina.config import configure
        from lamina.results import Result

        if config is None or isinstance(config, PruneConfig):
            return NotImplemented  # the common path: a config and/or keywords
        if not hasattr(config, "config") or not hasattr(config, "state_dict"):
            raise TypeError(f"lamina.prune() takes a PruneConfig or a transformers model, not {type(config).__name__}")
        tokenizer = settings.pop("tokenizer", None)
        output = settings.get("output")
        cfg = configure(
            PruneConfig, None, {"model": IN_MEMORY, **settings, "output": output or IN_MEMORY}, caller="lamina.prune()"
        )
        record, pruned = prune(cfg, loaded=(config, tokenizer, IN_MEMORY), write=output is not None)
        return Result(record=record, config=cfg, model=pruned, output=Path(output) if output else None)

    def run(self, cfg: PruneConfig, ctx: RunContext) -> dict:
        return run_prune(cfg)

    def show(self, record, cfg, echo) -> None:
        from lamina.display import Table, console, mb

        output, sizes, p = cfg.output, record["sizes"], record["prune"]
        t = Table(title=f"{record['model']} → {output}  (strategy: {record['config']['strategy']})")
        t.add_column("")
        t.add_column("before", justify="right")
        t.add_column("after", justify="right")
        t.add_column("ratio", justify="right")
        t.add_row("layers", str(sizes["layers_before"]), str(sizes["layers"]), "")
        pb, pa = sizes["parameters_before"], sizes["parameters"]
        t.add_row("parameters", f"{pb:,}", f"{pa:,}", f"{pa / pb:.2f}x")
        sb, sa = sizes.get("bytes_before"), sizes.get("bytes")
        t.add_row("weights on disk", mb(sb), mb(sa), f"{sa / sb:.2f}x" if sb else "")
        if record.get("speeds"):
            s = record["speeds"]
            t.add_row(
                f"samples/s (CPU, {s['batch_size']}×{s['seq_len']})",
                f"{s['before_samples_per_second']:.1f}",
                f"{s['samples_per_second']:.1f}",
                f"{s['speedup']:.2f}x",
            )
        console.print(t)
        console.print(f"kept layers {p['kept_layers']}, dropped {p['dropped_layers']}")
        console.print(f"saved to {output} (model card: {output}/README.md)")

    def report_row(self, record: dict) -> dict:
        # its speeds compare the model before and after pruning: a speed-up, not a throughput of its own
        return {"throughput": None, "speed_key": None}

    def lineage_summary(self, record: dict) -> dict:
        speeds = record.get("speeds") or {}
        return {
            "strategy": (record.get("config") or {}).get("strategy"),
            "layers_before": (record.get("sizes") or {}).get("layers_before"),
            "kept_layers": (record.get("prune") or {}).get("kept_layers"),
            "speedup": speeds.get("speedup"),
            "speedup_range": speeds.get("speedup_range"),
        }

    def card(self, folder, record: dict, *, name: str, **context) -> list[str]:
        """The model card of a pruned model from its results record; ``name`` is the final folder name."""
        from lamina.models.card import fmt_params, front_matter, provenance, usage

        p, sizes = record["prune"], record["sizes"]
        keep = p["kept_layers"]
        before, after = sizes["parameters_before"], sizes["parameters"]
        width = record.get("width")
        not_options = ("strategy", "drop", "keep", "keep_layers", "ffn", "heads", "hidden", "importance")
        config = PruneConfig.upgrade_renamed(record["config"])  # a record made before --layers was renamed
        options = {k: v for k, v in config.items() if k not in not_options}
        what = (
            "A layer- and width-pruned"
            if width and p["dropped_layers"]
            else "A width-pruned"
            if width
            else "A layer-pruned"
        )
        lines = [
            *front_matter(["lamina", "layer-pruning", *(["width-pruning"] if width else [])]),
            f"# {name}",
            "",
            f"{what} copy of `{record['model']}`, made with lamina (`lamina prune`). "
            "No training was done after pruning.",
            "",
            "## How it was made",
            "",
            f"- **Source model:** `{record['model']}` ({p['architecture']}, {sizes['layers_before']} layers)",
            f"- **Strategy:** `{record['config']['strategy']}`" + (f" (options: {options})" if options else ""),
            f"- **Kept layers** (0-based indices into the source): {keep}",
            f"- **Dropped layers:** {p['dropped_layers']}",
            f"- **Layers:** {sizes['layers_before']} → {len(keep)}",
            f"- **Parameters:** {fmt_params(before)} → {fmt_params(after)} ({100 * (1 - after / before):.1f}% fewer)",
        ]
        if width:
            b, a = width["before"], width["after"]
            lines.append(
                f"- **Width** (every layer): FFN {b['ffn']} → {a['ffn']}, heads {b['heads']} → {a['heads']}"
                + (f" (key/value heads {b['kv_heads']} → {a['kv_heads']})" if b["kv_heads"] != b["heads"] else "")
                + f", hidden {b['hidden']} → {a['hidden']}; units ranked by `{width['importance']}` importance"
                + (
                    f" on `{width['calibration']['source']}` ({width['calibration']['samples']} examples)"
                    if width.get("calibration")
                    else ""
                )
            )
        if p.get("calibration"):
            cal = p["calibration"]
            lines.append(
                f"- **Calibration data:** `{cal['source']}`, {cal['samples']} examples, "
                f"{cal['tokens']:,} tokens (max length {cal['max_length']})"
            )
        if record.get("speeds"):
            s = record["speeds"]
            lines.append(
                f"- **CPU throughput** (batch {s['batch_size']} × {s['seq_len']} tokens, {s['threads']} threads, "
                f"median of {s['repeats']}): {s['before_samples_per_second']:.1f} → "
                f"{s['samples_per_second']:.1f} samples/s ({s['speedup']:.2f}x)"
            )
        lines += [
            *provenance(record),
            "## Scores",
            "",
            "Not evaluated yet: pruned models usually need fine-tuning or distillation to recover quality.",
            "",
            *usage(name, "AutoModel"),
        ]
        return lines


IN_MEMORY = "(in memory)"  # the model and output of a Python call that handed over a model object


def run_prune(cfg: PruneConfig) -> dict:
    return prune(cfg)[0]


def prune(cfg: PruneConfig, *, loaded: tuple | None = None, write: bool = True) -> tuple[dict, object]:
    """(the record, the pruned model). ``loaded``: (model, tokenizer or None, source) already in memory
    (the Python API's ``lamina.prune(model, ...)``); ``write``: save the folder ``cfg.output``."""
    from lamina.eval.timing import compare_throughput, parameter_count, weights_size_bytes
    from lamina.io import atomic_output_dir, check_output_dir
    from lamina.models.adapters import get_adapter
    from lamina.models.card import write_card
    from lamina.models.loading import load_model, resolve_model
    from lamina.models.surgery import drop_layers
    from lamina.models.width import model_shape
    from lamina.results import RESULTS_FILE, finish_record, new_record, write_record
    from lamina.strategies import get_strategy, select_decoder_layers, select_layers

    if write:
        check_output_dir(cfg.output, overwrite=cfg.overwrite)  # fail before any heavy work
    options = cfg.strategy_settings()
    strategy = get_strategy(cfg.strategy, **options)
    if loaded is None:
        resolve_model(cfg.model)  # a missing folder fails here too, before the record loads torch for its versions
    record = new_record(
        "prune",
        model=cfg.model,
        config={
            "strategy": strategy.name,
            "drop": cfg.drop,
            "keep": cfg.keep,
            **options,
            **cfg.widths,
            **({"importance": cfg.importance} if cfg.widths else {}),
        },
    )
    model, tokenizer, source = loaded or load_model(cfg.model)
    if cfg.widths:
        from lamina.models.width import check_width_request

        check_width_request(model.config, **cfg.widths)  # before any measurement
    adapter = get_adapter(model)
    n = adapter.num_layers(model.config)
    depth = cfg.prunes_depth
    stats, cal_info = (
        cfg.calibration(model, tokenizer, token=strategy.calibration_token)
        if depth and strategy.needs_calibration
        else (None, None)
    )
    only_decoder = cfg.keep_decoder is not None and cfg.drop is None and cfg.keep is None
    keep = (
        list(range(n))
        if only_decoder or not depth
        else select_layers(strategy, n, drop=cfg.drop, keep=cfg.keep, stats=stats)
    )
    pruned = drop_layers(model, keep)
    decoder = None
    if cfg.keep_decoder is not None:
        decoder = select_decoder_layers(model, strategy, cfg.keep_decoder)
        pruned = drop_layers(pruned, decoder, inplace=True, stack="decoder")
    if cfg.widths:
        pruned, record["width"] = _prune_width(cfg, pruned, tokenizer)
    record["sizes"] = {
        "layers_before": n,
        "layers": len(keep),
        "parameters_before": parameter_count(model),
        "parameters": parameter_count(pruned),
        "shape": model_shape(pruned),
        "bytes_before": weights_size_bytes(source) if loaded is None and Path(source).is_dir() else None,
    }
    record["prune"] = {
        "source_path": source,
        "architecture": type(model).__name__,
        "model_type": model.config.model_type,
        "kept_layers": keep,
        "dropped_layers": [i for i in range(n) if i not in keep],
        **(
            {}
            if decoder is None
            else {
                "decoder_layers_before": adapter.stack("decoder").num_layers(model.config),
                "kept_decoder_layers": decoder,
            }
        ),
        "calibration": cal_info,
        "layer_scores": None
        if stats is None
        else {
            "contribution_cosine": [round(float(x), 6) for x in stats.contribution()],
            "angular_distance": [round(float(x), 6) for x in stats.block_angular(1)],
        },
    }
    if cfg.speed:
        from lamina.data.encode import max_positions

        kw = {"batch_size": cfg.speed_batch_size, "seq_len": min(cfg.speed_seq_len, max_positions(model.config))}
        timed = compare_throughput({"before": model, "after": pruned}, rounds=3, repeats=3, **kw)
        before, after = timed["before"], timed["after"]
        ratios = [b / a for b, a in zip(before["seconds_per_round"], after["seconds_per_round"])]
        record["speeds"] = {
            "backend": before["backend"],
            "speed_key": after["speed_key"],
            "speed_key_before": before["speed_key"],
            "shared": bool(after.get("shared")),  # timed earlier in this process for a model of the same shape
            "batch_size": kw["batch_size"],
            "seq_len": kw["seq_len"],
            "threads": before["threads"],
            "repeats": f"{before['rounds']} interleaved rounds x {before['repeats']} passes",
            "before_samples_per_second": before["samples_per_second"],
            "samples_per_second": after["samples_per_second"],
            "speedup": after["samples_per_second"] / before["samples_per_second"],
            "speedup_range": [min(ratios), max(ratios)],  # per interleaved round
        }
    if not write:
        return finish_record(record), pruned
    with atomic_output_dir(cfg.output, overwrite=cfg.overwrite) as tmp:
        pruned.save_pretrained(tmp)
        if tokenizer is not None:
            tokenizer.save_pretrained(tmp)
        record["sizes"]["bytes"] = weights_size_bytes(tmp)
        finish_record(record)
        write_card(tmp, record, name=Path(cfg.output).name)
        write_record(Path(tmp) / RESULTS_FILE, record)
    return record, pruned


def _prune_width(cfg: PruneConfig, model, tokenizer) -> tuple[object, dict]:
    """The (depth-pruned) ``model`` narrowed to ``cfg.widths`` by the importance criterion, and what was done."""
    from lamina.importance import get_importance, narrow

    batches, calibration = [], None
    if get_importance(cfg.importance).needs_calibration:
        batches, calibration = cfg.calibration_batches(tokenizer, cfg.model)
    pruned, info = narrow(model, cfg.widths, importance=cfg.importance, batches=batches)
    return pruned, {**info, "calibration": calibration}
