"""Where a training run keeps its checkpoints until the output is complete.

``OUT.work/`` (a sibling of the output folder) holds the Trainer's checkpoints and
TensorBoard logs while training runs. The finished model is written to a temporary
folder and renamed to ``OUT`` in one step, so ``OUT`` only exists once it is complete;
``--resume`` continues from the last checkpoint in ``OUT.work``.

A checkpoint is *complete* when it holds the model weights (``model.safetensors``,
``pytorch_model.bin``, a sharded index of either, or PEFT adapter weights) and
``trainer_state.json``: the HF Trainer (``Trainer._save_checkpoint``) writes the weights
first, then optimizer, scheduler and RNG states, and ``trainer_state.json`` last. A run
killed while it writes ``checkpoint-N`` leaves a folder without them; such a folder is
never resumed from. With ``--resume`` the newest complete checkpoint is used, and the
incomplete ones are named and removed (the Trainer would otherwise count them as saved
checkpoints).
"""

from __future__ import annotations

import shutil
from contextlib import contextmanager
from pathlib import Path

from lamina.errors import LaminaError
from lamina.io import check_output_dir

WEIGHT_FILES = (
    "model.safetensors",
    "model.safetensors.index.json",
    "pytorch_model.bin",
    "pytorch_model.bin.index.json",
    "adapter_model.safetensors",
    "adapter_model.bin",
)
TRAINER_STATE = "trainer_state.json"


def work_dir_for(output: str | Path) -> Path:
    out = Path(output).expanduser()
    return out.with_name(out.name + ".work")


def _step(path: Path) -> int:
    tail = path.name.split("-")[-1]
    return int(tail) if tail.isdigit() else -1


def checkpoints(work: Path) -> list[Path]:
    """The ``checkpoint-N`` folders in ``work``, oldest step first."""
    if not work.is_dir():
        return []
    return sorted((p for p in work.glob("checkpoint-*") if p.is_dir() and _step(p) >= 0), key=_step)


def incomplete_reason(checkpoint: Path) -> str | None:
    """What ``checkpoint`` lacks to be resumed from (``None`` when it is complete)."""
    missing = []
    if not any((checkpoint / name).is_file() for name in WEIGHT_FILES):
        missing.append("model weights")
    if not (checkpoint / TRAINER_STATE).is_file():
        missing.append(TRAINER_STATE)
    return f"no {' and no '.join(missing)}" if missing else None


def last_checkpoint(work: Path) -> Path | None:
    """The newest complete checkpoint in ``work``, or ``None``."""
    complete = [c for c in checkpoints(work) if incomplete_reason(c) is None]
    return complete[-1] if complete else None


# settings a resumed run may change: where things are and how the run talks, never what it computes
FREE_ON_RESUME = (
    "output",
    "resume",
    "overwrite",
    "progress",
    "keep_checkpoints",
    "data_dir",
    "logging_steps",
    "eval_batch_size",
    "cache_dir",
)
SETTINGS_FILE = "run_settings.json"


def run_settings(cfg) -> dict:
    """What decides a run's result: its whole config (as JSON) minus :data:`FREE_ON_RESUME` and the
    command's own ``free_on_resume`` names."""
    free = set(FREE_ON_RESUME) | set(getattr(cfg, "free_on_resume", ()))
    return {k: v for k, v in cfg.model_dump(mode="json").items() if k not in free}


def prepare_work_dir(cfg, *, log=print, found=checkpoints, incomplete=incomplete_reason) -> tuple[Path, Path | None]:
    """Check the output and work folders of the run ``cfg`` (its ``output``, ``resume`` and
    ``overwrite``); return ``(work_dir, checkpoint_to_resume_or_None)``.

    A run that starts records :func:`run_settings` in ``work/run_settings.json`` (:func:`begin_work`,
    called as its training starts); a run that resumes must have the same settings, else one error line names each that differs and
    the work folder is left as it is (the check comes before anything is removed).
    ``log`` gets one line per incomplete checkpoint skipped (and removed) when resuming.
    ``found`` (``work -> folders, oldest first``) and ``incomplete`` (``folder -> reason or
    None``) say what a checkpoint is: by default the Trainer's ``checkpoint-N`` folders; a
    command that keeps its own (``lottery``'s finished rounds) passes its own."""
    output, resume, overwrite = cfg.output, cfg.resume, cfg.overwrite
    work = work_dir_for(output)
    check_output_dir(output, overwrite=overwrite)
    if overwrite and work.exists():
        shutil.rmtree(work)
    listed = found(work)
    broken = {c: r for c in listed if (r := incomplete(c)) is not None}
    complete = [c for c in listed if c not in broken]
    ckpt = complete[-1] if complete else None
    why = "; ".join(f"{c.name} is incomplete ({r})" for c, r in broken.items())
    if resume:
        if ckpt is None:
            if broken:
                raise LaminaError(
                    f"nothing to resume: no complete checkpoint in {work} ({why}; a run stopped while saving "
                    "leaves one half-written): use --overwrite instead of --resume to start again"
                )
            raise LaminaError(f"nothing to resume: no checkpoint in {work}")
        check_same_settings(work, run_settings(cfg), resume=True, renamed=_renamed(cfg))
        for c, reason in broken.items():
            log(
                f"skipping incomplete checkpoint {c} ({reason}: half-written when the run stopped); "
                f"removed it, resuming from {ckpt.name}"
            )
            shutil.rmtree(c, ignore_errors=True)
        return work, ckpt
    if work.exists() and any(p.name != SETTINGS_FILE for p in work.iterdir()):
        if ckpt is None:
            found = why if broken else "it holds no checkpoint"
            raise LaminaError(
                f"an interrupted run left {work}, but nothing can be resumed ({found}): use --overwrite to start again"
            )
        raise LaminaError(
            f"an interrupted run left {work}: add --resume to continue it (from {ckpt.name}) "
            "or --overwrite to start again"
        )
    return work, None


@contextmanager
def no_trace_if_refused(work: Path):
    """Around the set-up that may still refuse the run (a Trainer's ``__init__`` creates ``work``, a
    method checks its data there): a work folder that did not exist before is removed on failure."""
    existed = work.exists()
    try:
        yield
    except BaseException:
        if not existed:
            shutil.rmtree(work, ignore_errors=True)
        raise


def begin_work(work: Path, cfg) -> None:
    """Record what decides the result of the run ``cfg`` in ``work`` as its training starts (a fresh
    run; a resumed one was checked by :func:`prepare_work_dir`). Not earlier: a run refused while it
    loads its model or data leaves no work folder behind."""
    if not cfg.resume:
        check_same_settings(work, run_settings(cfg), resume=False)


def _renamed(cfg) -> dict:
    return type(cfg).renamed_settings() if hasattr(type(cfg), "renamed_settings") else {}


def check_same_settings(
    work: Path, settings: dict, *, resume: bool, name: str = SETTINGS_FILE, renamed: dict | None = None
) -> None:
    """A run that starts keeps ``settings`` (what decides its result) in ``work/name``; a run that
    resumes must have the interrupted run's: else one error line naming what differs. ``renamed``
    (old name → new) reads a settings file written before a setting was renamed."""
    import json

    from lamina.io import write_json

    now = json.loads(json.dumps(settings, default=str))
    path = work / name
    if not resume:
        work.mkdir(parents=True, exist_ok=True)
        write_json(path, now)
        return
    try:
        before = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError, UnicodeDecodeError):
        raise LaminaError(
            f"cannot resume: {path} (the interrupted run's settings) is missing or unreadable; "
            "use --overwrite to start again"
        ) from None
    if renamed and isinstance(before, dict):
        from lamina.config import upgrade_renamed

        before = upgrade_renamed(before, renamed)
    changed = [
        f"{k} {now.get(k)!r} (was {before.get(k)!r})"
        for k in sorted(set(now) | set(before))
        if now.get(k) != before.get(k)
    ]
    if changed:
        raise LaminaError(
            f"cannot resume {work}: other settings than the interrupted run's: "
            f"{'; '.join(changed)} (resume with the same settings, or use --overwrite)"
        )
