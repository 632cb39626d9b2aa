"""The lifelong methods (``lamina lifelong --method``): what each does around the new task.

A method says whether it *replays* (samples pseudo-examples of the earlier tasks from their task
tokens before each new task, LAMOL) and how its per-task *teacher* (the starting model fine-tuned
on the new task alone, L2KD) makes the new task's rows (``kd_rows``):

- ``word-kd``: the gold example, learnt as KL to the teacher's distribution (soft targets);
- ``seq-kd-soft``: the teacher's greedy answer replaces the gold one, learnt as KL;
- ``seq-kd``: the teacher's greedy answer replaces the gold one, learnt as NLL;
- ``None``: no teacher; the gold example, learnt as NLL.

Pseudo-examples are always learnt with NLL. Not to be confused with ``lamina.distillation.methods``
(the distillation methods of ``lamina distill``). ``LIFELONG_METHODS`` is in the order the
L2KD tables list them (``benchmarks/l2kd_tables.py`` reads it).
"""

from __future__ import annotations

from dataclasses import dataclass

KD_ROWS = ("word-kd", "seq-kd-soft", "seq-kd")


@dataclass(frozen=True)
class LifelongMethod:
    name: str
    title: str  # its row in the L2KD tables
    replays: bool  # pseudo-data of the earlier tasks next to the new task
    kd_rows: str | None = None  # how the teacher makes the new task's rows (one of KD_ROWS), None: no teacher

    def __post_init__(self):
        if self.kd_rows is not None and self.kd_rows not in KD_ROWS:
            raise ValueError(f"lifelong method {self.name}: kd_rows is one of {KD_ROWS}, not {self.kd_rows!r}")

    @property
    def uses_teacher(self) -> bool:
        return self.kd_rows is not None

    @property
    def teacher_answers(self) -> bool:
        """The teacher's greedy answers replace the gold ones (Seq-KD, Seq-KD-soft)."""
        return self.kd_rows in ("seq-kd-soft", "seq-kd")

    @property
    def soft_targets(self) -> bool:
        """The new task's rows are learnt as KL to the teacher (Word-KD, Seq-KD-soft), else as NLL."""
        return self.kd_rows in ("word-kd", "seq-kd-soft")


LIFELONG_METHODS: dict[str, LifelongMethod] = {
    m.name: m
    for m in (
        LifelongMethod("finetune", "Fine-tune", replays=False),
        LifelongMethod("lamol", "LAMOL", replays=True),
        LifelongMethod("word-kd", "+ Word-KD", replays=True, kd_rows="word-kd"),
        LifelongMethod("seq-kd-soft", "+ Seq-KD-soft", replays=True, kd_rows="seq-kd-soft"),
        LifelongMethod("seq-kd", "+ Seq-KD", replays=True, kd_rows="seq-kd"),
    )
}
METHOD_NAMES = tuple(LIFELONG_METHODS)


def get_method(name: str) -> LifelongMethod:
    from lamina.errors import LaminaError

    if name not in LIFELONG_METHODS:
        raise LaminaError(f"unknown lifelong method '{name}': one of {', '.join(METHOD_NAMES)}")
    return LIFELONG_METHODS[name]
