"""Task objectives: what a task trains and how it is scored.

A task names its objective (``Task.objective``); the objective, not ``if mlm`` branches in
the workflows, decides:

- the model head (``load_model``, ``model_from_config``) and the vanilla Auto class that
  reloads the output (``auto_class``, named in model cards);
- the data a run trains and evaluates on, and the collator (``prepare``);
- how an HF Trainer evaluates it (``trainer_settings``, ``compute_metrics``, ``evaluate``);
- which distillation losses apply (each loss lists its objectives: ``DistillLoss.objectives``).

``classification`` and ``regression`` are sequence classifiers over ``text``/``text_pair``;
``masked-lm`` reads text corpora in blocks masked afresh every step; ``causal-lm`` reads the
same blocks for next-token prediction. A new objective is one class here registered in
``OBJECTIVES``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from lamina.eval.metrics import greater_is_better
from lamina.registry import Registry
from lamina.tasks.base import Task, label_distribution, split_metrics

OBJECTIVES = Registry("task objective")


@dataclass
class Prepared:
    """A run's encoded data: training set, evaluation sets by split, the collator, and the
    raw training rows (text) for calibration statistics."""

    train: object
    evals: dict
    collator: object
    raw_train: object = None
    train_rows: object = None  # the raw rows of ``train``, in its order (text for other tokenizers)
    info: dict = field(default_factory=dict)


class Objective:
    name: str = ""
    auto_class: str = "AutoModel"
    loss_only = False  # evaluation computes the loss alone (no logits kept)
    generates = False  # the model generates text: speed reports include generation with the KV cache
    reads_text = True  # a tokenizer reads its inputs (not so for images)
    cache_off_reason: str | None = None  # why teacher outputs cannot be cached for this objective

    def student_config(self, spec: str):
        """The config of a fresh student named by ``--student-config`` (None: the default reading)."""
        return None

    def load_model(self, spec: str, task: Task, *, train: bool):
        raise NotImplementedError

    def model_from_config(self, config, task: Task):
        raise NotImplementedError

    def raw_data(self, task: Task, data_dir: str | None):
        """The task's splits as text (read once; the tokenizer comes later)."""
        return task.load(data_dir)

    def prepare(self, task: Task, raw, tokenizer, cfg) -> Prepared:
        raise NotImplementedError

    def trainer_settings(self, task: Task) -> dict:
        return {"metric_for_best_model": task.main_metric, "greater_is_better": greater_is_better(task.main_metric),
                "prediction_loss_only": self.loss_only}

    def compute_metrics(self, task: Task):
        return None

    def scorer(self, task: Task, tokenizer, cfg, record: dict):
        """``model -> metrics`` on ``cfg``'s split of the task (``lamina eval``), the data read
        and encoded once; the examples scored go into ``record["examples"]``."""
        raise NotImplementedError

    def evaluate(self, task: Task, trainer, evals: dict) -> dict:
        """The trained model's evaluation (the task's metrics, every evaluation split included,
        and the dev ``loss``)."""
        raise NotImplementedError


class SequenceClassification(Objective):
    auto_class = "AutoModelForSequenceClassification"

    def load_model(self, spec, task, *, train):
        from lamina.models.loading import load_for_classification

        return load_for_classification(spec, task, train=train)

    def model_from_config(self, config, task):
        from transformers import AutoModelForSequenceClassification

        config.num_labels = task.num_labels
        config.problem_type = "regression" if task.is_regression else "single_label_classification"
        if not task.is_regression:
            config.id2label = task.id2label()
            config.label2id = {v: k for k, v in task.id2label().items()}
        return AutoModelForSequenceClassification.from_config(config)

    def prepare(self, task, raw, tokenizer, cfg) -> Prepared:
        from lamina.data.encode import encode, padding_collator, subset

        train = subset(raw["train"], cfg.max_train_samples, cfg.seed)
        evals = {s: subset(raw[s], cfg.max_eval_samples, cfg.seed) for s in task.eval_splits}
        info = {} if task.is_regression else {"eval_labels": {s: label_distribution(task, d["label"])
                                                              for s, d in evals.items()}}
        return Prepared(
            train=encode(train, tokenizer, cfg.max_length),
            evals={s: encode(d, tokenizer, cfg.max_length) for s, d in evals.items()},
            collator=padding_collator(tokenizer, pad_to_max_length=cfg.pad_to_max_length, max_length=cfg.max_length),
            raw_train=raw["train"],
            train_rows=train,
            info=info,
        )

    def compute_metrics(self, task):
        from lamina.eval.metrics import trainer_metrics

        return trainer_metrics(task)

    def scorer(self, task, tokenizer, cfg, record):
        from lamina.data.encode import encode, subset
        from lamina.errors import LaminaError
        from lamina.eval.metrics import compute_metrics
        from lamina.eval.scoring import predict

        splits = {"dev": task.eval_splits, "train": ("train",)}.get(cfg.split)
        if splits is None:
            raise LaminaError(f"--split must be dev or train, not '{cfg.split}'")
        data = task.load(cfg.data_dir)
        encoded = {}
        for s in splits:
            ds = subset(data[s], cfg.max_samples, cfg.seed)
            encoded[s] = encode(ds, tokenizer, cfg.max_length)
            record.setdefault("examples", {})[s] = len(ds)
            if not task.is_regression:
                record.setdefault("labels_scored", {})[s] = label_distribution(task, ds["label"])

        def score(model) -> dict:
            metrics = {}
            for s, enc in encoded.items():
                outputs, labels = predict(model, tokenizer, enc, batch_size=cfg.batch_size)
                metrics.update(split_metrics(task, s, compute_metrics(task, outputs, labels)))
            return metrics

        return score

    def evaluate(self, task, trainer, evals):
        return evaluate_splits(task, trainer, evals)


@OBJECTIVES.register("classification")
class Classification(SequenceClassification):
    """Class labels: cross-entropy, scored by the task's label metrics."""


@OBJECTIVES.register("regression")
class Regression(SequenceClassification):
    """One score per example: mean squared error, scored by correlations."""


@OBJECTIVES.register("masked-lm")
class MaskedLM(Objective):
    """Masked language modelling on text blocks; lower loss is better."""

    cache_off_reason = "masking changes the inputs every step, so teacher outputs are computed online"
    auto_class = "AutoModelForMaskedLM"
    loss_only = True

    def load_model(self, spec, task, *, train):
        from lamina.models.loading import load_masked_lm

        return load_masked_lm(spec, train=train)

    def model_from_config(self, config, task):
        from transformers import AutoModelForMaskedLM

        return AutoModelForMaskedLM.from_config(config)

    def raw_data(self, task, data_dir):
        from lamina.errors import LaminaError

        if not task.corpus:
            raise LaminaError("--task mlm needs a text corpus: --corpus FILE")
        return task.load(data_dir)

    def prepare(self, task, raw, tokenizer, cfg) -> Prepared:
        from lamina.data.corpus import mlm_collator, mlm_datasets

        train, dev, source = mlm_datasets(
            tokenizer, list(task.corpus), list(task.eval_corpus), block_size=cfg.max_length,
            mlm_probability=task.mlm_probability, eval_fraction=task.eval_fraction, seed=cfg.seed,
            max_train_samples=cfg.max_train_samples, max_eval_samples=cfg.max_eval_samples)
        return Prepared(train=train, evals={"dev": dev}, raw_train=raw["train"] if raw is not None else None,
                        collator=mlm_collator(tokenizer, task.mlm_probability, seed=cfg.seed),
                        info={"eval_source": source})

    def scorer(self, task, tokenizer, cfg, record):
        from transformers import default_data_collator

        from lamina.data.corpus import masked_eval_blocks
        from lamina.eval.scoring import token_loss

        masked = masked_eval_blocks(list(task.corpus), tokenizer, cfg.max_length, max_blocks=cfg.max_samples,
                                    mlm_probability=task.mlm_probability, seed=cfg.seed)
        record["examples"] = {"blocks": len(masked)}
        return lambda model: token_loss(model, masked, default_data_collator, batch_size=cfg.batch_size, shift=False)

    def evaluate(self, task, trainer, evals):
        """Token-weighted over the masked tokens of the dev blocks (their count varies per block, so the
        Trainer's eval_loss, a mean of batch means, depends on the batching; it stays for checkpoint selection)."""
        return block_loss(trainer, evals["dev"], shift=False)


@OBJECTIVES.register("image-classification")
class ImageClassification(Objective):
    """Images as flat pixel vectors (scaled to [0, 1]) into lamina's MLP; cross-entropy, scored by
    accuracy and the number of errors. The dev split of the idx tasks is the official test set,
    so no checkpoint is picked by it (the last model is kept)."""

    auto_class = "AutoModelForImageClassification"
    reads_text = False
    cache_off_reason = "image task: the (small) teachers run online, on the jittered inputs the student sees"

    def load_model(self, spec, task, *, train):
        from lamina.models.loading import load_config
        from lamina.models.mlp import MLPForImageClassification, is_mlp_spec, new_mlp
        from lamina.errors import LaminaError

        if is_mlp_spec(spec):
            if not train:
                raise LaminaError(f"'{spec}' is an untrained MLP spec: give a trained model folder")
            return new_mlp(spec, input_size=task.input_size, num_labels=task.num_labels,
                           id2label=task.id2label()), None, spec
        config, source = load_config(spec)
        if not isinstance(config, MLPForImageClassification.config_class):
            raise LaminaError(f"task '{task.name}' takes an MLP (a folder saved by lamina, or mlp:H1,H2), "
                              f"not a {config.model_type} model")
        if config.input_size != task.input_size or config.num_labels != task.num_labels:
            raise LaminaError(f"'{spec}' reads {config.input_size} pixels into {config.num_labels} classes; task "
                              f"'{task.name}' has {task.input_size} pixels and {task.num_labels} classes")
        model = MLPForImageClassification.from_pretrained(source)
        return model, None, source

    def student_config(self, spec):
        from lamina.models.mlp import MLPConfig, is_mlp_spec, parse_mlp_spec

        return MLPConfig(**parse_mlp_spec(spec)) if is_mlp_spec(spec) else None

    def model_from_config(self, config, task):
        from lamina.models.mlp import MLPForImageClassification

        config.input_size, config.num_labels = task.input_size, task.num_labels
        config.id2label = task.id2label()
        config.label2id = {v: k for k, v in task.id2label().items()}
        return MLPForImageClassification(config)

    def prepare(self, task, raw, tokenizer, cfg) -> Prepared:
        from lamina.data.encode import subset

        def ready(ds, augment: int):
            ds = ds.rename_column("label", "labels")
            return ds.add_column("augment", [augment] * len(ds)).with_format("numpy")

        train = subset(raw["train"], cfg.max_train_samples, cfg.seed)
        evals = {s: subset(raw[s], cfg.max_eval_samples, cfg.seed) for s in task.eval_splits}
        info = {"eval_labels": {s: label_distribution(task, d["label"]) for s, d in evals.items()},
                "jitter": task.jitter, "omitted_label": task.omit_label}
        return Prepared(train=ready(train, 1), evals={s: ready(d, 0) for s, d in evals.items()},
                        collator=ImageCollator(task.side, task.jitter, task.max_pixel, seed=cfg.seed),
                        raw_train=raw["train"], train_rows=train, info=info)

    def trainer_settings(self, task) -> dict:
        return {"metric_for_best_model": task.main_metric, "greater_is_better": True,
                "load_best_model_at_end": False, "train_sampling_strategy": "random",
                "remove_unused_columns": False}

    def compute_metrics(self, task):
        from lamina.eval.metrics import trainer_metrics

        return trainer_metrics(task)

    def scorer(self, task, tokenizer, cfg, record):
        import numpy as np
        import torch

        from lamina.data.encode import subset
        from lamina.errors import LaminaError
        from lamina.eval.metrics import compute_metrics

        if cfg.split not in ("dev", "train"):
            raise LaminaError(f"--split must be dev or train, not '{cfg.split}'")
        data = task.load(cfg.data_dir)[cfg.split]
        data = subset(data, cfg.max_samples, cfg.seed).with_format("numpy")
        record["examples"] = {cfg.split: len(data)}
        record["labels_scored"] = {cfg.split: label_distribution(task, data["label"])}
        pixels = torch.as_tensor(np.asarray(data["pixel_values"]), dtype=torch.float32) / task.max_pixel
        labels = np.asarray(data["label"])  # datasets' Column compares as one object, not elementwise
        bias = torch.zeros(task.num_labels)
        for key, value in (getattr(cfg, "logit_bias", None) or {}).items():
            try:
                k, v = int(key), float(value)
            except (TypeError, ValueError):
                raise LaminaError(f"--logit-bias takes LABEL=VALUE with an integer label, not {key}={value}") from None
            if not 0 <= k < task.num_labels:
                raise LaminaError(f"--logit-bias {k}: task '{task.name}' has labels 0..{task.num_labels - 1}")
            bias[k] = v
        record["logit_bias"] = {str(i): float(b) for i, b in enumerate(bias) if b}

        def score(model) -> dict:
            model.eval()
            with torch.no_grad():
                logits = torch.cat([model(pixel_values=b).logits for b in pixels.split(cfg.batch_size)]) + bias
            wrong = logits.argmax(-1).numpy() != labels
            record["class_errors"] = {task.labels[i]: int(wrong[labels == i].sum()) for i in range(task.num_labels)}
            return compute_metrics(task, logits.numpy(), labels)

        return score

    def evaluate(self, task, trainer, evals):
        return evaluate_splits(task, trainer, evals)


class ImageCollator:
    """Stacks flat uint8 images into float ``pixel_values`` in [0, 1]; rows marked ``augment``
    (the training set) are shifted by up to ``jitter`` pixels each way (zeros fill in), a fresh
    draw every time from a generator seeded once."""

    def __init__(self, side: int, jitter: int = 0, max_pixel: float = 255.0, *, seed: int = 0):
        import torch

        self.side, self.jitter, self.max_pixel = side, int(jitter), max_pixel
        self.generator = torch.Generator().manual_seed(int(seed))

    def __call__(self, features):
        import numpy as np
        import torch

        pixels = torch.as_tensor(np.stack([np.asarray(f["pixel_values"]) for f in features]), dtype=torch.float32)
        pixels = pixels / self.max_pixel
        augment = [bool(f.get("augment", 0)) for f in features]
        if self.jitter and any(augment):
            pixels = pixels.view(-1, self.side, self.side)
            for i in (i for i, a in enumerate(augment) if a):
                dx, dy = (torch.randint(-self.jitter, self.jitter + 1, (2,), generator=self.generator)).tolist()
                pixels[i] = shift(pixels[i], dx, dy)
            pixels = pixels.view(len(features), -1)
        batch = {"pixel_values": pixels}
        if "labels" in features[0]:
            batch["labels"] = torch.as_tensor(np.array([f["labels"] for f in features]), dtype=torch.long)
        return batch


def shift(image, dx: int, dy: int):
    """``image`` (H×W) moved by dx columns and dy rows; what moves in is zero."""
    import torch

    out = torch.zeros_like(image)
    h, w = image.shape
    out[max(dy, 0):h + min(dy, 0), max(dx, 0):w + min(dx, 0)] = image[max(-dy, 0):h + min(-dy, 0),
                                                                      max(-dx, 0):w + min(-dx, 0)]
    return out


@OBJECTIVES.register("causal-lm")
class CausalLM(Objective):
    """Next-token prediction on text blocks (decoder-only models); loss and perplexity on a
    fixed evaluation set, lower is better."""

    cache_off_reason = "token-level logits over the vocabulary (tokens × vocabulary per block) are computed online"
    auto_class = "AutoModelForCausalLM"
    loss_only = True
    generates = True

    def load_model(self, spec, task, *, train):
        from lamina.models.loading import load_causal_lm

        return load_causal_lm(spec, train=train)

    def model_from_config(self, config, task):
        from transformers import AutoModelForCausalLM

        from lamina.errors import LaminaError
        from lamina.models.adapters import get_adapter

        if getattr(config, "is_encoder_decoder", False) or not get_adapter(config).causal:
            raise LaminaError(f"a causal-LM task needs a decoder-only config, not '{config.model_type}'")
        return AutoModelForCausalLM.from_config(config)

    def raw_data(self, task, data_dir):
        from lamina.errors import LaminaError

        if not task.corpus:
            raise LaminaError(f"--task {task.name} needs a text corpus: --corpus FILE")
        return task.load(data_dir)

    def prepare(self, task, raw, tokenizer, cfg) -> Prepared:
        from transformers import default_data_collator

        from lamina.data.corpus import lm_datasets

        train, dev, source = lm_datasets(
            tokenizer, list(task.corpus), list(task.eval_corpus), block_size=cfg.max_length,
            eval_fraction=task.eval_fraction, seed=cfg.seed, max_train_samples=cfg.max_train_samples,
            max_eval_samples=cfg.max_eval_samples)
        return Prepared(train=train, evals={"dev": dev}, raw_train=raw["train"] if raw is not None else None,
                        collator=default_data_collator, info={"eval_source": source})

    def scorer(self, task, tokenizer, cfg, record):
        from transformers import default_data_collator

        from lamina.data.corpus import lm_eval_blocks
        from lamina.eval.scoring import token_loss

        files = list(task.eval_corpus or task.corpus)
        blocks = lm_eval_blocks(files, tokenizer, cfg.max_length, max_blocks=cfg.max_samples)
        record["examples"] = {"blocks": len(blocks), "tokens": len(blocks) * len(blocks[0]["input_ids"]),
                              "source": ", ".join(files)}
        return lambda model: token_loss(model, blocks, default_data_collator, batch_size=cfg.batch_size, shift=True)

    def evaluate(self, task, trainer, evals):
        """Token-weighted, by the function ``lamina eval`` uses (the blocks have one length, so the Trainer's
        eval_loss, a mean of batch means, is the same up to rounding)."""
        return block_loss(trainer, evals["dev"], shift=True)


@OBJECTIVES.register("seq2seq")
class Seq2Seq(Objective):
    """Source → target generation: encoder-decoders train on the pairs, decoder-only models on
    prompt + target with the prompt masked from the loss; scored by corpus BLEU and chrF of
    greedy (and beam) decoding, and the loss and perplexity of the references."""

    cache_off_reason = "token-level logits over the vocabulary (tokens × vocabulary per block) are computed online"
    auto_class = "AutoModelForSeq2SeqLM"
    loss_only = True  # training-time evaluation: the loss of the references (generation at the end)
    generates = True

    def __init__(self):
        self.decoder_start_token_id = None  # of the model loaded or built (encoder-decoders)
        self.config = None
        self.references: dict[str, tuple[list[str], list[str]]] = {}  # split -> (sources, targets)
        self.settings: dict = {}

    def _remember(self, model):
        self.config = model.config
        enc_dec = bool(getattr(model.config, "is_encoder_decoder", False))
        self.auto_class = "AutoModelForSeq2SeqLM" if enc_dec else "AutoModelForCausalLM"
        if enc_dec:
            start = model.config.decoder_start_token_id
            if start is None:
                start = getattr(model.generation_config, "decoder_start_token_id", None)
            self.decoder_start_token_id = model.config.pad_token_id if start is None else start
        return model

    def load_model(self, spec, task, *, train):
        from lamina.models.loading import load_generator

        model, tokenizer, source = load_generator(spec, train=train)
        self._remember(model)
        return model, tokenizer, source

    def model_from_config(self, config, task):
        from transformers import AutoModelForCausalLM, AutoModelForSeq2SeqLM

        from lamina.errors import LaminaError
        from lamina.models.adapters import get_adapter

        if getattr(config, "is_encoder_decoder", False):
            return self._remember(AutoModelForSeq2SeqLM.from_config(config))
        if not get_adapter(config).causal:
            raise LaminaError(f"a seq2seq task needs an encoder-decoder or a decoder-only config, not "
                              f"'{config.model_type}'")
        return self._remember(AutoModelForCausalLM.from_config(config))

    def trainer_settings(self, task):
        # The final model, not the checkpoint with the lowest loss of the references: sequence-level
        # KD trades the references' perplexity for BLEU (Kim & Rush: Seq-KD's perplexity goes up while
        # its BLEU rises), so selecting by that loss kept 1- or 2-epoch Seq-KD / Seq-Inter students in
        # the P6 run (BLEU 0.6 instead of the final model's). Selecting by BLEU would decode the dev
        # set at every evaluation.
        return {"metric_for_best_model": "loss", "greater_is_better": False, "prediction_loss_only": True,
                "load_best_model_at_end": False}

    def _encode(self, data, tokenizer, max_length, task):
        from lamina.data.pairs import encode_pairs

        return encode_pairs(data, tokenizer, max_length=max_length, max_target_length=task.max_new_tokens,
                            decoder_only=self.decoder_start_token_id is None)

    def _check_positions(self, config, tokenizer, cfg, task):
        from lamina.data.encode import max_positions
        from lamina.errors import LaminaError

        limit = max_positions(config, tokenizer)
        if not getattr(config, "is_encoder_decoder", False) and cfg.max_length + task.max_new_tokens > limit:
            raise LaminaError(f"a prompt of up to --max-length {cfg.max_length} tokens plus --max-new-tokens "
                              f"{task.max_new_tokens} is beyond the model's {limit} positions")
        if max(cfg.max_length, task.max_new_tokens) > limit:
            raise LaminaError(f"--max-length {cfg.max_length} / --max-new-tokens {task.max_new_tokens} is beyond "
                              f"the model's {limit} positions")

    def _collator(self, tokenizer):
        from lamina.data.pairs import PairCollator

        return PairCollator(tokenizer, self.decoder_start_token_id)

    def prepare(self, task, raw, tokenizer, cfg) -> Prepared:
        from lamina.data.encode import subset

        if self.config is not None:
            self._check_positions(self.config, tokenizer, cfg, task)
        self._check_beam_targets(task)
        train = subset(raw["train"], cfg.max_train_samples, cfg.seed, stratify=False)
        evals = {s: subset(raw[s], cfg.max_eval_samples, cfg.seed, stratify=False) for s in task.eval_splits}
        self.references = {s: (list(d["source"]), list(d["target"])) for s, d in evals.items()}
        self.settings = {"max_length": cfg.max_length, "batch_size": cfg.eval_batch_size}
        return Prepared(train=self._encode(train, tokenizer, cfg.max_length, task),
                        evals={s: self._encode(d, tokenizer, cfg.max_length, task) for s, d in evals.items()},
                        collator=self._collator(tokenizer), raw_train=raw["train"].rename_column("source", "text"),
                        train_rows=train)

    def _scores(self, model, tokenizer, task, split, encoded) -> dict:
        """Generation scores of the split, and the references' loss and perplexity token-weighted over
        the split (``token_loss``: the same at training time and in ``lamina eval``, whatever the
        batching; the Trainer's eval_loss, a mean of batch means, stays for checkpoint selection)."""
        from lamina.eval.generation import generation_scores
        from lamina.eval.scoring import token_loss

        sources, targets = self.references[split]
        metrics = generation_scores(model, tokenizer, sources, targets, num_beams=task.num_beams,
                                    max_new_tokens=task.max_new_tokens, max_length=self.settings["max_length"],
                                    batch_size=self.settings["batch_size"])
        metrics.update(token_loss(model, encoded, self._collator(tokenizer), batch_size=self.settings["batch_size"]))
        if task.beam_targets:
            metrics.update(self._teacher_beam_scores(model, tokenizer, task, split))
        return metrics

    @staticmethod
    def _check_beam_targets(task) -> None:
        """Fail before any training or scoring when ``--beam-targets`` is not a complete targets folder."""
        from lamina.data.targets import read_targets

        if task.beam_targets:
            read_targets(task.beam_targets)

    def _teacher_beam_scores(self, model, tokenizer, task, split) -> dict:
        """Seed 001's p(ŷ): the mean over sentences of the probability the model gives the teacher's
        beam output ŷ for the split's sources (``--beam-targets``, a generate-targets folder), and the
        mean negative log-probability of ŷ (nats per sentence)."""
        import math

        import datasets

        from lamina.data.targets import read_targets
        from lamina.errors import LaminaError
        from lamina.eval.scoring import sequence_log_probs

        rows, _ = read_targets(task.beam_targets)
        output = {r["source"]: r["nbest"][0] for r in rows}
        sources = self.references[split][0]
        missing = sum(s not in output for s in sources)
        if missing:
            raise LaminaError(f"--beam-targets {task.beam_targets}: {missing} of the {len(sources)} {split} sources "
                              f"were not decoded there (make it with `lamina generate-targets --split {split}`)")
        pairs = datasets.Dataset.from_dict({"source": sources, "target": [output[s] for s in sources]})
        encoded = self._encode(pairs, tokenizer, self.settings["max_length"], task)
        logp = sequence_log_probs(model, encoded, self._collator(tokenizer), batch_size=self.settings["batch_size"])
        return {"p_teacher_beam": sum(math.exp(v) for v in logp) / len(logp),
                "nll_teacher_beam": -sum(logp) / len(logp)}

    def scorer(self, task, tokenizer, cfg, record):
        from lamina.data.encode import subset
        from lamina.errors import LaminaError

        split = {"dev": "dev", "train": "train"}.get(cfg.split)
        if split is None:
            raise LaminaError(f"--split must be dev or train, not '{cfg.split}'")
        self._check_beam_targets(task)
        data = subset(task.load(cfg.data_dir)[split], cfg.max_samples, cfg.seed, stratify=False)
        self.references = {split: (list(data["source"]), list(data["target"]))}
        self.settings = {"max_length": cfg.max_length, "batch_size": cfg.batch_size}
        record["examples"] = {split: len(data)}

        def score(model):
            self._remember(model)
            self._check_positions(model.config, tokenizer, cfg, task)
            return self._scores(model, tokenizer, task, split, self._encode(data, tokenizer, cfg.max_length, task))

        return score

    def evaluate(self, task, trainer, evals):
        return self._scores(trained_model(trainer), trainer.processing_class, task, "dev", evals["dev"])


def trained_model(trainer):
    """The model a Trainer trains: a distilled student alone (not the wrapper holding its teachers)."""
    return getattr(trainer.model, "student", trainer.model)


def block_loss(trainer, dataset, *, shift: bool) -> dict:
    """The token-weighted loss and perplexity of the trained model (a distilled student alone) on text blocks."""
    from transformers import default_data_collator

    from lamina.eval.scoring import token_loss

    return token_loss(trained_model(trainer), dataset, default_data_collator,
                      batch_size=trainer.args.per_device_eval_batch_size, shift=shift)


def evaluate_splits(task: Task, trainer, evals) -> dict:
    """Every evaluation split through the Trainer, named as ``split_metrics`` names them."""
    metrics = {}
    for split, data in evals.items():
        values = {k.removeprefix("eval_"): v for k, v in trainer.evaluate(eval_dataset=data).items()}
        metrics.update(split_metrics(task, split, values))
    return metrics


def objective_for(task: Task) -> Objective:
    return OBJECTIVES.get(task.objective)()
