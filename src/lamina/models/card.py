"""Model cards: every output folder gets a README.md saying how the model was made."""

from __future__ import annotations

from pathlib import Path


def _fmt_params(n: int) -> str:
    return f"{n:,} ({n / 1e6:.1f}M)"


def write_prune_card(folder: str | Path, info: dict, name: str | None = None) -> Path:
    """README.md for a pruned model. ``info`` is the prune results dict; ``name`` the final folder name."""
    name = name or Path(folder).name
    src = info["source_model"]
    keep = info["kept_layers"]
    before, after = info["parameters_before"], info["parameters_after"]
    lines = [
        "---",
        "library_name: transformers",
        "tags:",
        "- lamina",
        "- layer-pruning",
        f"base_model_relation: {'pruned' if len(keep) < info['layers_before'] else 'finetune'}",
        "---",
        "",
        f"# {name}",
        "",
        f"A layer-pruned copy of `{src}`, made with lamina "
        f"(`lamina prune`). No training was done after pruning.",
        "",
        "## How it was made",
        "",
        f"- **Source model:** `{src}` ({info['architecture']}, {info['layers_before']} layers)",
        f"- **Strategy:** `{info['strategy']}`" + (f" (options: {info['strategy_options']})" if info.get("strategy_options") else ""),
        f"- **Kept layers** (0-based indices into the source): {keep}",
        f"- **Dropped layers:** {info['dropped_layers']}",
        f"- **Layers:** {info['layers_before']} → {len(keep)}",
        f"- **Parameters:** {_fmt_params(before)} → {_fmt_params(after)} ({100 * (1 - after / before):.1f}% fewer)",
    ]
    if info.get("calibration"):
        cal = info["calibration"]
        lines.append(
            f"- **Calibration data:** `{cal['source']}`, {cal['samples']} examples, "
            f"{cal['tokens']:,} tokens (max length {cal['max_length']})"
        )
    if info.get("speed"):
        s = info["speed"]
        lines.append(
            f"- **CPU throughput** (batch {s['batch_size']} × {s['seq_len']} tokens, {s['threads']} threads, "
            f"median of {s['repeats']}): {s['before_samples_per_second']:.1f} → "
            f"{s['after_samples_per_second']:.1f} samples/s ({s['speedup']:.2f}x)"
        )
    lines += [
        f"- **Command:** `{info['command']}`",
        f"- **lamina version:** {info['lamina_version']}, transformers {info['transformers_version']}",
        "",
        "## Scores",
        "",
        "Not evaluated yet: pruned models usually need fine-tuning or distillation to recover quality.",
        "",
        "## Use",
        "",
        "```python",
        "from transformers import AutoModel, AutoTokenizer",
        f'model = AutoModel.from_pretrained("{name}")',
        f'tokenizer = AutoTokenizer.from_pretrained("{name}")',
        "```",
        "",
    ]
    path = Path(folder) / "README.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path
