"""Evaluation helpers: timing (the one helper every speed report uses) and sizes."""

from lamina.eval.timing import measure_throughput, parameter_count, weights_size_bytes

__all__ = ["measure_throughput", "parameter_count", "weights_size_bytes"]
