"""The task registry: what a task's data looks like, its labels, metrics and objective.

A labelled task loads into a :class:`datasets.DatasetDict` with the splits ``train`` and
``dev`` (plus ``dev_mismatched`` for MNLI) and the columns ``text``, optionally
``text_pair``, and ``label`` (an int class id, or a float for regression). Its
``objective`` (classification, regression, masked-lm; see :mod:`lamina.tasks.objectives`)
decides the model head, the collator, the losses allowed and how it is evaluated.

Adding a task is one file in this package (the registry imports every module of it) with
one :func:`register_task` call: a :class:`Task` instance, or a factory that builds one
from the run's task options (as ``custom`` and ``mlm`` do).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from lamina.errors import LaminaError
from lamina.registry import Registry


@dataclass
class Task:
    name: str
    metrics: tuple[str, ...]
    labels: tuple[str, ...] | None = None  # None: regression
    description: str = ""
    eval_splits: tuple[str, ...] = ("dev",)

    @property
    def objective(self) -> str:
        return "regression" if self.labels is None else "classification"

    @property
    def is_regression(self) -> bool:
        return self.objective == "regression"

    @property
    def num_labels(self) -> int:
        return 1 if self.labels is None else len(self.labels)

    @property
    def main_metric(self) -> str:
        return self.metrics[0]

    def id2label(self) -> dict[int, str]:
        return {} if self.labels is None else dict(enumerate(self.labels))

    def load(self, data_dir: str | None = None):
        raise NotImplementedError


@dataclass
class Examples:
    """Plain lists before they become a Dataset, with the file they came from for errors."""

    texts: list[tuple[str, ...]] = field(default_factory=list)
    labels: list = field(default_factory=list)
    source: str = ""

    def to_dataset(self):
        import datasets

        if not self.texts:
            raise LaminaError(f"{self.source} holds no examples")
        columns = {"text": [t[0] for t in self.texts]}
        if len(self.texts[0]) > 1:
            columns["text_pair"] = [t[1] for t in self.texts]
        columns["label"] = self.labels
        return datasets.Dataset.from_dict(columns)


def label_ids(raw_labels, mapping: dict[str, int], source: str, lines=None) -> list[int]:
    """Map raw label strings to ids; a label outside the task's set is an error naming its line."""
    out = []
    for i, raw in enumerate(raw_labels):
        key = str(raw).strip()
        if key not in mapping:
            where = f"line {lines[i]}" if lines else f"example {i + 1}"
            raise LaminaError(f"{source}: {where}: label '{key}' is not one of {sorted(mapping)}")
        out.append(mapping[key])
    return out


def float_labels(raw_labels, source: str, lines=None) -> list[float]:
    out = []
    for i, raw in enumerate(raw_labels):
        try:
            out.append(float(raw))
        except (TypeError, ValueError):
            where = f"line {lines[i]}" if lines else f"example {i + 1}"
            raise LaminaError(f"{source}: {where}: label '{raw}' is not a number (regression task)") from None
    return out


def label_distribution(task: Task, labels) -> dict[str, int]:
    if task.is_regression:
        return {}
    counts = Counter(labels)
    return {task.labels[i]: counts.get(i, 0) for i in range(task.num_labels)}


def split_metrics(task: Task, split: str, values: dict) -> dict:
    """The metrics an evaluation split contributes: ``dev`` its own; another split
    ``dev_X`` (MNLI's ``dev_mismatched``) those of the task's metrics named ``X_<metric>``."""
    if split == "dev":
        return dict(values)
    prefix = split.removeprefix("dev_") + "_"
    return {prefix + k: v for k, v in values.items() if prefix + k in task.metrics}


TASKS = Registry("task", package="lamina.tasks")


def register_task(task_or_factory, name: str | None = None):
    """Register a :class:`Task` (or a factory ``(**task_options) -> Task`` under ``name``)."""
    if isinstance(task_or_factory, Task):
        task = task_or_factory
        TASKS.add(task.name, lambda **_: task)
    else:
        TASKS.add(name or task_or_factory.name, task_or_factory)
    return task_or_factory


def available_tasks() -> list[str]:
    return TASKS.names()


def get_task(name: str, **options) -> Task:
    """A registered task built with the run's task options (``custom``'s files, ``mlm``'s corpus);
    giving ``train_file`` means the custom task (or, with ``pairs``, seq2seq pairs)."""
    if options.get("train_file") and name != "pairs":  # pairs: seq2seq files; otherwise a labelled custom task
        name = "custom"
    return TASKS.get(name)(**options)
