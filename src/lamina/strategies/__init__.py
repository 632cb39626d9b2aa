"""Layer-selection strategies: which layers to remove. See :mod:`lamina.strategies.base`."""

from lamina.strategies import alternate, angular, bottom, contribution, explicit, symmetric, top  # noqa: F401
from lamina.strategies.base import (
    Strategy,
    available_strategies,
    get_strategy,
    register_strategy,
    resolve_drop_count,
    select_layers,
)

__all__ = [
    "Strategy",
    "available_strategies",
    "get_strategy",
    "register_strategy",
    "resolve_drop_count",
    "select_layers",
]
