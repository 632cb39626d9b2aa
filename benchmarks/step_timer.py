"""The step timer every training benchmark here uses: a TrainerCallback stamping the start of
training and the end of every step (perf_counter), so step time = interval between stamps."""

from __future__ import annotations

import time

from transformers import TrainerCallback


class StepTimer(TrainerCallback):
    def __init__(self):
        self.stamps: list[float] = []

    def on_train_begin(self, args, state, control, **kwargs):
        self.stamps.append(time.perf_counter())

    def on_step_end(self, args, state, control, **kwargs):
        self.stamps.append(time.perf_counter())

    @property
    def steps(self) -> list[float]:
        """Seconds per step, in order (the first includes the Trainer's warm-up)."""
        return [b - a for a, b in zip(self.stamps, self.stamps[1:])]
