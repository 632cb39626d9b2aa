from lamina.strategies.base import Strategy, TokenOptions, register_strategy


@register_strategy("contribution")
class Contribution(Strategy):
    """Drop the K layers whose output is most similar (cosine) to their input (Sajjad et al.).

    Ties go to the higher layer. ``token=all`` averages the cosine over every real token,
    which ranks layers exactly as ShortGPT's Block Influence (BI = 1 − E_t[cos], Men et al.
    2024); ``token=last`` reads the last real token only (the default for decoders).
    """

    needs_calibration = True
    Options = TokenOptions

    def layers_to_drop(self, num_layers, k, stats=None):
        cos = stats.contribution()
        order = sorted(range(num_layers), key=lambda i: (-round(float(cos[i]), 12), -i))
        return sorted(order[:k])
