"""sacrebleu's corpus BLEU and chrF (computed by :mod:`lamina.eval.generation`), 0..100, higher is
better; each a family, so ``bleu_beam5`` and ``chrf_beam5`` (beam search's scores) are theirs."""

from __future__ import annotations

from lamina.eval.metrics import Metric, register_metric

register_metric(Metric("bleu", scale="percent", family=True, description="sacrebleu corpus BLEU"))
register_metric(Metric("chrf", scale="percent", family=True, description="sacrebleu corpus chrF"))
