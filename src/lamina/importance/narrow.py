"""Width pruning by importance: score the units, keep the best, build the narrower model (no registration here)."""

from __future__ import annotations

import time


def narrow(model, widths: dict, *, importance: str = "activation", batches=None) -> tuple[object, dict]:
    """``model`` with ``widths`` (``ffn``, ``heads``, ``hidden``: the counts to keep) chosen by the criterion
    ``importance`` on ``batches`` (calibration inputs; unused by a weights-only criterion), and a record of
    what was done (shapes before and after, the criterion, its seconds, the heads kept per layer)."""
    from lamina.importance.base import get_importance
    from lamina.models.width import check_width_request, plan_from_scores, prune_width, width_spec

    check_width_request(model.config, **widths)
    spec, config = width_spec(model), model.config
    before = {
        "ffn": spec.ffn(config),
        "heads": spec.heads(config),
        "kv_heads": spec.kv_heads(config),
        "hidden": spec.hidden(config),
    }
    start = time.perf_counter()
    scores = get_importance(importance).scores(model, batches or [])
    seconds = time.perf_counter() - start
    plan = plan_from_scores(scores, config, **widths)
    return prune_width(model, plan), {
        "importance": importance,
        "importance_seconds": seconds,
        "before": before,
        "after": plan.shape(spec, config),
        "kept_heads": plan.heads,
        "kept_kv_heads": plan.kv_heads,
    }
