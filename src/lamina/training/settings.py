"""The settings every training command shares: which data (TaskSettings) and how it trains
(TrainSettings). ``finetune``, ``distill`` and ``pretrain`` build their configs from these,
so one option has one name, one default and one check in every command."""

from __future__ import annotations

from typing import Literal

from pydantic import field_validator, model_validator

from lamina.config import OptionMap, Settings, parse_mapping, setting

DEFAULT_MODEL = "minilm-l6"


class DataSettings(Settings):
    """Where the data is (every command that reads a task)."""

    data_dir: str | None = setting(None, "GLUE-format data folder (default: $LAMINA_DATA_DIR).")


class CorpusSettings(Settings):
    """Plain-text corpora for masked-LM and causal-LM training (``--task mlm``, ``--task causal-lm``,
    ``lamina pretrain``)."""

    corpus: list[str] | None = setting(None, "Plain-text training file (repeat for several).")
    eval_corpus: list[str] | None = setting(
        None, "Plain-text evaluation file (default: --eval-fraction of the corpus held out)."
    )
    mlm_probability: float = setting(0.15, "Share of tokens masked.", gt=0, lt=1)
    eval_fraction: float = setting(0.05, "Share of the corpus held out when no --eval-corpus.", gt=0, lt=1)

    def corpus_options(self) -> dict:
        return {
            "corpus": self.corpus,
            "eval_corpus": self.eval_corpus,
            "mlm_probability": self.mlm_probability,
            "eval_fraction": self.eval_fraction,
        }


class TaskSettings(DataSettings):
    """Which data a run reads: a registered task and the options that task declares.

    A task's options (``lamina tasks`` lists them) are ``--task-option NAME=VALUE`` (repeatable),
    ``task_options:`` in a file or recipe, or, as shorthand, their own flag or key (``--corpus FILE``,
    ``--jitter 2``, ``num_beams: 5``): those are routed into ``task_options`` and kept out of the
    help, so each command lists only the settings it reads. The task validates them: an option
    the task does not read is refused with one line."""

    task: str = setting(
        "bbc-news",
        "Task: a GLUE name (sst2, mrpc, ...), bbc-news, mlm or causal-lm (text corpora) or custom.",
        flag="-t",
    )
    task_options: OptionMap = setting(
        {},
        "An option of the task, NAME=VALUE (repeatable; `lamina tasks` lists each task's options: e.g. "
        "corpus=FILE for mlm, train_file=F for custom, num_beams=5 for multi30k, jitter=2 for fashion-mnist).",
        flag="--task-option",
    )

    @model_validator(mode="before")
    @classmethod
    def _route_task_options(cls, values):
        """Task options given by their own name (a flag, a key of a file or recipe) go into ``task_options``."""
        from lamina.tasks import all_task_options

        if not isinstance(values, dict):
            return values
        renamed = cls.renamed_settings()  # an old name is refused (Settings), never routed
        names = [k for k in values if k not in cls.model_fields and k not in renamed and k in all_task_options()]
        if not names:
            return values
        values = dict(values)
        routed = parse_mapping(values.get("task_options"), "--task-option")
        for k in names:
            routed.setdefault(k, values.pop(k))
        values["task_options"] = routed
        return values

    @model_validator(mode="after")
    def _check_task(self):
        from lamina.tasks.base import check_task_options

        check_task_options(self.task, self.task_options, for_run=True)  # an unknown task or option fails here
        return self

    @classmethod
    def extra_cli_fields(cls) -> dict:
        """The task options as hidden flags (``--corpus``, ``--jitter``, ...): accepted, not listed."""
        import copy

        from lamina.tasks import all_task_options

        out = {}
        for key, field in all_task_options().items():
            if key not in cls.model_fields:
                flag = copy.copy(field)
                flag.json_schema_extra = {**(field.json_schema_extra or {}), "hidden": True}
                out[key] = flag
        return out

    def get_task(self):
        from lamina.tasks import get_task

        return get_task(self.task, **self.task_options)


class OutputSettings(Settings):
    output: str = setting(
        ...,
        "Output folder (a plain Hugging Face model folder).",
        flag="-o",
        missing="give an output folder with -o/--output",
    )
    overwrite: bool = setting(False, "Replace an existing output folder.")


class TrainSettings(OutputSettings):
    """How a training run trains (shared by finetune, distill and pretrain)."""

    epochs: float = setting(3.0, "Training epochs.", gt=0)
    lr: float = setting(5e-5, "Peak learning rate (linear decay after --warmup-ratio of the steps).", gt=0)
    batch_size: int = setting(32, "Training batch size per device.", ge=1)
    eval_batch_size: int = setting(64, "Evaluation batch size per device.", ge=1)
    max_length: int = setting(128, "Tokens per example (truncation); tokens per block for text corpora.", ge=2)
    seed: int = setting(42, "Random seed (initialisation, data order, subsets, masking).")
    max_train_samples: int | None = setting(
        None, "Train on a seeded subset of N examples (stratified by label for classification).", ge=1
    )
    max_eval_samples: int | None = setting(
        None, "Evaluate on a seeded subset of N examples (stratified by label for classification).", ge=1
    )
    eval_steps: int | None = setting(None, "Evaluate and checkpoint every N steps (default: each epoch).", ge=1)
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
        0.0,
        "LayerDrop: skip each layer with this probability while training (e.g. 0.1, or one rate per layer: "
        "0,0.1,0.2,0.3). Off at evaluation; the saved model is plain.",
    )
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

    mask: str | None = setting(
        None,
        "Train with this mask (a lottery mask.safetensors, or a folder holding one) "
        "held fixed: pruned weights stay zero.",
    )
    mask_init: Literal["pretrained", "random"] = setting(
        "pretrained",
        "With --mask: start from the model's weights (pretrained) or a seeded random "
        "re-initialisation of the base model (the random-reinit control).",
    )

    @model_validator(mode="after")
    def _check_mask(self):
        if self.mask_init != "pretrained" and not self.mask:
            raise ValueError("--mask-init goes with --mask MASK")
        return self
