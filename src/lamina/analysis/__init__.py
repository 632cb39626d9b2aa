"""Analysis: per-layer statistics of a model on calibration data."""

from lamina.analysis.layer_stats import LayerStats, compute_layer_stats, layer_table, stats_from_texts

__all__ = ["LayerStats", "compute_layer_stats", "layer_table", "stats_from_texts"]
