from lamina.registry import lazy_import
from lamina.strategies.base import Strategy, TokenOptions, register_strategy

np = lazy_import("numpy")  # (the strategy registry imports this module)


@register_strategy("angular")
class Angular(Strategy):
    """Drop the contiguous block of K layers whose input and output are closest in angle
    (Gromov et al. 2024, "The Unreasonable Ineffectiveness of the Deeper Layers")."""

    needs_calibration = True
    Options = TokenOptions  # token=last as in the paper (decoders' default), or all

    def layers_to_drop(self, num_layers, k, stats=None):
        start = int(np.argmin(stats.block_angular(k)))
        return list(range(start, start + k))
