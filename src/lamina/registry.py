"""A name → class registry, the one mechanism behind strategies and losses."""

from __future__ import annotations

from lamina.errors import LaminaError


class Registry:
    def __init__(self, kind: str):
        self.kind = kind
        self.entries: dict[str, type] = {}

    def register(self, name: str):
        """Class decorator: register under ``name`` and set ``cls.name``."""

        def decorator(cls):
            if name in self.entries:
                raise ValueError(f"{self.kind} '{name}' is registered twice")
            cls.name = name
            self.entries[name] = cls
            return cls

        return decorator

    def names(self) -> list[str]:
        return sorted(self.entries)

    def get(self, name: str) -> type:
        if name not in self.entries:
            raise LaminaError(f"unknown {self.kind} '{name}'; available: {', '.join(self.names())}")
        return self.entries[name]
