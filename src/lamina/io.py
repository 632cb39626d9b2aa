"""Output folders that are either complete or absent: write to a temporary sibling, then rename."""

from __future__ import annotations

import json
import shutil
import tempfile
from contextlib import contextmanager
from pathlib import Path

from lamina.errors import LaminaError


def check_output_dir(out: str | Path, *, overwrite: bool = False) -> Path:
    out = Path(out).expanduser()
    if out.exists() and (out.is_file() or any(out.iterdir())) and not overwrite:
        raise LaminaError(f"output {out} already exists and is not empty (use --overwrite)")
    return out


_PARTIAL = ".partial-"


def final_name(folder: str | Path) -> str:
    """The name ``folder`` will have: for the temporary folder of :func:`atomic_output_dir`, the
    name of the output folder it becomes."""
    name = Path(folder).name
    if name.startswith(".") and _PARTIAL in name:
        return name[1 : name.rindex(_PARTIAL)]
    return name


@contextmanager
def atomic_output_dir(out: str | Path, *, overwrite: bool = False):
    """Yield a temporary folder; on success it replaces ``out`` in one rename, on failure it is removed."""
    out = check_output_dir(out, overwrite=overwrite)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{out.name}{_PARTIAL}", dir=out.parent))
    tmp.chmod(0o755)  # mkdtemp makes it private; the result should look like any other folder
    try:
        yield tmp
        if out.exists():
            shutil.rmtree(out) if out.is_dir() else out.unlink()
        tmp.rename(out)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)


def write_json(path: str | Path, data) -> Path:
    """Write ``data`` as JSON, atomically: a temporary file beside it, then one rename, so a
    reader (a resume, a recipe deciding what is done) sees the whole file or none."""
    path = Path(path)
    text = json.dumps(data, indent=2, default=str) + "\n"
    if path.is_symlink() or (path.exists() and not path.is_file()):  # e.g. --json /dev/stdout: write through
        path.write_text(text, encoding="utf-8")
        return path
    tmp = path.with_name(f".{path.name}.partial")
    tmp.write_text(text, encoding="utf-8")
    tmp.replace(path)
    return path
