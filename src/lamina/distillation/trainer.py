"""DistillationTrainer: HF Trainer whose loss is a weighted sum of registered losses.

The trained module is :class:`~lamina.distillation.module.DistillModule`: the student plus every trainable part of the
run (learned width projections; the teachers too, for a method that trains them), so
checkpoints and ``--resume`` carry all of it, while the exported model is
``module.student`` alone. This class decides nothing about the teachers: a distillation
*method* (:mod:`lamina.distillation.methods`) is a registered subclass that chooses how they
are held (the ``standard`` method freezes them and reads them without gradients) and may
override the training step; teacher outputs come from the teacher-output cache when the
method allows one and the run has one.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

from pydantic import BaseModel, ConfigDict

from lamina.errors import LaminaError
from lamina.losses import LossContext, Needs, TeacherView, get_loss
from lamina.losses.functional import cross_entropy, token_nll
from lamina.registry import lazy_import

torch = lazy_import("torch")  # (the method registry imports this module: `lamina methods` loads no torch)

if TYPE_CHECKING:
    from torch import nn


def __getattr__(name: str):
    if name == "DistillModule":  # (a torch module: defined in lamina.distillation.module, read here as before)
        from lamina.distillation.module import DistillModule

        return DistillModule
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


class NoOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")


@dataclass
class TeacherSpec:
    model: nn.Module
    name: str
    weight: float
    layer_map: list[tuple[int, int]]
    num_layers: int
    needs: Needs = field(default_factory=Needs)
    cache: object | None = None  # a TeacherCache, or None for online outputs


@dataclass(frozen=True)
class TokenPositions:
    """Where a generation model's token-level logits predict a target token: an encoder-decoder's
    decoder positions whose label is not -100; a decoder-only model's positions whose *next* label
    is not -100 (``shift``). The ``kd`` loss distills these positions, and the top-k teacher cache
    stores one row per such position, so both read this one rule."""

    encoder_decoder: bool = False
    shift: bool = False

    @classmethod
    def of(cls, model) -> TokenPositions:
        from lamina.models.adapters import get_adapter

        enc_dec = bool(getattr(model.config, "is_encoder_decoder", False))
        return cls(encoder_decoder=enc_dec, shift=bool(get_adapter(model).causal and not enc_dec))

    @property
    def rule(self) -> str:
        return "labels" if self.encoder_decoder else "next-labels" if self.shift else "attention-mask"

    def __call__(self, logits, labels):
        """(B, T) booleans, or None where the loss reads every real token (the attention mask)."""
        if labels is None or logits.dim() != 3 or labels.shape != logits.shape[:2]:
            return None
        return self.of_labels(labels)

    def of_labels(self, labels):
        """The positions given (B, T) token labels aligned with the logits (None: the attention mask)."""
        if self.encoder_decoder:
            return labels != -100
        if self.shift:
            pos = torch.zeros_like(labels, dtype=torch.bool)
            pos[:, :-1] = labels[:, 1:] != -100
            return pos
        return None


@dataclass
class Noise:
    p: float = 0.0
    side: str = "student"  # "student" or "both"
    vocab_size: int = 0
    special_ids: list[int] = field(default_factory=list)
    seed: int = 0


class DistillationTrainer:
    """The base of every distillation method; see :mod:`lamina.distillation.methods`.

    An HF ``Trainer`` once instantiated: ``Method(model=..., args=...)`` builds (once per method)
    the class ``Method`` + ``transformers.Trainer`` and returns an instance of it, with this class
    and the method's before ``Trainer`` in its MRO (so their hooks override Trainer's and reach it
    through ``super()``). The class itself is light: a method's ``Options``, ``describe()`` and
    ``check()`` are read (by ``lamina methods``, ``lamina distill --help``, a config's
    validation) without importing transformers."""

    name: ClassVar[str] = ""
    Options: ClassVar[type[BaseModel]] = NoOptions  # the method's own settings (``--method-option``)
    trains_teachers: ClassVar[bool] = False  # teachers live in the trained module (checkpointed, resumed)
    cache_off_reason: ClassVar[str | None] = None  # set when the method cannot read cached teacher outputs

    @classmethod
    def describe(cls) -> str:
        return (cls.__doc__ or "").strip().splitlines()[0] if cls.__doc__ else ""

    @classmethod
    def check(cls, cfg, task) -> None:
        """Refuse settings this method cannot run with, before anything is loaded or written."""

    @classmethod
    def split_training_set(cls, train, *, cfg, task, tokenizer, options, log) -> tuple[object, dict]:
        """(what the student trains on, data only the method reads): e.g. a quiz set held out."""
        return train, {}

    def method_record(self) -> dict:
        """What the record and card say about this method's run (beyond its options)."""
        return {}

    def after_training(self, tokenizers: list) -> None:
        """Called once training is done, before the output is written (e.g. to save a trained teacher)."""

    def __new__(cls, *args, **kwargs):
        return super().__new__(_with_trainer(cls))

    def __init__(
        self,
        *args,
        teachers: list[TeacherSpec],
        loss_weights: dict[str, float],
        temperature: float = 1.0,
        noise: Noise | None = None,
        student_num_layers: int = 0,
        method_options: BaseModel | None = None,
        method_data: dict | None = None,
        **kwargs,
    ):
        super().__init__(*args, **kwargs)
        self.method_options = method_options if method_options is not None else self.Options()
        self.teachers = teachers
        self.loss_weights = {k: v for k, v in loss_weights.items() if v > 0}
        self.loss_fns = {name: get_loss(name) for name in self.loss_weights}
        self.temperature = temperature
        self.noise = noise or Noise()
        self.student_num_layers = student_num_layers
        self.needs_student_hidden = any(t.needs.student_hidden for t in teachers)
        self.needs_student_attn = any(t.needs.student_attentions for t in teachers)
        self.project = {i: t.needs.student_states for i, t in enumerate(teachers)}
        student = getattr(self.model, "student", self.model)
        # a decoder-only LM's token logits predict the next label (an encoder-decoder's are aligned)
        self.target_positions = TokenPositions.of(student)
        self.shift_labels = self.target_positions.shift
        self._noise_gen = torch.Generator().manual_seed(self.noise.seed)
        self._parts: dict[str, list[float]] = defaultdict(list)
        for t in teachers:
            if t.cache is None or t.needs.teacher_attentions:  # a cached teacher is never run: it stays put
                t.model.to(self.args.device)
        self.setup_teachers()

    def setup_teachers(self) -> None:
        """How the method holds its teachers (the standard method freezes them)."""

    def teacher_forward(self, spec: TeacherSpec, inputs: dict, **outputs):
        """One teacher's forward pass (the standard method runs it without gradients)."""
        return spec.model(**inputs, **outputs)

    # ---------------------------------------------------------------- loss

    def _noised(self, inputs):
        from lamina.distillation.noise import replace_tokens

        noisy = dict(inputs)
        noisy["input_ids"] = replace_tokens(
            inputs["input_ids"],
            inputs["attention_mask"],
            self.noise.p,
            vocab_size=self.noise.vocab_size,
            special_ids=self.noise.special_ids,
            generator=self._noise_gen,
        )
        return noisy

    def _teacher_view(self, i: int, spec: TeacherSpec, idx, inputs) -> TeacherView:
        needs = spec.needs
        if spec.cache is not None:
            view = spec.cache.view(idx, inputs["input_ids"].shape[1], inputs["input_ids"].device)
        else:
            view = TeacherView()
        online_needed = spec.cache is None or needs.teacher_attentions
        if online_needed:
            out = self.teacher_forward(
                spec,
                inputs,
                output_hidden_states=bool(needs.teacher_cls or needs.teacher_tokens),
                output_attentions=bool(needs.teacher_attentions),
            )
            if spec.cache is None:
                view.logits = out.logits if needs.teacher_logits else None
                view.cls = {j: out.hidden_states[j][:, 0] for j in needs.teacher_cls}
                view.tokens = {j: out.hidden_states[j] for j in needs.teacher_tokens}
            view.attentions = {j: out.attentions[j - 1] for j in needs.teacher_attentions}
        view.layer_map, view.num_layers, view.weight, view.index = spec.layer_map, spec.num_layers, spec.weight, i
        return view

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        inputs = dict(inputs)
        idx = inputs.pop("idx", None)
        labels = inputs.pop("labels", None)
        own_inputs = inputs.pop("teacher_inputs", None) or {}  # teachers with their own tokenizer
        noisy = self._noised(inputs) if self.noise.p > 0 and model.training else inputs
        out, projected = model(
            **noisy,
            project=self.project,
            output_hidden_states=self.needs_student_hidden,
            output_attentions=self.needs_student_attn,
        )
        teacher_inputs = noisy if self.noise.side == "both" else inputs
        views = (
            [self._teacher_view(i, t, idx, own_inputs.get(str(i), teacher_inputs)) for i, t in enumerate(self.teachers)]
            if any(t.needs.any_teacher for t in self.teachers)
            else []
        )
        ctx = LossContext(
            student_logits=out.logits,
            labels=labels,
            attention_mask=inputs.get("attention_mask"),
            teachers=views,
            student_hidden=getattr(out, "hidden_states", None),
            student_attentions=getattr(out, "attentions", None),
            student_num_layers=self.student_num_layers,
            temperature=self.temperature,
            projected=projected,
            shift_labels=self.shift_labels,
            token_positions=self.token_positions(out.logits, labels),
        )
        parts = {name: fn(ctx) for name, fn in self.loss_fns.items()}
        loss = sum(self.loss_weights[name] * value for name, value in parts.items())
        if model.training:
            for name, value in parts.items():
                self._parts[name].append(float(value.detach()))
        return (loss, out) if return_outputs else loss

    def token_positions(self, logits, labels):
        """Where token-level logits predict a target token (generation students), else None."""
        return self.target_positions(logits, labels)

    def log(self, logs, *args, **kwargs):
        if self._parts and "loss" in logs:
            for name, values in self._parts.items():
                logs[f"loss_{name}"] = round(sum(values) / len(values), 6)
            self._parts.clear()
        super().log(logs, *args, **kwargs)

    # ---------------------------------------------------------------- checkpoints

    def _save(self, output_dir=None, state_dict=None):
        # the wrapper is not a PreTrainedModel, so the Trainer writes its state dict with
        # safetensors, which refuses tied tensors (an MLM head shares the word embeddings):
        # keep one name per tensor; loading (non-strict) fills the tied twin through the tie
        if state_dict is None:
            state_dict = without_shared_tensors(self.model.state_dict())
        super()._save(output_dir, state_dict=state_dict)

    # ---------------------------------------------------------------- evaluation: the student alone

    def prediction_step(self, model, inputs, prediction_loss_only, ignore_keys=None):
        inputs = self._prepare_inputs(dict(inputs))
        inputs.pop("idx", None)
        inputs.pop("teacher_inputs", None)
        labels = inputs.pop("labels", None)
        with torch.no_grad():
            logits = model(**inputs).logits
        if labels is None:
            loss = None
        else:  # token-level logits: cross-entropy over the masked positions, or of the next tokens
            loss = (
                token_nll(logits, labels, shift=self.shift_labels)
                if logits.dim() == 3
                else cross_entropy(logits, labels)
            )
        if prediction_loss_only:
            return loss, None, None
        return loss, logits, labels


def _with_trainer(cls: type) -> type:
    """``cls`` with ``transformers.Trainer`` as its last base (built once per class)."""
    from transformers import Trainer

    if issubclass(cls, Trainer):
        return cls
    built = cls.__dict__.get("_trainer_class")
    if built is None:
        built = type(
            cls.__name__,
            (cls, Trainer),
            {"__module__": cls.__module__, "__qualname__": cls.__qualname__, "__doc__": cls.__doc__},
        )
        cls._trainer_class = built
    return built


def without_shared_tensors(state_dict: dict) -> dict:
    """The state dict with only the first name of tensors that share memory."""
    seen, out = set(), {}
    for name, tensor in state_dict.items():
        key = (tensor.untyped_storage().data_ptr(), tensor.storage_offset(), tuple(tensor.shape))
        if key not in seen:
            seen.add(key)
            out[name] = tensor
    return out


def set_eager_attention(*models) -> None:
    """Eager attention: attention maps can be read (attention losses) and twice differentiated."""
    for m in models:
        if hasattr(m, "set_attn_implementation"):
            m.set_attn_implementation("eager")
        else:
            m.config._attn_implementation = "eager"


def check_attention_heads(student, teacher, name: str) -> None:
    s = getattr(student.config, "num_attention_heads", None)
    t = getattr(teacher.config, "num_attention_heads", None)
    if s != t:
        raise LaminaError(f"attention_mse needs the same number of heads: student {s}, teacher '{name}' {t}")


def make_projections(student, teachers: list[TeacherSpec]) -> dict[int, nn.Module]:
    """A linear map student width → teacher width for each teacher whose width differs and
    whose losses compare student hidden states with it (``Needs.student_states``; TinyBERT's
    W_h). Trained, never exported."""
    from torch import nn

    hs = student.config.hidden_size
    out = {}
    for i, t in enumerate(teachers):
        ht = t.model.config.hidden_size
        if t.needs.student_states and ht != hs:
            out[i] = nn.Linear(hs, ht)
    return out
