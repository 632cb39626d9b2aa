"""What an importance pass says about a model's widths, per layer (``lamina inspect --width``).

Raw scores of different criteria are on different scales, so the summary gives scale-free figures:

* ``ffn_top_half``: the share of a layer's FFN importance held by its best half of the neurons
  (0.5: every neuron matters alike; near 1: half of them could go at little cost);
* ``heads``: each head's score relative to the layer's strongest head, in head order; the weakest
  head and its relative score;
* ``hidden_top_half``: the same share as ``ffn_top_half``, over the hidden channels.
"""

from __future__ import annotations


def top_half_share(scores) -> float:
    """The share of the total held by the best half of ``scores`` (a 1-D tensor, ≥ 0)."""
    values = scores.double().clamp(min=0).sort(descending=True).values
    total = float(values.sum())
    if total == 0:
        return float("nan")
    return float(values[: max(1, (len(values) + 1) // 2)].sum()) / total


def width_summary(scores: dict) -> dict:
    """Per-layer rows and a hidden-channel summary from a criterion's ``scores``
    (``{"ffn": [per layer], "heads": [per layer], "hidden": tensor}``)."""
    rows = []
    for layer, (ffn, heads) in enumerate(zip(scores["ffn"], scores["heads"])):
        strongest = float(heads.max()) if len(heads) else 0.0
        relative = [float(h) / strongest if strongest > 0 else float("nan") for h in heads]
        weakest = min(range(len(relative)), key=lambda i: relative[i]) if relative else None
        rows.append(
            {
                "layer": layer,
                "ffn": len(ffn),
                "ffn_top_half": top_half_share(ffn),
                "heads": len(heads),
                "head_relative": relative,
                "weakest_head": weakest,
                "weakest_head_relative": relative[weakest] if weakest is not None else None,
            }
        )
    hidden = scores["hidden"]
    return {"rows": rows, "hidden": {"channels": len(hidden), "hidden_top_half": top_half_share(hidden)}}
