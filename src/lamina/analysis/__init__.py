"""Analysis: per-layer statistics of a model on calibration data."""

from lamina.analysis.layer_stats import LayerStats, compute_layer_stats, layer_table

__all__ = ["LayerStats", "compute_layer_stats", "layer_table"]
