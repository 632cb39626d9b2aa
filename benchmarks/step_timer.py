"""The step timer every training benchmark here uses: a TrainerCallback stamping the start of
training and the end of every step (perf_counter), so step time = interval between stamps;
and the loop the cost benchmarks share: variants measured in alternated rounds
(:func:`alternated_rounds`), each run's median step after its warm-up (:func:`median_step`),
and the cost table written as ``cost.json`` + ``cost.md`` (:func:`cost_table`, :func:`write_cost`)."""

from __future__ import annotations

import json
import statistics
import time
from pathlib import Path

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


# ---------------------------------------------------------------- alternated rounds


def alternated_rounds(names: list[str], rounds: int, measure, *, after_round=None) -> list[dict]:
    """Measure every variant in ``names`` once per round, ``measure(name, round)`` each, the order
    rotated by one each round (two variants: alternated), so slow drift of the machine and
    warm caches fall on every variant alike. Returns ``[{"order": [...], "runs": {name:
    figure}}]``, one entry a round (``runs`` in the order run); ``after_round(entry)`` is called
    as each round ends."""
    out = []
    for r in range(rounds):
        k = r % len(names)
        order = names[k:] + names[:k]
        entry = {"order": order, "runs": {name: measure(name, r) for name in order}}
        out.append(entry)
        if after_round is not None:
            after_round(entry)
    return out


def median_step(run, *, skip: int = 2) -> float:
    """``run(timer)`` trains with a fresh :class:`StepTimer` as a callback; the median step time
    after its first ``skip`` steps (the warm-up)."""
    timer = StepTimer()
    run(timer)
    return statistics.median(timer.steps[skip:])


def per_variant(rounds: list[dict], key=None) -> dict[str, list]:
    """``{name: [its figure in each round]}`` from :func:`alternated_rounds` (``key`` picks the
    figure out of a run's result)."""
    names = rounds[0]["order"] if rounds else []  # round 0 runs them in the order given
    return {n: [r["runs"][n] if key is None else r["runs"][n][key] for r in rounds] for n in names}


def cost_table(rows: list[tuple[str, str]]) -> list[str]:
    """A two-column markdown table (``| what | value |``) of the rows."""
    return ["| what | value |", "|---|---:|", *(f"| {what} | {value} |" for what, value in rows)]


def write_cost(out: Path, result: dict, lines: list[str], *, indent: int = 1) -> None:
    """``out/cost.json`` (the result) and ``out/cost.md`` (the lines), and print the lines."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "cost.json").write_text(json.dumps(result, indent=indent) + "\n")
    (out / "cost.md").write_text("\n".join(lines) + "\n")
    print("\n".join(lines))
