"""Models: architecture adapters, layer surgery, loading of paths/hub ids/bundled aliases."""

from lamina.models.adapters import ADAPTERS, ArchitectureAdapter, get_adapter, register_adapter, supported_architectures
from lamina.models.surgery import drop_layers

__all__ = [
    "ADAPTERS",
    "ArchitectureAdapter",
    "drop_layers",
    "get_adapter",
    "register_adapter",
    "supported_architectures",
]
