"""The GLUE tasks, read from a GLUE-format folder or, online, from the Hugging Face hub."""

from __future__ import annotations

from dataclasses import dataclass

from lamina.data.glue import read_glue_examples
from lamina.data.paths import data_dir as resolve_data_dir
from lamina.errors import LaminaError
from lamina.tasks.base import Examples, Task, float_labels, label_ids, register_task

# column names of the hub's `nyu-mll/glue` configs
_HUB_COLUMNS = {
    "cola": ("sentence",),
    "sst2": ("sentence",),
    "mrpc": ("sentence1", "sentence2"),
    "qqp": ("question1", "question2"),
    "stsb": ("sentence1", "sentence2"),
    "mnli": ("premise", "hypothesis"),
    "qnli": ("question", "sentence"),
    "rte": ("sentence1", "sentence2"),
    "wnli": ("sentence1", "sentence2"),
}
_HUB_SPLITS = {"train": "train", "dev": "validation", "dev_mismatched": "validation_mismatched"}


@dataclass
class GlueTask(Task):
    raw_labels: tuple[str, ...] | None = None  # how the TSV writes each label, in label-id order

    def load(self, data_dir: str | None = None):
        import datasets

        splits = ("train", *self.eval_splits)
        if resolve_data_dir(data_dir, required=False) is None:
            return self._load_from_hub(splits)
        return datasets.DatasetDict({split: self._read_split(split, data_dir) for split in splits})

    def _read_split(self, split: str, data_dir):
        path, rows = read_glue_examples(self.name, split, data_dir)
        lines = [n for _, _, n in rows]
        raw = [label for _, label, _ in rows]
        if self.is_regression:
            labels = float_labels(raw, str(path), lines)
        else:
            labels = label_ids(raw, {r: i for i, r in enumerate(self.raw_labels)}, str(path), lines)
        return Examples([t for t, _, _ in rows], labels, str(path)).to_dataset()

    def _load_from_hub(self, splits):
        import datasets

        try:
            hub = datasets.load_dataset("nyu-mll/glue", "mnli" if self.name == "mnli" else self.name)
        except Exception as exc:  # offline, or the hub refused
            raise LaminaError(
                f"task '{self.name}': no GLUE folder given (--data-dir or LAMINA_DATA_DIR) and the hub "
                f"could not be reached ({type(exc).__name__})"
            ) from None
        cols = _HUB_COLUMNS[self.name]
        out = {}
        for split in splits:
            ds = hub[_HUB_SPLITS[split]]
            rename = {cols[0]: "text", **({cols[1]: "text_pair"} if len(cols) > 1 else {})}
            keep = [*rename, "label"]
            ds = ds.remove_columns([c for c in ds.column_names if c not in keep]).rename_columns(rename)
            out[split] = ds
        return datasets.DatasetDict(out)


for _task in (
    GlueTask(
        "cola", ("mcc",), ("unacceptable", "acceptable"), "CoLA: grammatical acceptability", raw_labels=("0", "1")
    ),
    GlueTask("sst2", ("accuracy",), ("negative", "positive"), "SST-2: sentence sentiment", raw_labels=("0", "1")),
    GlueTask(
        "mrpc", ("f1", "accuracy"), ("not_equivalent", "equivalent"), "MRPC: paraphrase pairs", raw_labels=("0", "1")
    ),
    GlueTask(
        "qqp", ("f1", "accuracy"), ("not_duplicate", "duplicate"), "QQP: duplicate questions", raw_labels=("0", "1")
    ),
    GlueTask("stsb", ("pearson", "spearman"), None, "STS-B: similarity score 0-5 (regression)"),
    GlueTask(
        "mnli",
        ("accuracy", "mismatched_accuracy"),
        ("entailment", "neutral", "contradiction"),
        "MNLI: inference (matched and mismatched dev)",
        eval_splits=("dev", "dev_mismatched"),
        raw_labels=("entailment", "neutral", "contradiction"),
    ),
    GlueTask(
        "qnli",
        ("accuracy",),
        ("entailment", "not_entailment"),
        "QNLI: question answering as inference",
        raw_labels=("entailment", "not_entailment"),
    ),
    GlueTask(
        "rte",
        ("accuracy",),
        ("entailment", "not_entailment"),
        "RTE: textual entailment",
        raw_labels=("entailment", "not_entailment"),
    ),
    GlueTask(
        "wnli", ("accuracy",), ("not_entailment", "entailment"), "WNLI: Winograd inference", raw_labels=("0", "1")
    ),
):
    register_task(_task)
