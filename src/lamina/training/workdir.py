"""Where a training run keeps its checkpoints until the output is complete.

``OUT.work/`` (a sibling of the output folder) holds the Trainer's checkpoints and
TensorBoard logs while training runs. The finished model is written to a temporary
folder and renamed to ``OUT`` in one step, so ``OUT`` only exists once it is complete;
``--resume`` continues from the last checkpoint in ``OUT.work``.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from lamina.errors import LaminaError
from lamina.io import check_output_dir


def work_dir_for(output: str | Path) -> Path:
    out = Path(output).expanduser()
    return out.with_name(out.name + ".work")


def last_checkpoint(work: Path) -> Path | None:
    checkpoints = sorted(work.glob("checkpoint-*"), key=lambda p: int(p.name.split("-")[-1]) if p.name.split("-")[-1].isdigit() else -1)
    return checkpoints[-1] if checkpoints else None


def prepare_work_dir(output: str | Path, *, resume: bool, overwrite: bool) -> tuple[Path, Path | None]:
    """Check the output and work folders; return ``(work_dir, checkpoint_to_resume_or_None)``."""
    work = work_dir_for(output)
    check_output_dir(output, overwrite=overwrite)
    if overwrite and work.exists():
        shutil.rmtree(work)
    if resume:
        ckpt = last_checkpoint(work) if work.is_dir() else None
        if ckpt is None:
            raise LaminaError(f"nothing to resume: no checkpoint in {work}")
        return work, ckpt
    if work.exists() and any(work.iterdir()):
        raise LaminaError(
            f"an interrupted run left {work}: add --resume to continue it or --overwrite to start again"
        )
    return work, None  # the Trainer creates it when it first writes
