from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from lamina.errors import LaminaError
from lamina.strategies.base import Strategy, register_strategy


class AlternateOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    parity: Literal["odd", "even"] = Field("odd", description="drop odd (1,3,5..) or even (0,2,4..) layers")


@register_strategy("alternate")
class Alternate(Strategy):
    """Drop every other layer, from the top down (LayerDrop's every-other pruning).

    ``parity="odd"`` (default) drops layers 1, 3, 5, ... (0-based) and so keeps 0, 2, 4, ...;
    ``parity="even"`` drops 0, 2, 4, .... With K smaller than the number of candidates, the
    highest-indexed candidates go first, as in Sajjad et al.
    """

    Options = AlternateOptions

    @property
    def parity(self) -> str:
        return self.options.parity

    def layers_to_drop(self, num_layers, k, stats=None):
        first = 1 if self.parity == "odd" else 0
        candidates = list(range(first, num_layers, 2))[::-1]
        if k > len(candidates):
            raise LaminaError(
                f"alternate ({self.parity}) can drop at most {len(candidates)} of {num_layers} layers, not {k}"
            )
        return candidates[:k]
