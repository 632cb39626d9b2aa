"""The model card (``README.md``) of a lifelong output: how it was made, the score matrix, use."""

from __future__ import annotations

from pathlib import Path


def write_card(folder: Path, record: dict, *, name: str) -> None:
    cfg, m = record["config"], record["matrix"]
    lines = [
        "---",
        "library_name: transformers",
        "tags:",
        "- lamina",
        "- lifelong-learning",
        "- text-generation",
        "---",
        "",
        f"# {name}",
        "",
        f"`{record['model']}` trained on the task sequence **{' → '.join(m['trained'])}** with lamina "
        f"(`lamina lifelong --method {cfg['method']}`), LAMOL style: each example is "
        "`__TASK__ context __q__ question __ans__ answer`, learnt as QA (the answer) and as a language model "
        "(the whole example).",
        "",
        "## How it was made",
        "",
        f"- **Method:** {cfg['method']}; pseudo-rate {cfg['pseudo_rate']}, LM weight {cfg['lm_lambda']}, "
        f"temperature {cfg['temperature']} (KD methods), top-k {cfg['top_k']}",
        f"- **Settings:** {cfg['epochs']} epochs per task, lr {cfg['lr']}, batch {cfg['batch_size']}, max length "
        f"{cfg['max_length']}, answers up to {cfg['max_answer_tokens']} tokens, seed {cfg['seed']}",
        "- **Tasks:** "
        + "; ".join(
            f"`{t}` ({i['metric']}, {i['train_examples']} train / {i['dev_examples']} dev, token `{i['token']}`)"
            for t, i in record["tasks"].items()
        ),
        f"- **Wall time:** {record.get('wall_seconds', 0):.0f} s",
        f"- **Command:** `{record['command']}`",
        "",
        "## Scores after each task (rows: task just learnt; columns: tasks seen)",
        "",
        "| after | " + " | ".join(m["tasks"]) + " |",
        "|---|" + "---:|" * len(m["tasks"]),
    ]
    for trained, row in zip(m["trained"], m["scores"]):
        cells = [f"{v:.4f}" for v in row] + [""] * (len(m["tasks"]) - len(row))
        lines.append(f"| {trained} | " + " | ".join(cells) + " |")
    lines += [
        "",
        f"Final average: **{record['metrics']['average']:.4f}** (0–100: accuracy ×100 and BLEU averaged; the matrix keeps accuracy as a fraction).",
        "",
        "## Use",
        "",
        "```python",
        "from transformers import AutoModelForCausalLM, AutoTokenizer",
        f'model = AutoModelForCausalLM.from_pretrained("{name}")',
        f'tokenizer = AutoTokenizer.from_pretrained("{name}")',
        'prompt = "__TASK__ your context __q__ your question __ans__"  # then generate the answer',
        "```",
        "",
    ]
    (folder / "README.md").write_text("\n".join(lines), encoding="utf-8")
