"""lamina: make transformer models shallower and smaller, then teach them back."""

from lamina.errors import LaminaError

__version__ = "0.1.0"

__all__ = ["LaminaError", "__version__"]
