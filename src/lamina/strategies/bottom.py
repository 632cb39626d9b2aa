from lamina.strategies.base import Strategy, register_strategy


@register_strategy("bottom")
class Bottom(Strategy):
    """Drop the bottom K layers (included for completeness; usually the worst)."""

    def layers_to_drop(self, num_layers, k, stats=None):
        return list(range(k))
