"""Model cards: every output folder gets a README.md saying how the model was made.

What a card says is its command's: the ``card`` hook of the record's kind (each command's
class, :mod:`lamina.workflows`), which :func:`write_card` calls. This module keeps the pieces
cards share: front matter, provenance, the usage snippet, the scores table, LayerDrop lines.
"""

from __future__ import annotations

from pathlib import Path

from lamina.eval.metrics import is_fraction
from lamina.io import final_name
from lamina.results import record_kind


def write_card(folder: str | Path, record: dict, **context) -> Path | None:
    """Write ``folder/README.md`` for ``record``: the card its kind's ``card`` hook makes
    (``context``: what the run knows besides the record, passed on; ``name`` defaults to the
    name the folder will have, that of the output folder for a temporary folder of
    :func:`lamina.io.atomic_output_dir`). None when the kind has no card."""
    context.setdefault("name", final_name(folder))
    card = record_kind(record).card(Path(folder), record, **context)
    if card is None or isinstance(card, Path):
        return card
    return write_lines(folder, card)


def fmt_params(n: int) -> str:
    return f"{n:,} ({n / 1e6:.1f}M)"


def front_matter(tags: list[str]) -> list[str]:
    return ["---", "library_name: transformers", "tags:", *[f"- {t}" for t in tags], "---", ""]


def provenance(record: dict) -> list[str]:
    v = record["versions"]
    return [
        f"- **Command:** `{record['command']}`",
        f"- **Versions:** lamina {v['lamina']}, transformers {v['transformers']}, torch {v['torch']}",
        "",
    ]


def usage(name: str, auto_class: str) -> list[str]:
    return [
        "## Use",
        "",
        "```python",
        f"from transformers import {auto_class}, AutoTokenizer",
        f'model = {auto_class}.from_pretrained("{name}")',
        f'tokenizer = AutoTokenizer.from_pretrained("{name}")',
        "```",
        "",
    ]


def write_lines(folder, lines) -> Path:
    path = Path(folder) / "README.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def layerdrop_lines(cfg: dict, who: str = "") -> list[str]:
    from lamina.models.layerdrop import describe, is_active

    rates = cfg.get("layerdrop")
    if not is_active(rates):
        return []
    return [
        f"- **LayerDrop{who}:** {describe(rates)} while training (Fan et al. 2019); none at inference. "
        "Layers can be dropped later (e.g. `lamina prune --strategy alternate`) with less loss."
    ]


def scores_table(record: dict) -> list[str]:
    metrics = record.get("metrics") or {}
    if not metrics:
        return ["No scores recorded.", ""]
    split = "dev"
    lines = [f"| metric ({split}) | value |", "|---|---:|"]
    lines += [f"| {k} | {100 * v:.2f} |" if is_fraction(k, v) else f"| {k} | {v:.4f} |" for k, v in metrics.items()]
    return [*lines, ""]


_FEEDS = {"input_ids": "enc.ids", "attention_mask": "enc.attention_mask", "token_type_ids": "enc.type_ids"}


def onnx_usage(name: str, inputs: list[str], max_length: int = 128) -> list[str]:
    """Five lines that run an ONNX export with onnxruntime and tokenizers alone (no torch, no transformers)."""
    feeds = ", ".join(f'"{n}": np.array([{_FEEDS.get(n, "enc.ids")}])' for n in inputs)
    return [
        "import json, numpy as np, onnxruntime as ort, tokenizers",
        f'tok = tokenizers.Tokenizer.from_file("{name}/tokenizer.json"); tok.enable_truncation({max_length})',
        f'session, labels = ort.InferenceSession("{name}/model.onnx"), '
        f'json.load(open("{name}/config.json"))["id2label"]',
        'enc = tok.encode("NLP is fun.")',
        f"print(labels[str(session.run(None, {{{feeds}}})[0].argmax())])",
    ]
