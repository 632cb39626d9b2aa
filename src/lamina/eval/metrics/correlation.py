"""Correlations of a regression's scores with the gold ones (scipy): Pearson and Spearman, -1..1."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
from scipy.stats import pearsonr, spearmanr

from lamina.eval.metrics import Metric, register_metric


def _corr(fn) -> Callable:
    def metric(pred, gold):
        if np.std(pred) == 0 or np.std(gold) == 0:
            return 0.0  # undefined for a constant series; report no correlation
        return float(fn(pred, gold)[0])

    return metric


register_metric(Metric("pearson", _corr(pearsonr), description="Pearson correlation"))
register_metric(Metric("spearman", _corr(spearmanr), description="Spearman rank correlation"))
