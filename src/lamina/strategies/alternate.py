from lamina.errors import LaminaError
from lamina.strategies.base import Strategy, register_strategy


@register_strategy("alternate")
class Alternate(Strategy):
    """Drop every other layer, from the top down (LayerDrop's every-other pruning).

    ``parity="odd"`` (default) drops layers 1, 3, 5, ... (0-based) and so keeps 0, 2, 4, ...;
    ``parity="even"`` drops 0, 2, 4, .... With K smaller than the number of candidates, the
    highest-indexed candidates go first, as in Sajjad et al.
    """

    def __init__(self, parity: str = "odd"):
        if parity not in ("odd", "even"):
            raise LaminaError(f"alternate parity must be 'odd' or 'even', not '{parity}'")
        self.parity = parity

    def layers_to_drop(self, num_layers, k, stats=None):
        first = 1 if self.parity == "odd" else 0
        candidates = list(range(first, num_layers, 2))[::-1]
        if k > len(candidates):
            raise LaminaError(
                f"alternate ({self.parity}) can drop at most {len(candidates)} of {num_layers} layers, not {k}"
            )
        return candidates[:k]
