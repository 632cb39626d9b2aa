"""The distillation collator: the objective's collator, plus each example's dataset index
(``idx``, which the teacher-output cache reads), and for a teacher with its own tokenizer
its own padded inputs (``teacher_inputs[str(i)]``, from the ``teacher{i}_*`` columns)."""

from __future__ import annotations

import torch


class DistillCollator:
    def __init__(self, collator, teacher_collators: dict | None = None):
        self.collate = collator
        self.teacher_collators = teacher_collators or {}

    def __call__(self, features):
        idx = [f["idx"] for f in features] if "idx" in features[0] else None
        own = {}
        for i, collate in self.teacher_collators.items():
            prefix = f"teacher{i}_"
            if prefix + "input_ids" not in features[0]:  # evaluation sets: the student alone reads them
                continue
            own[str(i)] = dict(
                collate([{k.removeprefix(prefix): v for k, v in f.items() if k.startswith(prefix)} for f in features])
            )
        plain = [{k: v for k, v in f.items() if k != "idx" and not k.startswith("teacher")} for f in features]
        batch = self.collate(plain)
        if idx is not None:
            batch["idx"] = torch.tensor(idx, dtype=torch.long)
        if own:
            batch["teacher_inputs"] = own
        return batch
