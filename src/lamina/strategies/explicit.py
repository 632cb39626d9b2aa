from pydantic import BaseModel, ConfigDict

from lamina.errors import LaminaError
from lamina.strategies.base import Strategy, register_strategy


class ExplicitOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    layers: list[int] | None = None  # the 0-based indices to keep (``lamina prune --keep-layers``)


@register_strategy("explicit")
class Explicit(Strategy):
    """Keep exactly the listed layer indices (``--keep-layers 0,2,4``)."""

    Options = ExplicitOptions

    def __init__(self, **options):
        super().__init__(**options)
        if self.options.layers is None:
            raise LaminaError("strategy 'explicit' needs the indices of the layers to keep (--keep-layers 0,2,4)")
        self.keep_layers = list(self.options.layers)

    def layers_to_drop(self, num_layers, k, stats=None):
        from lamina.models.surgery import validate_keep

        keep = set(validate_keep(self.keep_layers, num_layers))
        return [i for i in range(num_layers) if i not in keep]
