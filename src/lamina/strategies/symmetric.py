from lamina.strategies.base import Strategy, register_strategy


@register_strategy("symmetric")
class Symmetric(Strategy):
    """Drop K middle layers, from the centre outwards, keeping the bottom and top layers.

    When the block cannot be centred exactly, the extra kept layer goes to the bottom
    (6 layers, K=3: drop 2, 3, 4).
    """

    def layers_to_drop(self, num_layers, k, stats=None):
        start = (num_layers - k + 1) // 2
        return list(range(start, start + k))
