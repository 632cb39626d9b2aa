"""A name → entry registry, the one mechanism behind every extension point.

Strategies, losses, tasks, distillation methods and commands (workflows) are each a
``Registry``. An entry is registered where it is defined (a class decorator, or
:meth:`Registry.add` for instances), and a registry that names its ``package`` imports
every module of that package the first time it is asked for a name, so a new strategy,
loss, task, method or command is one new file in its folder and no other edit. Code
outside lamina registers its own entries the same way (importing its module first).

Discovery imports every module of a registry's package, so those modules stay light: the
command line builds its options and lists the registries from them without loading torch or
transformers. A module that a registry discovers imports heavy libraries inside the functions
that use them, or names them with :func:`lazy_import` (``torch = lazy_import("torch")``),
and its type hints are strings (``from __future__ import annotations``).
"""

from __future__ import annotations

import importlib
import pkgutil

from lamina.errors import LaminaError


class lazy_import:
    """A module imported on first use: ``torch = lazy_import("torch")`` at the top of a module
    binds ``torch`` without importing it; the first attribute read (``torch.zeros``) does. For
    modules whose every function uses the library; a class statement that needs it (a subclass
    of ``torch.nn.Module``) still imports it when the class is defined."""

    def __init__(self, name: str):
        self.__dict__["_name"] = name

    def __getattr__(self, attr: str):
        module = self.__dict__.get("_module")
        if module is None:
            module = self.__dict__["_module"] = importlib.import_module(self._name)
        return getattr(module, attr)

    def __repr__(self) -> str:
        return f"<lazy module '{self._name}'>"


class Registry:
    def __init__(self, kind: str, package: str | None = None):
        self.kind = kind
        self.package = package
        self._entries: dict[str, object] = {}
        self._discovered = package is None

    def _discover(self) -> None:
        if self._discovered:
            return
        self._discovered = True  # first, so that modules importing the registry do not recurse
        pkg = importlib.import_module(self.package)
        for info in pkgutil.iter_modules(pkg.__path__):
            if not info.name.startswith("_"):
                importlib.import_module(f"{self.package}.{info.name}")

    def add(self, name: str, entry) -> None:
        if name in self._entries:
            raise ValueError(f"{self.kind} '{name}' is registered twice")
        self._entries[name] = entry

    def register(self, name: str):
        """Class decorator: register under ``name`` and set ``cls.name``."""

        def decorator(cls):
            self.add(name, cls)
            cls.name = name
            return cls

        return decorator

    def remove(self, name: str) -> None:
        """Forget an entry (tests that register a toy extension clean up with this)."""
        self._entries.pop(name, None)

    @property
    def entries(self) -> dict[str, object]:
        self._discover()
        return self._entries

    def names(self) -> list[str]:
        return sorted(self.entries)

    def __contains__(self, name: str) -> bool:
        return name in self.entries

    def get(self, name: str):
        if name not in self.entries:
            raise LaminaError(f"unknown {self.kind} '{name}'; available: {', '.join(self.names())}")
        return self._entries[name]
