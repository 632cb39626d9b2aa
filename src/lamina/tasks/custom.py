"""custom: your own CSV / TSV / JSONL files.

``--train-file`` and ``--validation-file``, one or two ``--text-column`` and a
``--label-column``. Class labels are inferred from the training file (sorted) and kept in
the saved model's ``id2label``; a validation label never seen in training is an error.
``--regression`` makes the label a float.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from pydantic import Field

from lamina.data.records import read_records
from lamina.errors import LaminaError
from lamina.tasks.base import Examples, Task, TaskOptions, float_labels, label_ids, register_task


class CustomOptions(TaskOptions):
    train_file: str | None = Field(None, description="Training CSV/TSV/JSONL.")
    validation_file: str | None = Field(None, description="Validation file.")
    text_columns: list[str] = Field(
        ["text"], description="Text column (give twice for pairs).", json_schema_extra={"flag": "--text-column"}
    )
    label_column: str = Field("label", description="Label column.")
    regression: bool = Field(False, description="The label is a number.")


def read_examples(path) -> list[dict]:
    """The rows of a labelled CSV / TSV / JSONL file (``read_records``); a file without one is an
    error. Shared by the custom task and ``lamina lifelong``'s ``--text-file`` tasks."""
    records = read_records(path)
    if not records:
        raise LaminaError(f"{path} holds no examples")
    return records


def _columns(path, text_columns, label_column) -> tuple[list[tuple[str, ...]], list]:
    records = read_examples(path)
    missing = [c for c in (*text_columns, label_column) if c not in records[0]]
    if missing:
        raise LaminaError(f"{path}: missing column(s) {missing}; it has {sorted(records[0])}")
    texts = [tuple("" if r.get(c) is None else str(r[c]) for c in text_columns) for r in records]
    return texts, [r.get(label_column) for r in records]


@dataclass
class CustomTask(Task):
    train_file: str = ""
    validation_file: str = ""
    text_columns: tuple[str, ...] = ("text",)
    label_column: str = "label"
    _cache: dict = field(default_factory=dict, repr=False)

    @classmethod
    def from_options(
        cls, train_file=None, validation_file=None, text_columns=("text",), label_column="label", regression=False, **_
    ):
        if not train_file or not validation_file:
            raise LaminaError("task 'custom' needs --train-file and --validation-file")
        text_columns = tuple(text_columns or ("text",))
        if not 1 <= len(text_columns) <= 2:
            raise LaminaError(f"give one or two --text-column, not {len(text_columns)}")
        train_texts, train_raw = _columns(train_file, text_columns, label_column)
        if regression:
            labels, metrics = None, ("pearson", "spearman")
        else:
            labels = tuple(sorted({str(v).strip() for v in train_raw}))
            if len(labels) < 2:
                raise LaminaError(f"{train_file}: column '{label_column}' has fewer than two distinct labels")
            metrics = ("accuracy", "macro_f1")
        task = cls(
            "custom",
            metrics,
            labels,
            f"custom files {Path(train_file).name} / {Path(validation_file).name}",
            train_file=str(train_file),
            validation_file=str(validation_file),
            text_columns=text_columns,
            label_column=label_column,
        )
        task._cache["train"] = (train_texts, train_raw)
        return task

    def _split(self, split: str):
        path = self.train_file if split == "train" else self.validation_file
        if split not in self._cache:
            self._cache[split] = _columns(path, self.text_columns, self.label_column)
        texts, raw = self._cache[split]
        if self.is_regression:
            labels = float_labels(raw, path)
        else:
            labels = label_ids(raw, {name: i for i, name in enumerate(self.labels)}, path)
        return Examples(texts, labels, path).to_dataset()

    def load(self, data_dir: str | None = None):
        import datasets

        return datasets.DatasetDict({"train": self._split("train"), "dev": self._split("dev")})


register_task(CustomTask.from_options, name="custom", options=CustomOptions)
