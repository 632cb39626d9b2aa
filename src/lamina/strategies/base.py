"""The layer-selection strategy registry.

A strategy decides *which* ``k`` of ``n`` layers to drop. Adding one is one small file:

.. code-block:: python

    from lamina.strategies.base import Strategy, register_strategy

    @register_strategy("every-third")
    class EveryThird(Strategy):
        \"\"\"Drop every third layer from the top.\"\"\"

        def layers_to_drop(self, num_layers, k, stats=None):
            return list(range(num_layers - 1, -1, -3))[:k]

in a new file of :mod:`lamina.strategies` (the registry imports every module of the
package), or in your own code before calling lamina. Strategies that need calibration data
set ``needs_calibration = True`` and read the :class:`~lamina.analysis.LayerStats` they
are given. A strategy with settings declares them as a pydantic ``Options`` model; they
reach it as ``--strategy-option NAME=VALUE`` on the command line and ``strategy_options:``
in config files and recipes, validated against that model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, ClassVar, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from lamina.errors import LaminaError
from lamina.registry import Registry

if TYPE_CHECKING:
    from lamina.analysis.layer_stats import LayerStats


class NoOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")


class TokenOptions(BaseModel):
    """Which tokens the calibration statistics average over."""

    model_config = ConfigDict(extra="forbid")
    token: Literal["auto", "last", "all"] = Field(
        "auto",
        description="Tokens the layer statistics average over: last (the last real token; Gromov et al.), "
        "all (every real token; ShortGPT's Block Influence), auto (last for decoders, all for encoders).",
    )


class Strategy:
    name: ClassVar[str] = ""
    needs_calibration: ClassVar[bool] = False
    Options: ClassVar[type[BaseModel]] = NoOptions  # the strategy's own settings

    def __init__(self, **options):
        self.options = self.Options(**options)

    def layers_to_drop(self, num_layers: int, k: int, stats: LayerStats | None = None) -> list[int]:
        raise NotImplementedError

    @property
    def calibration_token(self) -> str | None:
        """The tokens its calibration statistics average over ("last"/"all"); None: the model's
        default (the last real token for decoders, every token for encoders)."""
        token = getattr(self.options, "token", "auto")
        return None if token == "auto" else token

    @classmethod
    def describe(cls) -> str:
        return (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""

    @classmethod
    def data_free(cls) -> bool:
        return not cls.needs_calibration


STRATEGIES = Registry("strategy", package="lamina.strategies")
register_strategy = STRATEGIES.register


def available_strategies(*, data_free: bool = False) -> list[str]:
    return [n for n in STRATEGIES.names() if not data_free or STRATEGIES.get(n).data_free()]


def get_strategy(name: str, **options) -> Strategy:
    cls = STRATEGIES.get(name)
    try:
        return cls(**options)
    except ValidationError as exc:
        err = exc.errors()[0]
        where = ".".join(map(str, err["loc"]))
        known = ", ".join(cls.Options.model_fields) or "none"
        if err["type"] == "extra_forbidden":
            raise LaminaError(f"strategy '{name}' has no option '{where}' (its options: {known})") from None
        raise LaminaError(f"strategy '{name}' option {where}: {err['msg'].removeprefix('Value error, ')}") from None


def resolve_drop_count(num_layers: int, drop: int | None = None, keep: int | None = None) -> int:
    """Turn ``--drop K`` or ``--keep N`` into K, checking it is possible."""
    if (drop is None) == (keep is None):
        raise LaminaError("give exactly one of drop (layers to remove) or keep (layers to leave)")
    if keep is not None:
        if not 1 <= keep <= num_layers:
            raise LaminaError(f"cannot keep {keep} layers: the model has {num_layers}; keep 1..{num_layers}")
        return num_layers - keep
    if drop < 0:
        raise LaminaError(f"cannot drop {drop} layers: the count must be 0 or more")
    if drop >= num_layers:
        raise LaminaError(
            f"cannot drop {drop} layers: the model has {num_layers} and at least one must stay "
            f"(drop 0..{num_layers - 1})"
        )
    return drop


def select_layers(
    strategy: Strategy,
    num_layers: int,
    *,
    drop: int | None = None,
    keep: int | None = None,
    stats: LayerStats | None = None,
) -> list[int]:
    """Indices of the layers to keep, sorted."""
    explicit_keep = getattr(strategy, "keep_layers", None)
    if explicit_keep is not None:
        k = num_layers - len(explicit_keep)
    else:
        k = resolve_drop_count(num_layers, drop, keep)
    if strategy.needs_calibration:
        if stats is None:
            raise LaminaError(f"strategy '{strategy.name}' needs calibration data (--calib-data)")
        if stats.num_layers != num_layers:
            raise LaminaError(f"calibration stats cover {stats.num_layers} layers, the model has {num_layers}")
        wanted = strategy.calibration_token
        if wanted is not None and stats.token != wanted:
            raise LaminaError(
                f"strategy '{strategy.name}' asks for statistics over token={wanted}, "
                f"the calibration measured token={stats.token}"
            )
    dropped = [] if k == 0 and explicit_keep is None else strategy.layers_to_drop(num_layers, k, stats)
    if len(set(dropped)) != k or any(not 0 <= i < num_layers for i in dropped):
        raise LaminaError(f"strategy '{strategy.name}' chose invalid layers {dropped} to drop ({k} of {num_layers})")
    return [i for i in range(num_layers) if i not in set(dropped)]


def select_decoder_layers(model, strategy: Strategy, keep: int, flag: str = "--keep-decoder") -> list[int]:
    """The decoder layers an encoder-decoder keeps: ``keep`` of them, by a data-free strategy
    (calibration statistics measure the encoder's stack). ``lamina prune --keep-decoder`` and
    ``lamina distill --student-from-teacher S --keep-decoder M`` both choose through this."""
    from lamina.models.adapters import get_adapter

    adapter = get_adapter(model)
    if not adapter.is_encoder_decoder:
        raise LaminaError(f"{flag} is for encoder-decoders (BART, Marian, T5), not '{model.config.model_type}'")
    if strategy.needs_calibration:
        raise LaminaError(
            f"{flag} selects decoder layers with a data-free strategy "
            f"({', '.join(available_strategies(data_free=True))}), not '{strategy.name}'"
        )
    return select_layers(strategy, adapter.stack("decoder").num_layers(model.config), keep=keep)
