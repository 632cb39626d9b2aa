"""Terminal tables (rich): the helpers every command's ``show`` builds its table with.

What a command prints is its own (its class's ``show``, :mod:`lamina.workflows`); this module
holds the console and the pieces they share: a table with its columns, sizes in MB, a metric's
value on its scale.
"""

from __future__ import annotations

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from lamina.eval.metrics import is_fraction

console = Console()

__all__ = ["Table", "console", "escape", "mb", "metric_cell", "table"]


def table(title: str | None = None, columns=(), justify: str = "right", **justified) -> Table:
    """A rich table with ``columns`` (right-aligned unless ``justified`` names another alignment
    for a column, e.g. ``table(None, ["split", "labels"], labels="left")``)."""
    t = Table(title=title)
    for col in columns:
        t.add_column(col, justify=justified.get(col, justify))
    return t


def mb(n: int | None) -> str:
    return "-" if n is None else f"{n / 2**20:.1f} MB"


def metric_cell(k: str, v: float) -> str:
    """A metric's value as tables show it: a fraction ×100 to two places, else four places."""
    return f"{100 * v:.2f}" if is_fraction(k, v) else f"{v:.4f}"
