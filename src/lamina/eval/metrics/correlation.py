"""Correlations of a regression's scores with the gold ones (scipy): Pearson and Spearman, -1..1."""

from __future__ import annotations

from collections.abc import Callable

from lamina.eval.metrics import Metric, register_metric
from lamina.registry import lazy_import

np = lazy_import("numpy")
stats = lazy_import("scipy.stats")  # imported by the first score, not by the registry


def _corr(name: str) -> Callable:
    def metric(pred, gold):
        fn = getattr(stats, name)
        if np.std(pred) == 0 or np.std(gold) == 0:
            return 0.0  # undefined for a constant series; report no correlation
        return float(fn(pred, gold)[0])

    return metric


register_metric(Metric("pearson", _corr("pearsonr"), description="Pearson correlation"))
register_metric(Metric("spearman", _corr("spearmanr"), description="Spearman rank correlation"))
