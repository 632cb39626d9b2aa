"""The task registry: what a task's data looks like, its labels and its metrics.

A task loads into a :class:`datasets.DatasetDict` with the splits ``train`` and ``dev``
(plus ``dev_mismatched`` for MNLI) and the columns ``text``, optionally ``text_pair``,
and ``label`` (an int class id, or a float for regression). Adding a task is one
:func:`register_task` call with a :class:`Task` subclass that implements ``load``.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import ClassVar

from lamina.errors import LaminaError


@dataclass
class Task:
    name: str
    metrics: tuple[str, ...]
    labels: tuple[str, ...] | None = None  # None: regression
    description: str = ""
    eval_splits: tuple[str, ...] = ("dev",)
    kind: ClassVar[str] = "task"

    @property
    def is_regression(self) -> bool:
        return self.labels is None

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


_TASKS: dict[str, Task] = {}


def register_task(task: Task) -> Task:
    _TASKS[task.name] = task
    return task


def available_tasks() -> list[str]:
    return sorted([*_TASKS, "custom"])


def get_task(name: str, **custom) -> Task:
    """A registered task, or ``custom`` built from ``train_file``/``validation_file``/columns."""
    if name == "custom" or custom.get("train_file"):
        from lamina.tasks.custom import CustomTask

        return CustomTask.from_options(**custom)
    if name not in _TASKS:
        raise LaminaError(f"unknown task '{name}'; available: {', '.join(available_tasks())}")
    return _TASKS[name]
