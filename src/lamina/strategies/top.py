from lamina.strategies.base import Strategy, register_strategy


@register_strategy("top")
class Top(Strategy):
    """Drop the top K layers (the most robust choice in Sajjad et al., "Poor Man's BERT")."""

    def layers_to_drop(self, num_layers, k, stats=None):
        return list(range(num_layers - k, num_layers))
