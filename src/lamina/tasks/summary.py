"""What ``lamina data`` shows: sizes, labels, token lengths and a few examples."""

from __future__ import annotations

from lamina.registry import lazy_import
from lamina.tasks.base import get_task, label_distribution

np = lazy_import("numpy")  # (the task registry imports this module)


def summarize_task(name: str, *, data_dir=None, tokenizer_model: str = "minilm-l6", task_options=None) -> dict:
    from transformers import AutoTokenizer

    from lamina.models.loading import resolve_model

    task = get_task(name, **(task_options or {}))
    data = task.load(data_dir)
    tok = AutoTokenizer.from_pretrained(resolve_model(tokenizer_model))
    splits = {}
    if "text" not in data["train"].column_names:  # an image task: sizes and labels only
        return {
            "task": task.name,
            "description": task.description,
            "source": "idx folder or bundled",
            "splits": {
                split: {
                    "examples": len(ds),
                    "labels": label_distribution(task, list(ds["label"])),
                    "token_lengths": dict.fromkeys(("p50", "p90", "p95", "p99", "max"), "-"),
                    "truncated_at_128": None,
                }
                for split, ds in data.items()
            },
            "examples": [],
        }
    for split, ds in data.items():
        pairs = list(ds["text_pair"]) if "text_pair" in ds.column_names else None
        labels = list(ds["label"])
        lengths = np.array([len(ids) for ids in tok(list(ds["text"]), pairs, truncation=False)["input_ids"]])
        entry = {
            "examples": len(ds),
            "labels": label_distribution(task, labels),
            "token_lengths": {f"p{p}": int(np.percentile(lengths, p)) for p in (50, 90, 95, 99)}
            | {"max": int(lengths.max())},
            "truncated_at_128": float((lengths > 128).mean()),
        }
        if task.is_regression:
            entry["label_range"] = f"{min(labels):.2f}..{max(labels):.2f}"
        splits[split] = entry
    train = data["train"]
    examples = []
    for i in np.random.default_rng(0).choice(len(train), size=min(3, len(train)), replace=False):
        row = train[int(i)]
        label = row["label"] if task.is_regression else task.labels[row["label"]]
        examples.append({"text": row["text"], "text_pair": row.get("text_pair"), "label": label})
    return {
        "task": task.name,
        "description": task.description,
        "source": "GLUE folder" if data_dir or _env_data() else "embedded/hub/files",
        "splits": splits,
        "examples": examples,
    }


def _env_data() -> bool:
    import os

    return bool(os.environ.get("LAMINA_DATA_DIR"))
