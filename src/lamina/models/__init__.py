"""Models: architecture adapters, layer surgery, loading of paths/hub ids/bundled aliases."""

from lamina.models.adapters import ArchitectureAdapter, get_adapter, register_adapter, supported_architectures
from lamina.models.surgery import drop_layers

__all__ = [
    "ArchitectureAdapter",
    "drop_layers",
    "get_adapter",
    "register_adapter",
    "supported_architectures",
]
