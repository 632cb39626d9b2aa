from lamina.strategies.base import Strategy, register_strategy


@register_strategy("contribution")
class Contribution(Strategy):
    """Drop the K layers whose output is most similar (cosine) to their input (Sajjad et al.).

    Ties go to the higher layer.
    """

    needs_calibration = True

    def layers_to_drop(self, num_layers, k, stats=None):
        cos = stats.contribution()
        order = sorted(range(num_layers), key=lambda i: (-round(float(cos[i]), 12), -i))
        return sorted(order[:k])

