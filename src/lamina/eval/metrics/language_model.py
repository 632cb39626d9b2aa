"""Numbers a language model's scoring computes itself (no label function here): the mean NLL per
token and its perplexity (:func:`lamina.eval.metrics.loss_metrics`), and with ``--beam-targets``
the probability the model gives the teacher's beam output and its NLL."""

from __future__ import annotations

from lamina.eval.metrics import Metric, register_metric

register_metric(Metric("loss", higher_is_better=False, scale="value", description="mean NLL per token (nats)"))
register_metric(Metric("perplexity", higher_is_better=False, scale="value", description="exp of the loss"))
register_metric(
    Metric("nll_teacher_beam", higher_is_better=False, scale="value", description="NLL of the teacher's beam output")
)
register_metric(Metric("p_teacher_beam", description="probability of the teacher's beam output"))
