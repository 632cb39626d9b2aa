"""Layer-selection strategies: which layers to remove. See :mod:`lamina.strategies.base`.

Every module of this package is imported by the registry when a strategy is first looked up."""

from lamina.strategies.base import (
    STRATEGIES,
    Strategy,
    available_strategies,
    get_strategy,
    register_strategy,
    resolve_drop_count,
    select_decoder_layers,
    select_layers,
)

__all__ = [
    "STRATEGIES",
    "Strategy",
    "available_strategies",
    "get_strategy",
    "register_strategy",
    "resolve_drop_count",
    "select_decoder_layers",
    "select_layers",
]
