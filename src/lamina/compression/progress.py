"""Phase, candidate and time left: on the terminal, and in ``OUT.work/progress.json`` (the seconds
spent there count against ``--time-budget`` when a killed run resumes)."""

from __future__ import annotations

import time
from pathlib import Path


class Progress:
    """Phase, candidate and time left on the terminal, and in ``OUT.work/progress.json``."""

    def __init__(self, path: Path, budget_s: float, log, spent_before: float = 0.0):
        self.path, self.budget_s, self.log = path, budget_s, log
        self.t0, self.before = time.time(), spent_before
        self.phases: dict[str, float] = {}
        self.phase, self.phase_t0 = None, self.t0

    def spent(self) -> float:
        return self.before + time.time() - self.t0

    def left(self) -> float:
        return self.budget_s - self.spent()

    def start(self, phase: str) -> None:
        self.end()
        self.phase, self.phase_t0 = phase, time.time()

    def end(self) -> None:
        if self.phase:
            self.phases[self.phase] = round(self.phases.get(self.phase, 0.0) + time.time() - self.phase_t0, 2)
            self.phase = None

    def say(self, text: str) -> None:
        self.log(f"[{self.phase}] {text} ({max(self.left(), 0) / 60:.1f} min left)")
        if self.path.parent.is_dir():
            from lamina.io import write_json

            write_json(
                self.path,
                {"phase": self.phase, "message": text, "seconds_spent": round(self.spent(), 2), "phases": self.phases},
            )
