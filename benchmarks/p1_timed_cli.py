"""Run a `lamina` command in-process, exactly as the CLI does, and time its phases.

    python benchmarks/p1_timed_cli.py --json OUT.json -- distill --teacher ... (any lamina arguments)

Used by benchmarks/p1_epoch.sh (P1 (b), issue 4). The command runs through lamina's own
CLI entry point (`lamina.cli.app`); the only additions are perf_counter stamps around
`TeacherCache.build_or_open` (the teacher-output cache: build or reuse) and
`Trainer.train` (the training loop, with its end-of-epoch evaluation and checkpoint),
written to OUT.json with the total in-process time.
"""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path

T0 = time.perf_counter()


def timed(fn, phases: dict, key: str):
    """``fn`` wrapped to add its run time (perf_counter seconds) to ``phases[key]``."""

    def wrapper(*a, **k):
        t = time.perf_counter()
        try:
            return fn(*a, **k)
        finally:
            phases[key] = phases.get(key, 0.0) + time.perf_counter() - t

    return wrapper


def main() -> None:
    argv = sys.argv[1:]
    if "--" not in argv or argv.index("--") != 2 or argv[0] != "--json":
        sys.exit("usage: p1_timed_cli.py --json OUT.json -- LAMINA_ARGS...")
    out, args = Path(argv[1]), argv[3:]

    from transformers import Trainer

    from lamina.cli import app
    from lamina.distillation import cache as cache_mod

    phases: dict[str, float] = {}
    build = cache_mod.TeacherCache.build_or_open.__func__
    cache_mod.TeacherCache.build_or_open = classmethod(timed(build, phases, "cache_build_or_open_seconds"))
    Trainer.train = timed(Trainer.train, phases, "trainer_train_seconds")
    code = 0
    try:
        rv = app(args, prog_name="lamina", standalone_mode=False)  # click returns the exit code here
        code = rv if isinstance(rv, int) else 0
    except SystemExit as exc:
        code = exc.code or 0
    phases["in_process_seconds"] = time.perf_counter() - T0
    out.parent.mkdir(parents=True, exist_ok=True)
    import lamina

    src = Path(lamina.__file__).resolve().parents[1]
    commit = (src.parent / "COMMIT").read_text().strip() if (src.parent / "COMMIT").is_file() else None
    out.write_text(
        json.dumps(
            {
                "command": "lamina " + " ".join(args),
                "exit_code": code,
                "lamina_src": str(src),
                "lamina_commit_snapshot": commit,
                **{k: round(v, 3) for k, v in phases.items()},
            },
            indent=2,
        )
    )
    print(json.dumps(phases))
    sys.exit(code)


if __name__ == "__main__":
    main()
