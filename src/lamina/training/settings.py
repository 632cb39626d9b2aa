"""The settings every training command shares: which data (TaskSettings) and how it trains
(TrainSettings). ``finetune``, ``distill`` and ``pretrain`` build their configs from these,
so one option has one name, one default and one check in every command."""

from __future__ import annotations

from typing import Literal, Optional

from pydantic import field_validator, model_validator

from lamina.config import Settings, setting

DEFAULT_MODEL = "minilm-l6"


class DataSettings(Settings):
    """Where the data is (every command that reads a task)."""

    data_dir: Optional[str] = setting(None, "GLUE-format data folder (default: $LAMINA_DATA_DIR).")


class CorpusSettings(Settings):
    """Plain-text corpora for masked-LM and causal-LM training (``--task mlm``, ``--task causal-lm``,
    ``lamina pretrain``)."""

    corpus: Optional[list[str]] = setting(None, "--task mlm/causal-lm: plain-text training file (repeat for several).")
    eval_corpus: Optional[list[str]] = setting(
        None, "--task mlm/causal-lm: plain-text evaluation file (default: --eval-fraction of the corpus held out).")
    mlm_probability: float = setting(0.15, "--task mlm: share of tokens masked.", gt=0, lt=1)
    eval_fraction: float = setting(0.05, "--task mlm/causal-lm: share of the corpus held out when no --eval-corpus.", gt=0, lt=1)

    def corpus_options(self) -> dict:
        return {"corpus": self.corpus, "eval_corpus": self.eval_corpus, "mlm_probability": self.mlm_probability,
                "eval_fraction": self.eval_fraction}


class TaskSettings(CorpusSettings, DataSettings):
    """Which data a run reads: a registered task and its options."""

    task: str = setting("bbc-news", "Task: a GLUE name (sst2, mrpc, ...), bbc-news, mlm or causal-lm (text corpora) or custom.",
                        flag="-t")
    # custom task files
    train_file: Optional[str] = setting(None, "custom task: training CSV/TSV/JSONL.")
    validation_file: Optional[str] = setting(None, "custom task: validation file.")
    text_columns: list[str] = setting(["text"], "custom task: text column (give twice for pairs).",
                                      flag="--text-column")
    label_column: str = setting("label", "custom task: label column.")
    regression: bool = setting(False, "custom task: the label is a number.")
    jitter: int = setting(0, "image tasks: shift each training image by up to N pixels (drawn afresh each time).",
                          ge=0)
    omit_label: Optional[int] = setting(None, "image tasks: leave this class out of the training (transfer) set.",
                                        ge=0)
    # seq2seq tasks (multi30k, bbc-headline, pairs): generation settings of their evaluation
    num_beams: int = setting(1, "seq2seq tasks: also score beam search with this many beams (1: greedy only).", ge=1)
    max_new_tokens: int = setting(64, "seq2seq tasks: longest generated target, in tokens.", ge=1)
    beam_targets: Optional[str] = setting(
        None, "seq2seq tasks: a `lamina generate-targets --split dev` folder (the teacher's beam output on the dev "
        "sources): also score the probability the model gives it (p_teacher_beam, nll_teacher_beam).")

    @model_validator(mode="after")
    def _check_task(self):
        from lamina.tasks import TASKS

        if not self.train_file or self.task == "pairs":
            TASKS.get(self.task)  # an unknown task fails here, before anything runs
        if self.task in ("mlm", "causal-lm") and not self.corpus:
            raise ValueError(f"--task {self.task} needs a text corpus: --corpus FILE")
        from lamina.tasks.objectives import objective_for

        if (self.jitter or self.omit_label is not None) and not objective_for(self.get_task()).has("images"):
            raise ValueError(f"--jitter and --omit-label are for image tasks (mnist, fashion-mnist, digits), "
                             f"not '{self.task}'")
        if self.beam_targets and not objective_for(self.get_task()).has("pairs"):
            raise ValueError(f"--beam-targets is for seq2seq tasks (multi30k, bbc-headline, pairs), not '{self.task}'")
        return self

    def task_options(self) -> dict:
        return {
            "train_file": self.train_file,
            "validation_file": self.validation_file,
            "text_columns": self.text_columns,
            "label_column": self.label_column,
            "regression": self.regression,
            "jitter": self.jitter,
            "omit_label": self.omit_label,
            "num_beams": self.num_beams,
            "max_new_tokens": self.max_new_tokens,
            "beam_targets": self.beam_targets,
            **self.corpus_options(),
        }

    def get_task(self):
        from lamina.tasks import get_task

        return get_task(self.task, **self.task_options())


class OutputSettings(Settings):
    output: str = setting(..., "Output folder (a plain Hugging Face model folder).", flag="-o",
                          missing="give an output folder with -o/--output")
    overwrite: bool = setting(False, "Replace an existing output folder.")


class TrainSettings(OutputSettings):
    """How a training run trains (shared by finetune, distill and pretrain)."""

    epochs: float = setting(3.0, "Training epochs.", gt=0)
    lr: float = setting(5e-5, "Peak learning rate (linear decay after --warmup-ratio of the steps).", gt=0)
    batch_size: int = setting(32, "Training batch size per device.", ge=1)
    eval_batch_size: int = setting(64, "Evaluation batch size per device.", ge=1)
    max_length: int = setting(128, "Tokens per example (truncation); tokens per block for text corpora.", ge=2)
    seed: int = setting(42, "Random seed (initialisation, data order, subsets, masking).")
    max_train_samples: Optional[int] = setting(
        None, "Train on a seeded subset of N examples (stratified by label for classification).", ge=1)
    max_eval_samples: Optional[int] = setting(
        None, "Evaluate on a seeded subset of N examples (stratified by label for classification).", ge=1)
    eval_steps: Optional[int] = setting(None, "Evaluate and checkpoint every N steps (default: each epoch).", ge=1)
    logging_steps: int = setting(50, "Log the training loss every N steps.", ge=1)
    warmup_ratio: float = setting(0.1, "Share of the steps spent warming up the learning rate.", ge=0, lt=1)
    weight_decay: float = setting(0.01, "AdamW weight decay.", ge=0)
    max_steps: int = setting(-1, "Stop after N steps (overrides --epochs; -1: off).", ge=-1)
    # any TrainingArguments.optim value (sgd, adafactor, ...); the fused AdamW is transformers'
    # own default with recent torch and saves ~0.1 s a step over the per-tensor loop (P1)
    optim: str = setting("adamw_torch_fused", "Optimizer (a TrainingArguments.optim name; default the fused AdamW).")
    bf16: bool = setting(False, "bfloat16 mixed precision (GPU).")
    # LayerDrop (Fan et al.): skip each block with this probability while training
    layerdrop: float | list[float] = setting(
        0.0, "LayerDrop: skip each layer with this probability while training (e.g. 0.1, or one rate per layer: "
        "0,0.1,0.2,0.3). Off at evaluation; the saved model is plain.")
    group_by_length: bool = setting(True, "Batch examples of similar length (less padding).")
    pad_to_max_length: bool = setting(False, "Fixed-shape batches (pad every batch to --max-length).")
    progress: bool = setting(True, "Show the Trainer's progress bars.")
    resume: bool = setting(False, "Continue an interrupted run from its newest complete checkpoint in OUT.work.")
    keep_checkpoints: bool = setting(False, "Keep the OUT.work/ checkpoints after the run.")

    @field_validator("layerdrop", mode="before")
    @classmethod
    def _parse_layerdrop(cls, value):
        from lamina.models.layerdrop import parse_rates

        return parse_rates(0.0 if value is None else value)


class MaskSettings(Settings):
    """A sparsity mask held fixed while training (``finetune --mask``, ``distill --mask``)."""

    mask: Optional[str] = setting(None, "Train with this mask (a lottery mask.safetensors, or a folder holding one) "
                                  "held fixed: pruned weights stay zero.")
    mask_init: Literal["pretrained", "random"] = setting(
        "pretrained", "With --mask: start from the model's weights (pretrained) or a seeded random "
        "re-initialisation of the base model (the random-reinit control).")

    @model_validator(mode="after")
    def _check_mask(self):
        if self.mask_init != "pretrained" and not self.mask:
            raise ValueError("--mask-init goes with --mask MASK")
        return self
