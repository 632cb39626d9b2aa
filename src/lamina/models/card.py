"""Model cards: every output folder gets a README.md saying how the model was made."""

from __future__ import annotations

from pathlib import Path

from lamina.eval.metrics import is_fraction


def _fmt_params(n: int) -> str:
    return f"{n:,} ({n / 1e6:.1f}M)"


def write_prune_card(folder: str | Path, record: dict, name: str | None = None) -> Path:
    """README.md for a pruned model from its results record; ``name`` is the final folder name."""
    name = name or Path(folder).name
    p, sizes = record["prune"], record["sizes"]
    keep = p["kept_layers"]
    before, after = sizes["parameters_before"], sizes["parameters"]
    options = {k: v for k, v in record["config"].items() if k not in ("strategy", "drop", "keep", "layers")}
    lines = [
        *_front_matter(["lamina", "layer-pruning"]),
        f"# {name}",
        "",
        f"A layer-pruned copy of `{record['model']}`, made with lamina (`lamina prune`). "
        "No training was done after pruning.",
        "",
        "## How it was made",
        "",
        f"- **Source model:** `{record['model']}` ({p['architecture']}, {sizes['layers_before']} layers)",
        f"- **Strategy:** `{record['config']['strategy']}`" + (f" (options: {options})" if options else ""),
        f"- **Kept layers** (0-based indices into the source): {keep}",
        f"- **Dropped layers:** {p['dropped_layers']}",
        f"- **Layers:** {sizes['layers_before']} → {len(keep)}",
        f"- **Parameters:** {_fmt_params(before)} → {_fmt_params(after)} ({100 * (1 - after / before):.1f}% fewer)",
    ]
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
        *_provenance(record),
        "## Scores",
        "",
        "Not evaluated yet: pruned models usually need fine-tuning or distillation to recover quality.",
        "",
        *_usage(name, "AutoModel"),
    ]
    return _write(folder, lines)


def _front_matter(tags: list[str]) -> list[str]:
    return ["---", "library_name: transformers", "tags:", *[f"- {t}" for t in tags], "---", ""]


def _provenance(record: dict) -> list[str]:
    v = record["versions"]
    return [
        f"- **Command:** `{record['command']}`",
        f"- **Versions:** lamina {v['lamina']}, transformers {v['transformers']}, torch {v['torch']}",
        "",
    ]


def _usage(name: str, auto_class: str) -> list[str]:
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


def _write(folder, lines) -> Path:
    path = Path(folder) / "README.md"
    path.write_text("\n".join(lines), encoding="utf-8")
    return path


def _layerdrop(cfg: dict, who: str = "") -> list[str]:
    from lamina.models.layerdrop import describe, is_active

    rates = cfg.get("layerdrop")
    if not is_active(rates):
        return []
    return [f"- **LayerDrop{who}:** {describe(rates)} while training (Fan et al. 2019); none at inference. "
            "Layers can be dropped later (e.g. `lamina prune --strategy alternate`) with less loss."]


def _scores(record: dict) -> list[str]:
    metrics = record.get("metrics") or {}
    if not metrics:
        return ["No scores recorded.", ""]
    split = "dev"
    lines = [f"| metric ({split}) | value |", "|---|---:|"]
    lines += [f"| {k} | {100 * v:.2f} |" if is_fraction(k, v) else f"| {k} | {v:.4f} |" for k, v in metrics.items()]
    return [*lines, ""]


def write_finetune_card(folder: str | Path, record: dict, task, name: str | None = None,
                        auto_class: str = "AutoModelForSequenceClassification") -> Path:
    """README.md for a fine-tuned model: source, task, training settings and dev scores."""
    name = name or Path(folder).name
    cfg, tr, sizes = record["config"], record["training"], record["sizes"]
    lines = [
        *_front_matter(["lamina", "text-classification", f"task:{task.name}"]),
        f"# {name}",
        "",
        f"`{record['model']}` fine-tuned on **{task.name}** ({task.description}) with lamina (`lamina finetune`).",
        "",
        "## How it was made",
        "",
        f"- **Source model:** `{record['model']}` ({sizes['layers']} layers, {_fmt_params(sizes['parameters'])} parameters)",
        f"- **Task:** `{task.name}`; labels: {list(task.labels) if task.labels else 'regression (one score)'}",
        f"- **Training examples:** {tr['train_examples']:,}" + (" (subset)" if cfg.get("max_train_samples") else ""),
        f"- **Evaluation examples:** {tr['eval_examples']}",
        f"- **Settings:** {cfg['epochs']} epochs, lr {cfg['lr']}, batch {cfg['batch_size']}, max length "
        f"{cfg['max_length']}, warm-up {cfg['warmup_ratio']}, weight decay {cfg['weight_decay']}, seed {cfg['seed']}",
        *_layerdrop(cfg),
        f"- **Steps:** {tr['global_steps']}; best checkpoint: {tr['best_checkpoint']} (by {task.main_metric})",
        f"- **Training loss:** first logged {tr['train_loss_first']:.4f}, last logged {tr['train_loss_last']:.4f}"
        if tr.get("train_loss_first") is not None
        else "- **Training loss:** not logged",
        f"- **Wall time:** {record.get('wall_seconds', 0):.0f} s",
        *_provenance(record),
        "## Scores",
        "",
        *_scores(record),
        *_usage(name, auto_class),
    ]
    return _write(folder, lines)


def write_distill_card(folder: str | Path, record: dict, task, name: str | None = None,
                       auto_class: str = "AutoModelForSequenceClassification") -> Path:
    """README.md for a distilled student: teachers, initialisation, losses and scores."""
    name = name or Path(folder).name
    cfg, d, tr, sizes = record["config"], record["distill"], record["training"], record["sizes"]
    teachers = ", ".join(f"`{t['name']}` ({t['layers']} layers, weight {t['weight']})" for t in d["teachers"])
    maps = "; ".join(f"{t['name']}: {t['layer_map']}" for t in d["teachers"])
    losses = " + ".join(f"{w:g}·{n}" for n, w in d["losses"].items())
    lines = [
        *_front_matter(["lamina", "knowledge-distillation", f"task:{task.name}"]),
        f"# {name}",
        "",
        f"A {sizes['layers']}-layer student distilled on **{task.name}** ({task.description}) with lamina "
        "(`lamina distill`).",
        "",
        "## How it was made",
        "",
        f"- **Teacher(s):** {teachers}",
        f"- **Method:** `{d.get('method', 'standard')}`"
        + (f" ({', '.join(f'{k}={v}' for k, v in d['method_options'].items())})" if d.get("method_options") else ""),
        f"- **Student initialisation:** {d['student_init']} ({sizes['layers']} layers, "
        f"{_fmt_params(sizes['parameters'])} parameters)",
        f"- **Loss:** {losses}; temperature {d['temperature']}; layer map ({cfg['layer_map']}) {maps}",
        f"- **Teacher-output cache:** {d['cache']}",
        f"- **Token noise:** {d['noise'] or 'none'}; student pre-fine-tuning: {d['prefinetune_epochs']} epochs",
        f"- **Training examples:** {tr['train_examples']:,}" + (" (subset)" if cfg.get("max_train_samples") else ""),
        f"- **Settings:** {cfg['epochs']} epochs, lr {cfg['lr']}, batch {cfg['batch_size']}, max length "
        f"{cfg['max_length']}, seed {cfg['seed']}; {tr['global_steps']} steps, best checkpoint {tr['best_checkpoint']}",
        *_layerdrop(cfg, " (student)"),
        f"- **Wall time:** {record.get('wall_seconds', 0):.0f} s",
        *_provenance(record),
        "## Scores",
        "",
        *_scores(record),
        *_usage(name, auto_class),
    ]
    return _write(folder, lines)


def write_pretrain_card(folder: str | Path, record: dict, name: str | None = None) -> Path:
    """README.md for a masked-LM trained from scratch by ``lamina pretrain``."""
    name = name or Path(folder).name
    cfg, tr, sizes, m = record["config"], record["training"], record["sizes"], record["metrics"]
    p = record["pretrain"]
    lines = [
        *_front_matter(["lamina", "fill-mask", "masked-lm"]),
        f"# {name}",
        "",
        f"A {sizes['layers']}-layer {p['model_type']} masked language model trained from scratch with lamina "
        "(`lamina pretrain`).",
        "",
        "## How it was made",
        "",
        f"- **Architecture:** {p['model_type']}, {sizes['layers']} layers, hidden {p['hidden']}, {p['heads']} heads, "
        f"intermediate {p['intermediate']}; {_fmt_params(sizes['parameters'])} parameters",
        f"- **Tokenizer:** from `{cfg['tokenizer']}` (vocabulary {p['vocab_size']:,})",
        f"- **Training corpus:** {', '.join(f'`{c}`' for c in cfg['corpus'])}: {p['train_blocks']:,} blocks of "
        f"{p['block_size']} tokens",
        f"- **Evaluation:** {p['eval_source']}: {p['eval_blocks']:,} blocks, masked once (seed {p['eval_mask_seed']})",
        f"- **Objective:** masked LM, {cfg['mlm_probability']:.0%} of tokens (80% [MASK], 10% random, 10% kept)",
        f"- **Settings:** {cfg['epochs']} epochs, lr {cfg['lr']}, batch {cfg['batch_size']}, warm-up "
        f"{cfg['warmup_ratio']}, seed {cfg['seed']}; {tr['global_steps']} steps",
        *_layerdrop(cfg),
        f"- **Wall time:** {record.get('wall_seconds', 0):.0f} s",
        *_provenance(record),
        "## Scores",
        "",
        "| metric | value |",
        "|---|---:|",
        f"| training loss (last logged) | {tr['train_loss_last']:.4f} |" if tr.get("train_loss_last") is not None else "",
        f"| evaluation MLM loss | {m['loss']:.4f} |",
        f"| evaluation perplexity | {m['perplexity']:.1f} |",
        "",
        *_usage(name, "AutoModelForMaskedLM"),
    ]
    return _write(folder, lines)


def write_lottery_card(folder: str | Path, record: dict, task, name: str | None = None,
                       auto_class: str = "AutoModelForSequenceClassification") -> Path:
    """README.md for a lottery ticket: how it was found, every round, global and per-matrix sparsity."""
    name = name or Path(folder).name
    cfg, lt, sizes = record["config"], record["lottery"], record["sizes"]
    how = {
        "imp": f"iterative magnitude pruning ({lt['threshold']} threshold, {lt['schedule']} schedule: "
               f"{lt['schedule_meaning']}, rate {lt['prune_rate']}), rewound to {lt['rewind']}"
               + (f" (step {lt['rewind_step']})" if lt["rewind"] == "step" else "")
               + ("; the head rewound too" if lt["rewind_head"] else "; the head keeps its trained values"),
        "oneshot": f"one-shot magnitude pruning of the pretrained weights ({lt['threshold']} threshold), then fine-tuned",
        "random": "a random mask at the target sparsity, then fine-tuned",
    }[lt["mode"]]
    lines = [
        *_front_matter(["lamina", "lottery-ticket", "sparse", f"task:{task.name}"]),
        f"# {name}",
        "",
        f"A {100 * lt['global_sparsity']:.1f}%-sparse subnetwork of `{record['model']}` trained on **{task.name}** "
        f"({task.description}) with lamina (`lamina lottery --mode {lt['mode']}`). The zeros are stored in place "
        "in the weights (dense tensors): a vanilla `from_pretrained` keeps them; `mask.safetensors` holds the mask.",
        "",
        "## How it was made",
        "",
        f"- **Method:** {how}",
        f"- **Pruned:** {lt['pruned']}",
        f"- **Prunable weights:** {lt['prunable_weights']:,}; non-zero after pruning: {sizes['nonzero_prunable']:,} "
        f"(global sparsity {100 * lt['global_sparsity']:.2f}%); all parameters: {_fmt_params(sizes['parameters'])}",
        f"- **Settings per round:** {cfg['epochs']} epochs, lr {cfg['lr']}, batch {cfg['batch_size']}, max length "
        f"{cfg['max_length']}, seed {cfg['seed']}",
        f"- **Wall time:** {record.get('wall_seconds', 0):.0f} s",
        *_provenance(record),
        "## Rounds",
        "",
        "| round | sparsity | " + lt["rounds"][0]["main_metric"] + " (dev) | steps |",
        "|---:|---:|---:|---:|",
        *[f"| {r['round']} | {100 * r['sparsity']:.1f}% | {r['score']:.4f} | {r['steps']} |" for r in lt["rounds"]],
        "",
        "## Sparsity per matrix",
        "",
        "| matrix | sparsity |",
        "|---|---:|",
        *[f"| `{k}` | {100 * v:.1f}% |" for k, v in lt["per_matrix"].items()],
        "",
        "## Scores",
        "",
        *_scores(record),
        *_usage(name, auto_class),
    ]
    return _write(folder, lines)


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
        f'print(labels[str(session.run(None, {{{feeds}}})[0].argmax())])',
    ]


def write_export_card(folder: str | Path, record: dict, name: str | None = None) -> Path:
    """README.md for an exported model (``lamina export``): format, parity, sizes, scores, how to run it."""
    name = name or Path(folder).name
    ex, sizes = record["export"], record["sizes"]
    from lamina.models.formats import get_format

    fmt, p = ex["format"], ex["parity"]
    form = get_format(fmt)
    lines = [
        "---", "tags:", "- lamina", f"- {fmt}", "---", "",
        f"# {name}",
        "",
        f"`{record['model']}` exported for deployment by lamina (`lamina export --format {fmt}`): "
        + form.card.format(opset=ex.get("opset")) + ".",
        "",
        "## Checks at export",
        "",
        f"- **Parity on real text** ({p['texts']} texts from `{p['source']}`, {p['rows_compared']} rows incl. a batch "
        f"of 1 and one of 7): max |logit difference| vs PyTorch fp32 {p['max_abs_diff']:.2e}, argmax agreement "
        f"{100 * p['argmax_agreement']:.2f}%",
        f"- **Size on disk:** {sizes['bytes'] / 1e6:.1f} MB (PyTorch fp32: {sizes['bytes_before'] / 1e6:.1f} MB)",
        f"- **Parameters of the source:** {_fmt_params(sizes['parameters'])}",
    ]
    if record.get("metrics"):
        ref = ex["reference_metrics"]
        lines += ["", f"## Scores ({record['task']} dev)", "", "| metric | PyTorch fp32 | exported | change |",
                  "|---|---:|---:|---:|"]
        for k, v in record["metrics"].items():
            scale = 100 if is_fraction(k, v) else 1
            lines.append(f"| {k} | {scale * ref[k]:.2f} | {scale * v:.2f} | {scale * (v - ref[k]):+.2f} |")
        lines.append("")
    lines += [*_provenance(record), "## Use", "", *form.usage(name, record)]
    return _write(folder, lines)
