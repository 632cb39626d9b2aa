"""magnitude: weights only, no data. A unit's score is the L2 norm of every weight entry that belongs
to it: an FFN neuron's rows (and gates) and its column of the down projection, a head's query/key/value
rows and output-projection columns (a key/value head shared by a group counts for each of its query
heads), a hidden channel's entries in every weight that reads or writes the residual stream."""

from __future__ import annotations

from lamina.importance.base import Importance, empty_scores, head_of, register_importance, torch


@register_importance("magnitude")
class Magnitude(Importance):
    """L2 norm of each unit's weights (no data)."""

    needs_calibration = False

    def scores(self, model, batches=None) -> dict:
        from lamina.models.adapters import get_adapter
        from lamina.models.width import width_spec

        spec, config = width_spec(model), model.config
        layers = get_adapter(model).num_layers(config)
        out = empty_scores(spec, config, layers)
        group = spec.heads(config) // spec.kv_heads(config)
        for name, weight in model.state_dict().items():
            found = spec.roles_of(name)
            if found is None:
                continue
            dims, layer = found
            w = weight.detach().double() ** 2
            for dim, role in dims.items():
                per_index = w.sum(dim=[d for d in range(w.dim()) if d != dim]) if w.dim() > 1 else w
                if role == "hidden":
                    out["hidden"] += per_index
                elif role == "ffn":
                    out["ffn"][layer] += per_index
                else:
                    heads = head_of(role, torch.arange(len(per_index)), spec, config)
                    if role == "kv_heads":  # each query head of the group
                        heads = (heads.unsqueeze(1) * group + torch.arange(group)).reshape(-1)
                        per_index = per_index.repeat_interleave(group)
                    out["heads"][layer].index_add_(0, heads, per_index)
        return {
            "ffn": [s.sqrt() for s in out["ffn"]],
            "heads": [s.sqrt() for s in out["heads"]],
            "hidden": out["hidden"].sqrt(),
        }
