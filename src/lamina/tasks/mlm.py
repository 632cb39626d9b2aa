"""The masked-LM objective as a task-like object, for MLM distillation (``--task mlm``)."""

from __future__ import annotations

from dataclasses import dataclass

MLM_TASK_NAME = "mlm"


@dataclass
class MaskedLMTask:
    """Text corpora instead of labelled examples; scored by MLM loss (lower is better)."""

    corpus: tuple[str, ...] = ()
    name: str = MLM_TASK_NAME
    metrics: tuple[str, ...] = ("loss", "perplexity")
    labels: tuple[str, ...] = ()
    eval_splits: tuple[str, ...] = ("dev",)
    is_regression: bool = False
    is_mlm: bool = True
    main_metric: str = "loss"
    greater_is_better: bool = False

    @property
    def description(self) -> str:
        return "masked language modelling on " + ", ".join(f"`{c}`" for c in self.corpus)


def is_mlm(task) -> bool:
    return bool(getattr(task, "is_mlm", False))
