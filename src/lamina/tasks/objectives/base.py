"""Task objectives: what a task trains and how it is scored, one registered class a file.

A task's ``objective`` is the objective's class (:func:`objective_for` makes an instance); its
registered ``name`` is for people (``lamina tasks``, error messages), never compared. The objective, not ``if mlm`` branches in the
workflows, decides:

- the model head (``load_model``, ``model_from_config``) and the vanilla Auto class that
  reloads the output (``auto_class_for``, named in model cards);
- the data a run trains and evaluates on, and the collator (``prepare``, which returns the
  run's state in :class:`Prepared`; an objective instance keeps none);
- how an HF Trainer evaluates it (``trainer_settings``, ``compute_metrics``, ``evaluate``);
- what it offers, as capability words (``capabilities``): code outside ``tasks/`` asks these
  (``objective.has("pairs")``), never an objective's name; a loss lists the capabilities it
  reads (``DistillLoss.requires``).

An objective reads small typed settings (:class:`PrepSettings`, :class:`ScoreSettings`),
never a command's config. A new objective is one file in this package with one
``@register_objective("name")`` class: the registry imports every module of the package.
"""

from __future__ import annotations

from dataclasses import dataclass, field, fields
from typing import ClassVar

from lamina.eval.metrics import greater_is_better
from lamina.registry import Registry
from lamina.tasks.base import Task, split_metrics

OBJECTIVES = Registry("task objective", package="lamina.tasks.objectives")
register_objective = OBJECTIVES.register

# the capability words an objective may have
CAPABILITIES = {
    "text": "a tokenizer reads its inputs",
    "images": "its inputs are pixel vectors",
    "classes": "one class per example (a probability distribution over the labels)",
    "regression": "one number per example",
    "tokens": "a distribution over the vocabulary per token",
    "masked": "masked-LM labels (the masked positions)",
    "generates": "the model generates text (speed reports include generation with the KV cache)",
    "pairs": "source → target pairs, scored by decoding",
}


def _of(cls, cfg):
    """The fields of ``cls`` read from any object that has them (a command's config), the rest default."""
    return cls(**{f.name: getattr(cfg, f.name) for f in fields(cls) if hasattr(cfg, f.name)})


@dataclass(frozen=True)
class PrepSettings:
    """What ``prepare`` reads of a run: lengths, seed, subsets, padding, evaluation batch."""

    max_length: int = 128
    seed: int = 42
    max_train_samples: int | None = None
    max_eval_samples: int | None = None
    pad_to_max_length: bool = False
    eval_batch_size: int = 64

    of = classmethod(_of)


@dataclass(frozen=True)
class ScoreSettings:
    """What ``scorer`` reads (``lamina eval``, ``lamina export --task``): which split, how much of it, how."""

    split: str = "dev"
    data_dir: str | None = None
    max_samples: int | None = None
    seed: int = 42
    max_length: int = 128
    batch_size: int = 64
    logit_bias: dict = field(default_factory=dict)

    of = classmethod(_of)


@dataclass
class Prepared:
    """A run's encoded data: training set, evaluation sets by split, the collator, the raw
    training rows (text) for calibration statistics, and the objective's state for this run
    (what ``evaluate`` needs besides the data)."""

    train: object
    evals: dict
    collator: object
    raw_train: object = None
    train_rows: object = None  # the raw rows of ``train``, in its order (text for other tokenizers)
    info: dict = field(default_factory=dict)
    state: dict = field(default_factory=dict)


class Objective:
    name: ClassVar[str] = ""
    capabilities: ClassVar[frozenset[str]] = frozenset()
    auto_class: ClassVar[str] = "AutoModel"
    loss_only: ClassVar[bool] = False  # evaluation computes the loss alone (no logits kept)
    cache_off_reason: ClassVar[str | None] = None  # why teacher outputs cannot be cached for this objective
    # its token-level teacher logits can be cached as top-k (--cache-top-k: fixed inputs and targets)
    caches_top_k: ClassVar[bool] = False

    def has(self, *words: str) -> bool:
        """Whether the objective has every capability in ``words``."""
        unknown = [w for w in words if w not in CAPABILITIES]
        if unknown:
            raise ValueError(f"unknown capability {unknown[0]!r} (known: {', '.join(CAPABILITIES)})")
        return set(words) <= self.capabilities

    @property
    def reads_text(self) -> bool:
        return "text" in self.capabilities

    @property
    def generates(self) -> bool:
        return "generates" in self.capabilities

    @property
    def has_labels(self) -> bool:
        return bool({"classes", "regression"} & self.capabilities)

    def auto_class_for(self, model) -> str:
        """The vanilla Auto class that reloads ``model`` (model cards)."""
        return self.auto_class

    def student_config(self, spec: str):
        """The config of a fresh student named by ``--student-config`` (None: the default reading)."""
        return None

    def load_model(self, spec: str, task: Task, *, train: bool):
        raise NotImplementedError

    def model_from_config(self, config, task: Task):
        raise NotImplementedError

    def raw_data(self, task: Task, data_dir: str | None):
        """The task's splits as text (read once; the tokenizer comes later)."""
        return task.load(data_dir)

    def prepare(self, task: Task, raw, tokenizer, settings: PrepSettings, *, model=None) -> Prepared:
        """The run's data, encoded for ``model`` (the model that trains: some objectives encode by its kind)."""
        raise NotImplementedError

    def trainer_settings(self, task: Task) -> dict:
        return {
            "metric_for_best_model": task.main_metric,
            "greater_is_better": greater_is_better(task.main_metric),
            "prediction_loss_only": self.loss_only,
        }

    def compute_metrics(self, task: Task):
        return None

    def scorer(self, task: Task, tokenizer, settings: ScoreSettings, record: dict):
        """``model -> metrics`` on ``settings``' split of the task (``lamina eval``), the data read
        and encoded once; the examples scored go into ``record["examples"]``."""
        raise NotImplementedError

    def evaluate(self, task: Task, trainer, data: Prepared) -> dict:
        """The trained model's evaluation (the task's metrics, every evaluation split included,
        and the dev ``loss``)."""
        raise NotImplementedError


class TextBlocks(Objective):
    """What the language-modelling objectives share: text blocks from a corpus, scored by the loss alone."""

    loss_only = True

    def raw_data(self, task, data_dir):
        from lamina.errors import LaminaError

        if not task.corpus:  # the run's settings said so already (CorpusOptions.check_run); a library caller too
            raise LaminaError(f"--task {task.name} needs a text corpus: --corpus FILE")
        return task.load(data_dir)


def trained_model(trainer):
    """The model a Trainer trains: a distilled student alone (not the wrapper holding its teachers)."""
    return getattr(trainer.model, "student", trainer.model)


def block_loss(trainer, dataset, *, shift: bool) -> dict:
    """The token-weighted loss and perplexity of the trained model (a distilled student alone) on text blocks."""
    from transformers import default_data_collator

    from lamina.eval.scoring import token_loss

    return token_loss(
        trained_model(trainer),
        dataset,
        default_data_collator,
        batch_size=trainer.args.per_device_eval_batch_size,
        shift=shift,
    )


def evaluate_splits(task: Task, trainer, evals) -> dict:
    """Every evaluation split through the Trainer, named as ``split_metrics`` names them."""
    metrics = {}
    for split, data in evals.items():
        values = {k.removeprefix("eval_"): v for k, v in trainer.evaluate(eval_dataset=data).items()}
        metrics.update(split_metrics(task, split, values))
    return metrics


def objective_for(task: Task) -> Objective:
    """The objective of ``task`` (a fresh instance; it holds no state)."""
    return task.objective()
