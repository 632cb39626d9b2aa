"""The task registry: what a task's data looks like, its labels, metrics and objective.

A labelled task loads into a :class:`datasets.DatasetDict` with the splits ``train`` and
``dev`` (plus ``dev_mismatched`` for MNLI) and the columns ``text``, optionally
``text_pair``, and ``label`` (an int class id, or a float for regression). Its
``objective`` (the objective's class: classification, regression, masked-lm, ...; see
:mod:`lamina.tasks.objectives`) decides the model head, the collator, the losses allowed and how it is evaluated.

Adding a task is one file in this package (the registry imports every module of it) with
one :func:`register_task` call: a :class:`Task` instance, or a factory that builds one
from the run's task options (as ``custom`` and ``mlm`` do). A task with options declares
them as a pydantic ``options`` model; :func:`get_task` validates what a run gives
(``--task-option NAME=VALUE``) against it, so a task refuses an option it does not read.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from pydantic import BaseModel, ConfigDict

from lamina.config import flag_name, plain_error
from lamina.errors import LaminaError
from lamina.registry import Registry

if TYPE_CHECKING:
    from lamina.tasks.objectives.base import Objective


@dataclass
class Task:
    name: str
    metrics: tuple[str, ...]
    labels: tuple[str, ...] | None = None  # None: regression
    description: str = ""
    eval_splits: tuple[str, ...] = ("dev",)

    @property
    def objective(self) -> type[Objective]:
        """The class of this task's objective (:mod:`lamina.tasks.objectives`); a task with
        another objective overrides this."""
        from lamina.tasks.objectives.classification import Classification, Regression

        return Regression if self.labels is None else Classification

    @property
    def is_regression(self) -> bool:
        return "regression" in self.objective.capabilities

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


class TaskOptions(BaseModel):
    """The options a task reads (subclassed per task family); a field's description is its help."""

    model_config = ConfigDict(extra="forbid")

    def check_run(self, task_name: str) -> None:
        """Refuse, in one line, options a *run* cannot go with (``lamina tasks`` builds tasks without them)."""


def register_task(task_or_factory, name: str | None = None, options: type[TaskOptions] | None = None):
    """Register a :class:`Task` (or a factory ``(**options) -> Task`` under ``name``, taking the
    fields of the ``options`` model)."""
    if isinstance(task_or_factory, Task):
        task = task_or_factory

        def factory(**_):
            return task
    else:
        factory = task_or_factory
    entry = _Entry(factory, options)
    TASKS.add(name or task_or_factory.name, entry)
    return task_or_factory


class _Entry:
    """A registered task: its factory and its options model (None: it takes no options)."""

    def __init__(self, factory, options):
        self.factory, self.options = factory, options

    def __call__(self, **options) -> Task:
        return self.factory(**options)


def available_tasks() -> list[str]:
    return TASKS.names()


def task_options_model(name: str) -> type[TaskOptions] | None:
    """The options model of the task ``name`` (None when it takes none)."""
    return TASKS.get(name).options


def all_task_options() -> dict[str, object]:
    """Every option some registered task takes: name → its field (the first task's description)."""
    out = {}
    for name in TASKS.names():
        model = TASKS.get(name).options
        for key, f in model.model_fields.items() if model is not None else ():
            out.setdefault(key, f)
    return out


def resolve_task_name(name: str, options: dict) -> str:
    """Giving ``train_file`` means the custom task (with ``pairs``: seq2seq pairs from files)."""
    return "custom" if options.get("train_file") and name != "pairs" else name


def check_task_options(name: str, options: dict, *, for_run: bool = False) -> dict:
    """``options`` validated against the task's options model (typed, defaults filled), or one error line;
    ``for_run`` also asks the options whether a run can go with them (a corpus task needs its corpus)."""
    import os

    from pydantic import ValidationError

    def plain(v):  # paths as strings (a library caller may pass pathlib.Path)
        return (
            os.fspath(v) if isinstance(v, os.PathLike) else [plain(x) for x in v] if isinstance(v, (list, tuple)) else v
        )

    options = {k: plain(v) for k, v in options.items()}
    name = resolve_task_name(name, options)
    model = TASKS.get(name).options
    fields = model.model_fields if model is not None else {}
    unknown = sorted(set(options) - set(fields))
    if unknown:
        key = unknown[0]
        owners = [
            t for t in TASKS.names() if TASKS.get(t).options is not None and key in TASKS.get(t).options.model_fields
        ]
        has = f"its options: {', '.join(fields)}" if fields else "it takes none"
        elsewhere = f"; {key} is an option of {', '.join(owners)}" if owners else ""
        raise LaminaError(f"task '{name}' has no option '{key}' ({has}{elsewhere})")
    if model is None:
        return {}
    try:
        typed = model(**options)
        if for_run:
            typed.check_run(name)
        return typed.model_dump()
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(str(x) for x in err["loc"])
        raise LaminaError(f"task '{name}': --task-option {where} ({flag_name(where)}): {plain_error(err)}") from None


def get_task(name: str, **options) -> Task:
    """A registered task built with the run's task options (``custom``'s files, ``mlm``'s corpus),
    validated against the task's options model; giving ``train_file`` means the custom task (or,
    with ``pairs``, seq2seq pairs)."""
    typed = check_task_options(name, options)
    return TASKS.get(resolve_task_name(name, options))(**typed)
