"""The distillation collator: the objective's collator, plus each example's dataset index
(``idx``, which the teacher-output cache reads)."""

from __future__ import annotations

import torch


class DistillCollator:
    def __init__(self, collator):
        self.collate = collator

    def __call__(self, features):
        idx = [f["idx"] for f in features] if "idx" in features[0] else None
        batch = self.collate([{k: v for k, v in f.items() if k != "idx"} for f in features])
        if idx is not None:
            batch["idx"] = torch.tensor(idx, dtype=torch.long)
        return batch
