"""activation (Minitron, Muralidharan et al. 2024): forward passes only, on calibration text.

* an FFN neuron: its activation, what the down projection reads (after the nonlinearity and, in
  gated MLPs, the gate);
* an attention head: the L2 norm (over the head size) of its output, what the output projection reads;
* a hidden channel: the channel's value after each normalisation of the residual stream (LayerNorm /
  RMSNorm outputs, summed over the norms).

Aggregation: the magnitude |a| is averaged over an example's real tokens (padding left out), then
combined over the examples by the L2 norm: mean over the sequence, L2 over the batch, one of the
aggregations Minitron compares for its activation scores. The pass runs in eval mode under no_grad.
"""

from __future__ import annotations

from lamina.importance.base import Importance, empty_scores, input_role, is_norm, register_importance, torch


@register_importance("activation")
class Activation(Importance):
    """Mean |activation| over tokens, L2 over examples, of each neuron, head and channel (forward only)."""

    def scores(self, model, batches) -> dict:
        from lamina.models.adapters import get_adapter
        from lamina.models.width import width_spec

        spec, config = width_spec(model), model.config
        layers = get_adapter(model).num_layers(config)
        out = empty_scores(spec, config, layers)
        hd = spec.head_dim(config)
        state = {"mask": None}
        modules = dict(model.named_modules())
        hooks = []

        def per_example(a: torch.Tensor) -> torch.Tensor:
            """(B, S, U) magnitudes → (B, U): the mean over each example's real tokens."""
            mask = state["mask"]
            if mask is None or mask.shape[:2] != a.shape[:2]:
                return a.mean(dim=1)
            m = mask.to(a.dtype).unsqueeze(-1)
            return (a * m).sum(1) / m.sum(1).clamp(min=1)

        def add(target: torch.Tensor, a: torch.Tensor) -> None:
            target += (per_example(a.detach().double().abs()) ** 2).sum(0)  # sum of squares over examples

        seen = set()
        for name in model.state_dict():
            found = spec.roles_of(name)
            if found is None or not name.endswith(".weight"):
                continue
            owner = name.rsplit(".", 1)[0]
            module = modules.get(owner)
            if module is None or owner in seen:
                continue
            dims, layer = found
            role = input_role(module, dims)
            if role == "ffn":
                seen.add(owner)
                hooks.append(
                    module.register_forward_pre_hook(lambda mod, args, layer=layer: add(out["ffn"][layer], args[0]))
                )
            elif role == "heads":
                seen.add(owner)

                def heads_hook(mod, args, layer=layer):
                    x = args[0]
                    add(out["heads"][layer], x.reshape(*x.shape[:-1], -1, hd).norm(dim=-1))

                hooks.append(module.register_forward_pre_hook(heads_hook))
            elif (
                is_norm(module)
                and dims.get(0) == "hidden"
                and getattr(module, "weight", None) is not None
                and module.weight.dim() == 1
            ):
                seen.add(owner)
                hooks.append(module.register_forward_hook(lambda mod, args, output: add(out["hidden"], output)))
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                for batch in batches:
                    state["mask"] = batch.get("attention_mask")
                    model(**batch)
        finally:
            for h in hooks:
                h.remove()
            model.train(was_training)
        return {
            "ffn": [s.sqrt() for s in out["ffn"]],
            "heads": [s.sqrt() for s in out["heads"]],
            "hidden": out["hidden"].sqrt(),
        }
