"""``lamina quickstart``: the embedded default as a recipe shipped inside the package
(``lamina/recipes/builtin/quickstart.yaml``), run by the same runner as ``lamina run``."""

from __future__ import annotations

from pathlib import Path

RECIPE = Path(__file__).parent / "recipes" / "builtin" / "quickstart.yaml"
