"""Evaluation helpers: metrics (scikit-learn/scipy), scoring through HF Trainer, timing (the
one helper every speed report uses) and sizes. Imports are lazy, so reading a metric's
direction does not load torch."""

from __future__ import annotations

_TIMING = ("compare_throughput", "measure_throughput", "parameter_count", "weights_size_bytes")


def __getattr__(name):
    if name in _TIMING:
        from lamina.eval import timing

        return getattr(timing, name)
    raise AttributeError(name)


__all__ = list(_TIMING)
