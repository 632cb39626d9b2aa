"""Task metrics, computed with scikit-learn and scipy (GLUE conventions).

``compute_metrics(task, predictions, labels)`` takes raw model outputs (logits, or one
score per example for regression) and gold labels and returns the task's metrics, each a
float in the task's usual scale (accuracy 0..1, correlations -1..1).
"""

from __future__ import annotations

from collections.abc import Callable

import math

import numpy as np
from scipy.stats import pearsonr, spearmanr
from sklearn.metrics import accuracy_score, f1_score, matthews_corrcoef

from lamina.errors import LaminaError


def _corr(fn) -> Callable:
    def metric(pred, gold):
        if np.std(pred) == 0 or np.std(gold) == 0:
            return 0.0  # undefined for a constant series; report no correlation
        return float(fn(pred, gold)[0])

    return metric


METRICS: dict[str, Callable[[np.ndarray, np.ndarray], float]] = {
    "accuracy": lambda p, g: float(accuracy_score(g, p)),
    "f1": lambda p, g: float(f1_score(g, p, average="binary")),
    "macro_f1": lambda p, g: float(f1_score(g, p, average="macro")),
    "mcc": lambda p, g: float(matthews_corrcoef(g, p)),
    "pearson": _corr(pearsonr),
    "spearman": _corr(spearmanr),
    "errors": lambda p, g: float((np.asarray(p) != np.asarray(g)).sum()),  # misclassified examples (Hinton's table)
}


# metrics where lower is better; every other metric is better higher. The direction picks
# the best checkpoint (TrainingArguments.greater_is_better), the best run of a recipe step
# (${best:step.output}) and the Pareto front of a report.
LOWER_IS_BETTER = frozenset({"loss", "perplexity", "errors", "nll_teacher_beam"})
# metrics already on a 0..100 scale (sacrebleu's BLEU and chrF, also bleu_beam5 ...): shown as they are
PERCENT_SCALE = ("bleu", "chrf")


def greater_is_better(metric: str) -> bool:
    return metric not in LOWER_IS_BETTER


def is_fraction(metric: str, value) -> bool:
    """A score on a 0..1 scale (accuracy, F1, correlations), shown ×100; losses are not."""
    return isinstance(value, (int, float)) and not isinstance(value, bool) and abs(value) <= 1 \
        and greater_is_better(metric) and not metric.startswith(PERCENT_SCALE)


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
    unknown = [m for m in names if m not in METRICS]
    if unknown:
        raise LaminaError(f"unknown metric(s) {unknown}; known: {', '.join(METRICS)}")
    return {name: METRICS[name](pred, gold) for name in names}


def trainer_metrics(task):
    """A ``compute_metrics`` callable for HF ``Trainer`` (EvalPrediction → dict)."""

    def fn(eval_pred):
        outputs = eval_pred.predictions[0] if isinstance(eval_pred.predictions, tuple) else eval_pred.predictions
        return compute_metrics(task, outputs, eval_pred.label_ids)

    return fn
