"""Task metrics: each one a :class:`Metric` in the registry :data:`METRICS`, one file each.

A metric knows its function (``compute(predictions, gold) → float``, computed with
scikit-learn and scipy by GLUE conventions; None for numbers computed elsewhere, such as the
loss, perplexity and sacrebleu's BLEU and chrF), its direction (``higher_is_better``: it picks
the best checkpoint, the best run of a recipe step and a report's Pareto front) and its scale
(``fraction``: 0..1, shown ×100; ``percent``: 0..100, shown as it is; ``value``: a loss or a
count, shown as it is). A ``family`` metric also answers for every name that starts with its
own (``bleu`` for ``bleu_beam5``). A name no metric answers for (a command's own number) is
higher-is-better and a fraction when it lies within ±1.

A new metric is one file in this folder with a :func:`register_metric` call; the folder's
modules are imported the first time a metric is looked up.

``compute_metrics(task, predictions, labels)`` takes raw model outputs (logits, or one
score per example for regression) and gold labels and returns the task's metrics, each a
float in the task's usual scale (accuracy 0..1, correlations -1..1).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

from lamina.errors import LaminaError
from lamina.registry import Registry, lazy_import

np = lazy_import("numpy")  # (the tasks, listed by the command line, read the metrics' names)

Scale = Literal["fraction", "percent", "value"]


@dataclass(frozen=True)
class Metric:
    name: str
    compute: Callable[[np.ndarray, np.ndarray], float] | None = None  # None: computed elsewhere
    higher_is_better: bool = True
    scale: Scale = "fraction"
    family: bool = False  # also the metric of every name starting with this one (bleu → bleu_beam5)
    description: str = ""


METRICS = Registry("metric", package="lamina.eval.metrics")


def register_metric(metric: Metric) -> Metric:
    """Register ``metric`` under its name (a name registered twice is refused)."""
    METRICS.add(metric.name, metric)
    return metric


def metric_of(name: str) -> Metric:
    """The metric that answers for ``name``: its own entry, else the longest ``family`` entry it
    starts with, else an unregistered one (higher is better, a fraction)."""
    if name in METRICS:
        return METRICS.get(name)
    families = [m for m in METRICS.entries.values() if m.family and name.startswith(m.name)]
    return max(families, key=lambda m: len(m.name)) if families else Metric(name)


def computable_metrics() -> list[str]:
    """Metrics :func:`compute_metrics` can compute from predictions and labels."""
    return [name for name in METRICS.names() if METRICS.get(name).compute is not None]


def greater_is_better(metric: str) -> bool:
    return metric_of(metric).higher_is_better


def is_fraction(metric: str, value) -> bool:
    """A score on a 0..1 scale (accuracy, F1, correlations), shown ×100; losses, counts and BLEU are not."""
    return (
        isinstance(value, (int, float))
        and not isinstance(value, bool)
        and abs(value) <= 1
        and metric_of(metric).scale == "fraction"
    )


def shown(metric: str, value, digits: int = 2) -> float:
    """The value as reports show it: ×100 for fractions, else as it is."""
    return round(100 * value, digits) if is_fraction(metric, value) else round(value, 4)


def scores_text(metrics: dict) -> str:
    """``accuracy 89.00, loss 0.3412``: fractions as percentages, losses and perplexities as they are."""
    return ", ".join(f"{k} {100 * v:.2f}" if is_fraction(k, v) else f"{k} {v:.4g}" for k, v in metrics.items())


def loss_metrics(loss: float) -> dict:
    """A mean NLL per token (nats) and its perplexity (exp, capped at e^50)."""
    return {"loss": float(loss), "perplexity": math.exp(min(loss, 50.0))}


def corpus_bleu(hypotheses: list[str], references: list[str]) -> float:
    """sacrebleu's corpus BLEU (its default 13a tokenization, one reference per sentence), 0..100."""
    import sacrebleu

    return float(sacrebleu.corpus_bleu(hypotheses, [references]).score)


def corpus_chrf(hypotheses: list[str], references: list[str]) -> float:
    """sacrebleu's corpus chrF (character 6-grams, beta 2), 0..100."""
    import sacrebleu

    return float(sacrebleu.corpus_chrf(hypotheses, [references]).score)


def sentence_bleu(hypothesis: str, reference: str) -> float:
    """sacrebleu's smoothed sentence BLEU (its default ``exp`` smoothing), 0..100: Seq-Inter's similarity."""
    import sacrebleu

    return float(sacrebleu.sentence_bleu(hypothesis, [reference]).score)


def predictions_from_outputs(outputs: np.ndarray, regression: bool) -> np.ndarray:
    outputs = np.asarray(outputs)
    if regression:
        return outputs.reshape(-1).astype(float)
    return outputs.argmax(axis=-1)


def compute_metrics(task, outputs, labels, *, metrics=None) -> dict[str, float]:
    """The task's metrics (or the named ``metrics``) from model outputs and gold labels."""
    pred = predictions_from_outputs(outputs, task.is_regression)
    gold = np.asarray(labels).reshape(-1)
    if len(pred) != len(gold):
        raise LaminaError(f"{len(pred)} predictions for {len(gold)} labels")
    names = metrics or [m for m in task.metrics if not m.startswith("mismatched_")]
    known = computable_metrics()
    unknown = [m for m in names if m not in known]
    if unknown:
        raise LaminaError(f"unknown metric(s) {unknown}; known: {', '.join(known)}")
    return {name: METRICS.get(name).compute(pred, gold) for name in names}


def trainer_metrics(task):
    """A ``compute_metrics`` callable for HF ``Trainer`` (EvalPrediction → dict)."""

    def fn(eval_pred):
        outputs = eval_pred.predictions[0] if isinstance(eval_pred.predictions, tuple) else eval_pred.predictions
        return compute_metrics(task, outputs, eval_pred.label_ids)

    return fn
