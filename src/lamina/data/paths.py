"""Where data lives: an explicit ``--data-dir`` or the ``LAMINA_DATA_DIR`` environment variable."""

from __future__ import annotations

import os
from pathlib import Path

from lamina.errors import LaminaError

DATA_DIR_ENV = "LAMINA_DATA_DIR"


def data_dir(explicit: str | os.PathLike | None = None, *, required: bool = True) -> Path | None:
    value = explicit or os.environ.get(DATA_DIR_ENV)
    if not value:
        if required:
            raise LaminaError(f"no data folder: pass --data-dir DIR or set {DATA_DIR_ENV}")
        return None
    path = Path(value).expanduser()
    if not path.is_dir():
        raise LaminaError(f"data folder not found: {path}")
    return path
