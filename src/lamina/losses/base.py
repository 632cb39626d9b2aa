"""The distillation loss registry and the context a loss reads from.

A loss is a small class registered by name, one file in this package (the registry imports
every module of it). It says what it reads of a task (``requires``: capability words of the task's objective) and what it needs
(:meth:`DistillLoss.needs`) so the trainer computes, and the cache stores, only those
teacher and student outputs (student states it lists in ``Needs.student_states`` are
projected to a wider teacher's width automatically); ``__call__`` reads a :class:`LossContext` and returns a
scalar. The math lives in the pure functions of :mod:`lamina.losses.functional`.

Hidden-state indices follow Hugging Face: ``0`` is the embedding output, ``j`` the output
of layer ``j`` (1-based). A layer map is a list of ``(student_index, teacher_index)``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, ClassVar

from lamina.errors import LaminaError
from lamina.registry import Registry

if TYPE_CHECKING:
    import torch


@dataclass
class Needs:
    """What a set of losses reads. Teacher indices are per teacher (each has its own map);
    ``student_states`` are the student hidden-state indices compared with that teacher
    (projected to its width when the widths differ)."""

    student_hidden: bool = False
    student_attentions: bool = False
    teacher_logits: bool = False
    teacher_cls: set[int] = field(default_factory=set)  # first-token vectors of these hidden states
    teacher_tokens: set[int] = field(default_factory=set)  # full token states of these hidden states
    teacher_attentions: set[int] = field(default_factory=set)  # attention maps of these layers (1-based)
    student_states: set[int] = field(default_factory=set)

    def merge(self, other: Needs) -> Needs:
        return Needs(
            self.student_hidden or other.student_hidden,
            self.student_attentions or other.student_attentions,
            self.teacher_logits or other.teacher_logits,
            self.teacher_cls | other.teacher_cls,
            self.teacher_tokens | other.teacher_tokens,
            self.teacher_attentions | other.teacher_attentions,
            self.student_states | other.student_states,
        )

    @property
    def any_teacher(self) -> bool:
        return bool(self.teacher_logits or self.teacher_cls or self.teacher_tokens or self.teacher_attentions)


@dataclass
class TopKTargets:
    """A teacher's token distributions as the top-k cache keeps them: for each target token of a
    batch (the positions a token-level loss distills, in batch order, row by row) the ``k`` most
    probable token ids, their log-probabilities at the run's temperature, and the log of the mass
    of every other token (the "rest" bucket; −inf when k is the whole vocabulary)."""

    ids: torch.Tensor  # (n, k) int64
    logprobs: torch.Tensor  # (n, k)
    log_rest: torch.Tensor  # (n,)
    counts: torch.Tensor  # (B,) target tokens per example of the batch

    @property
    def k(self) -> int:
        return int(self.ids.shape[-1])


@dataclass
class TeacherView:
    """One teacher's outputs for a batch (from the model or from the cache)."""

    logits: torch.Tensor | None = None
    topk: TopKTargets | None = None  # token-level logits kept as top-k (the top-k cache), instead of ``logits``
    cls: dict[int, torch.Tensor] = field(default_factory=dict)  # index -> (B, H)
    tokens: dict[int, torch.Tensor] = field(default_factory=dict)  # index -> (B, T, H)
    attentions: dict[int, torch.Tensor] = field(default_factory=dict)  # layer -> (B, A, T, T)
    layer_map: list[tuple[int, int]] = field(default_factory=list)
    num_layers: int = 0
    weight: float = 1.0
    index: int = 0  # position among the teachers (keys the projected student states)


@dataclass
class LossContext:
    student_logits: torch.Tensor
    labels: torch.Tensor | None
    attention_mask: torch.Tensor
    teachers: list[TeacherView]
    student_hidden: tuple | None = None
    student_attentions: tuple | None = None
    student_num_layers: int = 0
    temperature: float = 1.0
    projected: dict = field(default_factory=dict)  # (teacher index, student index) -> projected state
    shift_labels: bool = False  # token-level labels of a causal LM: logits at t predict label t+1
    # (B, T) booleans: the positions of the logits that predict a target token (generation tasks:
    # the target of a seq2seq pair, every next token of a causal-LM block); None: every real token
    token_positions: torch.Tensor | None = None

    def weighted(self, per_teacher) -> torch.Tensor:
        """Weighted mean over teachers of ``per_teacher(view)``."""
        total = sum(t.weight for t in self.teachers)
        return sum(t.weight * per_teacher(t) for t in self.teachers) / total

    def student_state(self, view: TeacherView, j: int) -> torch.Tensor:
        """Student hidden state ``j`` in this teacher's width (projected when they differ)."""
        return self.projected.get((view.index, j), self.student_hidden[j])


class DistillLoss:
    name: ClassVar[str] = ""
    # what the loss reads of a task, as capability words of its objective (lamina.tasks.objectives:
    # "classes", "tokens", "masked", ...): the loss applies where the objective has any of them; None: everywhere
    requires: ClassVar[frozenset[str] | None] = None
    refusal: ClassVar[str] = ""  # why it does not apply elsewhere, for the error line

    @classmethod
    def check_objective(cls, task, capabilities: frozenset[str]) -> None:
        """Refuse a task whose objective (its ``capabilities``) this loss cannot read (one line naming the task)."""
        if cls.requires is not None and not cls.requires & capabilities:
            why = cls.refusal or f"it is for tasks with {' or '.join(sorted(cls.requires))}"
            raise LaminaError(f"loss '{cls.name}' does not apply to task '{task.name}' ({task.objective.name}): {why}")

    def needs(self, layer_map: list[tuple[int, int]], teacher_layers: int, student_layers: int) -> Needs:
        return Needs()

    def __call__(self, ctx: LossContext) -> torch.Tensor:
        raise NotImplementedError


LOSSES = Registry("loss", package="lamina.losses")
register_loss = LOSSES.register


def available_losses() -> list[str]:
    return LOSSES.names()


def get_loss(name: str) -> DistillLoss:
    return LOSSES.get(name)()


def parse_loss_spec(spec: str | dict) -> dict[str, float]:
    """``"kd=1,pkd=100"`` (or a mapping) → ``{"kd": 1.0, "pkd": 100.0}``; a bare name weighs 1."""
    if isinstance(spec, dict):
        items = list(spec.items())
    else:
        items = []
        for part in filter(None, (p.strip() for p in str(spec).split(","))):
            name, _, weight = part.partition("=")
            items.append((name.strip(), weight.strip() or "1"))
    out: dict[str, float] = {}
    for name, weight in items:
        get_loss(name)  # unknown names fail here
        try:
            out[name] = float(weight)
        except ValueError:
            raise LaminaError(f"loss weight for '{name}' must be a number, not '{weight}'") from None
        if out[name] < 0:
            raise LaminaError(f"loss weight for '{name}' must be 0 or more")
    if not out:
        raise LaminaError("no loss given: use e.g. --loss kd=1 or --loss kd=1,pkd=100")
    return out
