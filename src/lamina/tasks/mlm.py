"""mlm: masked language modelling on plain-text corpora (``--task mlm --corpus FILE``).

Text blocks instead of labelled examples, masked afresh every training step; scored by the
masked-LM loss and perplexity on a fixed evaluation set masked once from the seed (lower is
better). Used by ``lamina distill`` (DistilBERT-style MLM distillation), ``lamina finetune``
(continued MLM training) and ``lamina eval``.
"""

from __future__ import annotations

from dataclasses import dataclass

from pydantic import Field

from lamina.tasks.base import Task, TaskOptions, register_task


class CorpusOptions(TaskOptions):
    corpus: list[str] | None = Field(None, description="Plain-text training file (repeat for several).")
    eval_corpus: list[str] | None = Field(
        None, description="Plain-text evaluation file (default: eval_fraction of the corpus held out)."
    )
    eval_fraction: float = Field(0.05, gt=0, lt=1, description="Share of the corpus held out when no eval_corpus.")

    def check_run(self, task_name: str) -> None:
        from lamina.errors import LaminaError

        if not self.corpus:
            raise LaminaError(f"--task {task_name} needs a text corpus: --corpus FILE")


class MaskedLMOptions(CorpusOptions):
    mlm_probability: float = Field(0.15, gt=0, lt=1, description="Share of tokens masked.")


MLM_TASK_NAME = "mlm"


@dataclass
class MaskedLMTask(Task):
    corpus: tuple[str, ...] = ()
    eval_corpus: tuple[str, ...] = ()
    mlm_probability: float = 0.15
    eval_fraction: float = 0.05  # held out of the corpus when no evaluation corpus is given

    @property
    def objective(self):
        from lamina.tasks.objectives.masked_lm import MaskedLM

        return MaskedLM

    @classmethod
    def from_options(cls, corpus=None, eval_corpus=None, mlm_probability=0.15, eval_fraction=0.05):
        corpus = tuple(corpus or ())
        text = ", ".join(f"`{c}`" for c in corpus) or "your text corpus (corpus=FILE)"
        return cls(
            MLM_TASK_NAME,
            ("loss", "perplexity"),
            None,
            f"masked language modelling on {text}",
            corpus=corpus,
            eval_corpus=tuple(eval_corpus or ()),
            mlm_probability=mlm_probability,
            eval_fraction=eval_fraction,
        )

    def load(self, data_dir: str | None = None):
        """The corpus lines as a ``train`` split with a ``text`` column (for calibration)."""
        import datasets

        from lamina.data.corpus import read_corpus

        return datasets.DatasetDict({"train": datasets.Dataset.from_dict({"text": read_corpus(list(self.corpus))})})


register_task(MaskedLMTask.from_options, name=MLM_TASK_NAME, options=MaskedLMOptions)
