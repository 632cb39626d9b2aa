"""Evaluation helpers: timing (the one helper every speed report uses) and sizes."""

from lamina.eval.timing import compare_throughput, measure_throughput, parameter_count, weights_size_bytes

__all__ = ["compare_throughput", "measure_throughput", "parameter_count", "weights_size_bytes"]
