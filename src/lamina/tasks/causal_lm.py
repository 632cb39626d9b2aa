"""causal-lm: next-token prediction on plain-text corpora (``--task causal-lm --corpus FILE``).

Text blocks as in ``mlm`` (lines tokenized, concatenated, cut into ``--max-length`` blocks),
every token predicted from the ones before it. Scored by the loss and perplexity on a fixed
evaluation set (``--eval-corpus``, or ``--eval-fraction`` of the corpus held out; lower is
better). Used by ``lamina finetune`` (LM fine-tuning, e.g. healing a depth-pruned decoder),
``lamina distill`` (token-level logit KD from the full model) and ``lamina eval`` (also
generation speed with the KV cache).
"""

from __future__ import annotations

from dataclasses import dataclass

from lamina.tasks.base import register_task
from lamina.tasks.mlm import CorpusOptions, MaskedLMTask

CAUSAL_LM_TASK_NAME = "causal-lm"


@dataclass
class CausalLMTask(MaskedLMTask):
    @property
    def objective(self):
        from lamina.tasks.objectives.causal_lm import CausalLM

        return CausalLM

    @classmethod
    def from_options(cls, corpus=None, eval_corpus=None, eval_fraction=0.05):
        corpus = tuple(corpus or ())
        text = ", ".join(f"`{c}`" for c in corpus) or "your text corpus (corpus=FILE)"
        return cls(
            CAUSAL_LM_TASK_NAME,
            ("loss", "perplexity"),
            None,
            f"causal language modelling on {text}",
            corpus=corpus,
            eval_corpus=tuple(eval_corpus or ()),
            eval_fraction=eval_fraction,
        )


register_task(CausalLMTask.from_options, name=CAUSAL_LM_TASK_NAME, options=CorpusOptions)
