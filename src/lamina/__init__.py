"""lamina: make transformer models shallower and smaller, then teach them back.

Every command is also a function here (``lamina.prune``, ``lamina.distill``, ``lamina.evaluate``, ...;
see :mod:`lamina.api`), made on first use so that ``import lamina`` stays light.
"""

from lamina.errors import LaminaError

__version__ = "0.2.0"

__all__ = ["LaminaError", "__version__"]


def __getattr__(name: str):
    import importlib.util

    if name.startswith("_") or importlib.util.find_spec(f"lamina.{name}") is not None:
        raise AttributeError(f"module 'lamina' has no attribute '{name}'")  # (a submodule: the import system's)
    from lamina import api

    fn = api.function(name)
    globals()[name] = fn
    return fn


def __dir__():
    from lamina import api

    return sorted({*globals(), *api.names()})
