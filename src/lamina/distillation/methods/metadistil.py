"""MetaDistil (Zhou, Xu, McAuley, ACL 2022, "BERT Learns to Teach"): the teacher learns to teach.

Every ``meta_every`` student steps, one meta round:

1. **pilot**: a functional copy of the student (``torch.func.functional_call`` with substitute
   parameters; no hand-written model) takes one differentiable SGD step of size ``pilot_lr``
   on the run's distillation loss, the teachers' forward passes keeping their graph;
2. **quiz**: the pilot student's cross-entropy on the quiz set (dropout off): ``quiz_size``
   examples held out of the training set (seeded, stratified, disjoint from what the student
   trains on, never the dev set: the reference code used dev "for simplicity"), or
   ``quiz_file``;
3. **teacher update**: the quiz loss's gradient with respect to every teacher's weights,
   through the pilot step: ``meta_grad=exact`` (second order: autograd through the pilot
   step's own backward graph), ``mixed`` (the same gradient, exactly, as a mixed product: see
   :func:`meta_gradient`; lower peak memory, one student forward more, so not faster), or
   ``fd``, the finite-difference form (DARTS-style: first-order backward passes only,
   ``-η [∇_T L(θ_S + εv) − ∇_T L(θ_S − εv)] / 2ε`` with ``v`` the quiz gradient at the pilot
   weights); clipped to ``teacher_clip`` and stepped by the teachers' own AdamW at
   ``teacher_lr``;
4. **real step**: the student's ordinary step (HF Trainer's) against the updated teachers.

Several teachers: the soft losses read the weighted mean of their logits, so each teacher
gets its own meta-gradient through it. The teachers live in the trained module (checkpoints
and ``--resume`` carry them), their optimizer state is saved beside each checkpoint as
safetensors, and the teacher-output cache is off (the teachers change). Soft loss: ``kd``
(KL) or ``prob_mse`` (MSE of softened probabilities × T², the reference's default). The meta
step needs attention with a double backward, which the flash and memory-efficient SDPA
kernels lack (on CPU too: ``_scaled_dot_product_flash_attention_for_cpu_backward``): it runs
under ``sdpa_kernel(SDPBackend.MATH)``, and the ordinary steps keep the fast kernels; models
with eager attention need nothing. ``save_teacher=DIR`` also writes the meta-learned teacher(s) as plain HF
folders.

Why one file of more than 500 lines: the module is one idea, the meta step, and its parts only make sense
together: the options, the quiz split, the pure ``meta_gradient`` (its three forms, tested against each
other and against a finite difference), the pilot tape that the ``mixed`` form replays, and the
trainer hooks that run a round and checkpoint the teachers' optimizer. Splitting the gradient forms
from the tape they read, or the hooks from the state they save, would scatter one algorithm over
files that each cannot be read alone.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from lamina.distillation.methods import register_method
from lamina.distillation.trainer import DistillationTrainer
from lamina.errors import LaminaError
from lamina.losses import get_loss
from lamina.losses.functional import cross_entropy
from lamina.registry import lazy_import

torch = lazy_import("torch")  # (the method registry imports this module: `lamina methods` loads no torch)

TEACHER_OPTIMIZER = "teacher_optimizer"


def functional_call(*args, **kwargs):
    """``torch.func.functional_call``."""
    from torch.func import functional_call

    return functional_call(*args, **kwargs)


def jvp(*args, **kwargs):
    """``torch.func.jvp`` (forward-mode AD)."""
    from torch.func import jvp

    return jvp(*args, **kwargs)


class MetaDistilOptions(BaseModel):
    model_config = ConfigDict(extra="forbid")

    pilot_lr: float = Field(
        5e-5,
        ge=0,
        description="Step size of the pilot SGD update (the reference's "
        "assume_s_step_size; 0 gives the teachers no gradient).",
    )
    teacher_lr: float = Field(1e-5, gt=0, description="Learning rate of the teachers' AdamW.")
    meta_every: int = Field(1, ge=1, description="One meta round every N student steps.")
    meta_grad: Literal["exact", "mixed", "fd"] = Field(
        "exact",
        description="exact (second order, through the pilot step's backward graph), mixed (the same "
        "gradient as a mixed product: a student Jacobian-vector product and one teacher backward, no second-order "
        "graph; less memory, not faster) or fd (finite difference, first-order passes only).",
    )
    quiz_size: int = Field(100, ge=1, description="Quiz examples held out of the training set.")
    quiz_file: str | None = Field(None, description="A quiz file instead (CSV/TSV/JSONL: text [, text_pair], label).")
    quiz_batch_size: int = Field(100, ge=1, description="Quiz examples per forward pass.")
    held_batches: int = Field(
        0,
        ge=0,
        description="Quiz batches scored per meta round, taken in turn (the "
        "reference's num_held_batches); 0: the whole quiz set every round.",
    )
    teacher_clip: float = Field(1.0, gt=0, description="Clip the teachers' meta-gradient to this norm.")
    save_teacher: str | None = Field(
        None, description="Also write the meta-learned teacher(s) here as plain HF folders."
    )


@dataclass
class PilotTape:
    """One pilot loss split at the student's outputs, for ``mixed``: ``loss`` reads ``leaves``,
    detached copies of the student's output tensors ``outputs`` (which keep their graph back to
    the student's parameters), and the teachers' outputs with their graph; ``replay(params)``
    computes the same outputs again with other parameters (same inputs, same dropout masks)."""

    loss: torch.Tensor
    leaves: list[torch.Tensor]
    outputs: list[torch.Tensor]
    replay: Callable[[dict], list[torch.Tensor]]


def meta_gradient(
    params: dict[str, torch.Tensor],
    teacher_params: list[torch.Tensor],
    pilot_loss: Callable[[dict], torch.Tensor],
    quiz_loss: Callable[[dict], torch.Tensor],
    *,
    pilot_lr: float,
    mode: str = "exact",
    pilot_tape: Callable[[dict], PilotTape] | None = None,
) -> list[torch.Tensor]:
    """The gradient of ``quiz_loss(θ_S − pilot_lr · ∇_S pilot_loss(θ_S))`` with respect to
    ``teacher_params`` (which must require grad; ``pilot_loss`` reaches them, ``quiz_loss`` does
    not). ``params`` are the student's parameters by name, as ``functional_call`` takes them.

    ``mixed``: with ``v = ∇ quiz_loss(θ')`` at the pilot weights ``θ'`` (no graph), the gradient
    is exactly ``−η ∂/∂θ_T [∇_S L(θ_S, θ_T) · v]`` (η the pilot lr, L the pilot loss). With a
    ``pilot_tape`` (L read through the student's outputs ``s``), ``∇_S L · v = Σ_o ∂L/∂s_o ·
    (J_o v)``: ``u = J v`` is one forward-mode Jacobian-vector product of the student (or a double
    backward through the student alone, where forward-mode AD is missing) and does not depend on
    the teachers, so the teachers' gradient is one backward of ``Σ_o ∂L/∂s_o · u_o``, with
    ``∂L/∂s`` differentiated at the outputs' level only (the leaves make the outputs independent
    variables, so an output computed from another, e.g. a projected hidden state, is not counted
    twice). Without a tape: the general form, a double backward through the pilot loss. Neither
    is cheaper than ``exact``, which differentiates the quiz once as well and runs only the part
    of the pilot's double backward that leads to the teachers; ``mixed`` costs one student
    forward more (the JVP's primal) and holds no second-order graph."""
    names = list(params)
    values = [params[n] for n in names]
    zeros = [torch.zeros_like(p) for p in teacher_params]
    if mode == "exact":
        grads = torch.autograd.grad(pilot_loss(params), values, create_graph=True, allow_unused=True)
        fast = {n: v if g is None else v - pilot_lr * g for n, v, g in zip(names, values, grads)}
        got = torch.autograd.grad(quiz_loss(fast), teacher_params, allow_unused=True)
        return [z if g is None else g for g, z in zip(got, zeros)]
    if mode not in ("fd", "mixed"):
        raise LaminaError(f"meta_grad must be exact, mixed or fd, not '{mode}'")
    if pilot_lr == 0:
        return zeros

    def quiz_direction(grads) -> list[torch.Tensor]:
        """v: the quiz loss's gradient at the pilot weights θ' = θ_S − η g, without a graph."""
        fast = {
            n: (v if g is None else v - pilot_lr * g).detach().requires_grad_(True)
            for n, v, g in zip(names, values, grads)
        }
        got = torch.autograd.grad(quiz_loss(fast), [fast[n] for n in names], allow_unused=True)
        return [torch.zeros_like(v) if g is None else g.detach() for v, g in zip(values, got)]

    if mode == "mixed":
        if pilot_tape is None:  # the general form: a double backward through the pilot loss only
            grads = torch.autograd.grad(pilot_loss(params), values, create_graph=True, allow_unused=True)
            direction = quiz_direction([None if g is None else g.detach() for g in grads])
            product = sum((g * d).sum() for g, d in zip(grads, direction) if g is not None)
        else:
            tape = pilot_tape(params)
            read = [(i, leaf) for i, leaf in enumerate(tape.leaves) if leaf.requires_grad]
            partials = torch.autograd.grad(
                tape.loss, [leaf for _, leaf in read], create_graph=True, allow_unused=True
            )  # ∂L/∂s, differentiable in the teachers' outputs
            kept = [(i, d) for (i, _), d in zip(read, partials) if d is not None]
            outputs = [tape.outputs[i] for i, _ in kept]
            grads = torch.autograd.grad(
                outputs, values, grad_outputs=[d.detach() for _, d in kept], retain_graph=True, allow_unused=True
            )  # ∇_S L = Jᵀ ∂L/∂s
            direction = quiz_direction(grads)
            u = _student_jvp(tape, [i for i, _ in kept], outputs, names, values, direction)
            product = sum((d * ui).sum() for (_, d), ui in zip(kept, u))
        if not torch.is_tensor(product) or not product.requires_grad:
            return zeros
        got = torch.autograd.grad(product, teacher_params, allow_unused=True)
        return [z if g is None else -pilot_lr * g for g, z in zip(got, zeros)]
    grads = torch.autograd.grad(pilot_loss(params), values, allow_unused=True)
    direction = dict(zip(names, quiz_direction(grads)))
    norm = math.sqrt(sum(float((d.double() ** 2).sum()) for d in direction.values()))
    if norm == 0:
        return zeros
    eps = fd_step(next(iter(direction.values())).dtype) / norm

    def teacher_grad(sign: float):
        shifted = {n: (params[n] + sign * eps * direction[n]).detach() for n in names}
        got = torch.autograd.grad(pilot_loss(shifted), teacher_params, allow_unused=True)
        return [z if g is None else g for g, z in zip(got, zeros)]

    plus, minus = teacher_grad(1.0), teacher_grad(-1.0)
    return [-pilot_lr * (a - b) / (2 * eps) for a, b in zip(plus, minus)]


def fd_step(dtype: torch.dtype) -> float:
    """The length of the ``fd`` form's step along ``v`` in parameter space: the cube root of the
    dtype's machine epsilon, the step that balances a central difference's truncation error (step²)
    against its rounding error (epsilon / step): 6.1e-6 in float64, 4.9e-3 in float32. DARTS' fixed
    0.01 was 2.8e-3 relative error from the exact meta-gradient on the float64 test models; this
    step gives 1.3e-11 there, and 8.5e-6 from the exact one in float32 (``tests/integration/test_metadistil.py``
    asserts below 1e-6 and 1e-3)."""
    return float(torch.finfo(dtype).eps) ** (1 / 3)


def _student_jvp(
    tape: PilotTape,
    index: list[int],
    outputs: list[torch.Tensor],
    names: list[str],
    values: list[torch.Tensor],
    direction: list[torch.Tensor],
) -> list[torch.Tensor]:
    """``J v`` for the student's outputs ``tape.outputs[index]``: forward-mode AD on a replay of
    the student's forward pass, or, where an operation has no forward-mode formula, the double
    backward trick on the tape's own graph (``Jᵀw`` with ``w`` a variable, then its gradient in
    ``w`` along ``v``)."""
    try:
        with torch.no_grad():
            _, u = jvp(
                lambda p: [tape.replay(p)[i] for i in index],
                ({n: v.detach() for n, v in zip(names, values)},),
                (dict(zip(names, direction)),),
            )
        return [t.detach() for t in u]
    except (NotImplementedError, RuntimeError):  # an operation without a forward-mode formula
        pass
    w = [torch.zeros_like(o, requires_grad=True) for o in outputs]
    jtw = torch.autograd.grad(outputs, values, grad_outputs=w, create_graph=True, allow_unused=True)
    pairs = [(g, d) for g, d in zip(jtw, direction) if g is not None]
    u = torch.autograd.grad([g for g, _ in pairs], w, grad_outputs=[d for _, d in pairs], allow_unused=True)
    return [torch.zeros_like(o) if t is None else t.detach() for o, t in zip(outputs, u)]


class _WithParameters:
    """The trained module called with substitute student parameters (``functional_call``)."""

    training = True

    def __init__(self, module, student_params: dict):
        self.module = module
        self.params = {f"student.{n}": v for n, v in student_params.items()}

    def __call__(self, *args, **kwargs):
        return functional_call(self.module, self.params, args=args, kwargs=kwargs)


class _Taped(_WithParameters):
    """The same, for ``mixed``: the loss reads detached copies of the outputs (``leaves``); the
    call's inputs and the RNG state before it are kept, so ``replay`` computes the outputs again
    with the same dropout masks."""

    def __call__(self, *args, **kwargs):
        from torch.utils._pytree import tree_flatten, tree_unflatten

        self.args, self.kwargs, self.rng = args, kwargs, _rng_state()
        flat, spec = tree_flatten(super().__call__(*args, **kwargs))
        self.outputs = [t for t in flat if torch.is_tensor(t)]
        copies: dict[int, torch.Tensor] = {}  # one leaf per tensor, should an output appear twice
        for t in self.outputs:
            if id(t) not in copies:
                copies[id(t)] = t.detach().requires_grad_(t.requires_grad)
        self.leaves = [copies[id(t)] for t in self.outputs]
        return tree_unflatten([copies[id(t)] if torch.is_tensor(t) else t for t in flat], spec)

    def replay(self, student_params: dict) -> list[torch.Tensor]:
        from torch.utils._pytree import tree_flatten

        after = _rng_state()
        _set_rng_state(self.rng)
        try:
            out = functional_call(
                self.module, {f"student.{n}": v for n, v in student_params.items()}, args=self.args, kwargs=self.kwargs
            )
        finally:
            _set_rng_state(after)  # the RNG stream goes on as if there had been no replay
        return [t for t in tree_flatten(out)[0] if torch.is_tensor(t)]


def _rng_state() -> tuple:
    return torch.get_rng_state(), (torch.cuda.get_rng_state() if torch.cuda.is_initialized() else None)


def _set_rng_state(state: tuple) -> None:
    torch.set_rng_state(state[0])
    if state[1] is not None:
        torch.cuda.set_rng_state(state[1])


def split_off(ds, n: int, seed: int):
    """(the rest, ``n`` held-out rows): a seeded split, stratified by label when it can be."""
    import numpy as np
    from sklearn.model_selection import train_test_split

    index = np.arange(len(ds))
    labels = np.asarray(ds["label"]) if "label" in ds.column_names else None
    try:
        rest, held = train_test_split(
            index,
            test_size=n,
            random_state=seed,
            stratify=labels if labels is not None and labels.dtype.kind in "iu" else None,
        )
    except ValueError:  # a class too rare to stratify on
        rest, held = train_test_split(index, test_size=n, random_state=seed)
    return ds.select(sorted(rest.tolist())), ds.select(sorted(held.tolist()))


def _read_quiz_file(path: str, task, tokenizer, max_length: int):
    from datasets import Dataset

    from lamina.data.encode import encode
    from lamina.data.records import read_records

    rows = read_records(path)
    if not rows:
        raise LaminaError(f"{path} holds no quiz examples")
    text = next((c for c in ("text", "sentence", "sentence1") if c in rows[0]), None)
    if text is None or "label" not in rows[0]:
        raise LaminaError(f"{path}: a quiz file needs a text (or sentence) column and a label column")
    pair = next((c for c in ("text_pair", "sentence2") if c in rows[0]), None)
    names = {name: i for i, name in enumerate(task.labels or ())}
    labels = []
    for i, r in enumerate(rows, 1):
        raw = str(r["label"]).strip()
        if raw in names:
            labels.append(names[raw])
        elif raw.isdigit() and int(raw) < task.num_labels:
            labels.append(int(raw))
        else:
            raise LaminaError(f"{path}: row {i}: label '{raw}' is not one of {sorted(names)}")
    columns = {"text": [str(r[text]) for r in rows], "label": labels}
    if pair:
        columns["text_pair"] = [str(r[pair]) for r in rows]
    return encode(Dataset.from_dict(columns), tokenizer, max_length)


@register_method("metadistil")
class MetaDistil(DistillationTrainer):
    """MetaDistil: the teachers learn from the student's quiz score after a pilot update (Zhou et al. 2022)."""

    Options = MetaDistilOptions
    trains_teachers = True
    cache_off_reason = "the teachers change while they learn to teach"

    @classmethod
    def check(cls, cfg, task) -> None:
        from lamina.tasks.objectives import objective_for

        if not objective_for(task).has("text", "classes"):
            raise LaminaError(
                f"--method metadistil scores the pilot student on class labels; task '{task.name}' is "
                f"{task.objective.name}"
            )
        reads_logits = [n for n, w in cfg.loss.items() if w > 0 and get_loss(n).needs([], 1, 1).teacher_logits]
        if not reads_logits:
            raise LaminaError(
                "--method metadistil needs a loss that reads the teachers' logits (kd or prob_mse): "
                f"the teachers learn only through them, and --loss {','.join(cfg.loss)} has none"
            )

    @classmethod
    def split_training_set(cls, train, *, cfg, task, tokenizer, options, log):
        if options.quiz_file:
            quiz = _read_quiz_file(options.quiz_file, task, tokenizer, cfg.max_length)
            log(f"metadistil: quiz set {options.quiz_file} ({len(quiz)} examples)")
            return train, {"quiz": quiz}
        if options.quiz_size >= len(train):
            raise LaminaError(
                f"--method-option quiz_size={options.quiz_size} leaves no training examples: the "
                f"training set has {len(train)}"
            )
        rest, quiz = split_off(train, options.quiz_size, cfg.seed)
        log(f"metadistil: {len(quiz)} quiz examples held out of the training set, {len(rest)} left to train on")
        return rest, {"quiz": quiz}

    def __init__(self, *args, method_data: dict | None = None, **kwargs):
        super().__init__(*args, **kwargs)
        self.quiz = (method_data or {})["quiz"]
        self._quiz_batches = None
        self._meta_active = False
        self._log_parts = True
        self.teacher_optimizer = torch.optim.AdamW(
            self._teacher_params(), lr=self.method_options.teacher_lr, weight_decay=0.0
        )
        self.meta_log: dict = {"rounds": 0, "last_grad_norm": None}
        self._norms: list[float] = []

    # ------------------------------------------------------------------ teachers

    def setup_teachers(self) -> None:
        for t in self.teachers:
            t.model.eval()
            t.model.requires_grad_(False)  # the student's optimizer never sees them; the meta step turns them on

    def teacher_forward(self, spec, inputs, **outputs):
        with torch.set_grad_enabled(self._meta_active):
            return spec.model(**inputs, **outputs)

    def _teacher_params(self) -> list[torch.Tensor]:
        seen, out = set(), []
        for t in self.teachers:
            for p in t.model.parameters():
                if id(p) not in seen:
                    seen.add(id(p))
                    out.append(p)
        return out

    # ------------------------------------------------------------------ the meta round

    def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
        for t in self.teachers:
            t.model.eval()  # the module's train() reached them: teachers teach without dropout
        if not self._log_parts:
            parts, self._parts = self._parts, type(self._parts)(list)
            try:
                return super().compute_loss(model, inputs, return_outputs=return_outputs)
            finally:
                self._parts = parts
        return super().compute_loss(model, inputs, return_outputs=return_outputs)

    def training_step(self, model, inputs, num_items_in_batch=None):
        if self.state.global_step % self.method_options.meta_every == 0:
            self.meta_step(self._prepare_inputs(dict(inputs)))
        return super().training_step(model, inputs, num_items_in_batch)

    def _quiz(self):
        if self._quiz_batches is None:
            size = self.method_options.quiz_batch_size
            rows = [self.quiz[i] for i in range(len(self.quiz))]
            batches = []
            for start in range(0, len(rows), size):
                feats = [
                    {k: v for k, v in r.items() if k in ("input_ids", "attention_mask", "token_type_ids", "label")}
                    for r in rows[start : start + size]
                ]
                batch = self.data_collator(feats)
                batch.pop("idx", None)
                batches.append(self._prepare_inputs(dict(batch)))
            self._quiz_batches = batches
        return self._quiz_batches

    def _round_batches(self) -> list:
        """This round's quiz batches: all, or ``held_batches`` of them in turn (by step, so a
        resumed run takes the same ones)."""
        batches, k = self._quiz(), self.method_options.held_batches
        if not k or k >= len(batches):
            return batches
        first = (self.state.global_step // self.method_options.meta_every) * k
        return [batches[(first + j) % len(batches)] for j in range(k)]

    def quiz_loss(self, student, params: dict) -> torch.Tensor:
        """Mean cross-entropy of ``student`` with ``params`` on this round's quiz batches, dropout off."""
        was = student.training
        student.eval()
        try:
            batches, total, n = self._round_batches(), 0.0, 0
            for batch in batches:
                labels = batch["labels"]
                kw = {k: v for k, v in batch.items() if k != "labels"}
                logits = functional_call(student, params, args=(), kwargs=kw).logits
                total = total + cross_entropy(logits, labels) * len(labels)
                n += len(labels)
            return total / n
        finally:
            student.train(was)

    def meta_step(self, inputs: dict) -> None:
        from torch.nn.attention import SDPBackend, sdpa_kernel

        module = self.model
        student = module.student
        student.train()
        params = dict(student.named_parameters())
        teacher_params = self._teacher_params()

        def pilot(p):
            return self.compute_loss(_WithParameters(module, p), dict(inputs))

        def pilot_tape(p):
            taped = _Taped(module, p)
            loss = self.compute_loss(taped, dict(inputs))
            return PilotTape(loss, taped.leaves, taped.outputs, taped.replay)

        self._meta_active, self._log_parts = True, False
        for p in teacher_params:
            p.requires_grad_(True)
        try:
            with sdpa_kernel([SDPBackend.MATH]):  # the one SDPA kernel with a double backward
                grads = meta_gradient(
                    params,
                    teacher_params,
                    pilot,
                    lambda p: self.quiz_loss(student, p),
                    pilot_lr=self.method_options.pilot_lr,
                    mode=self.method_options.meta_grad,
                    pilot_tape=pilot_tape,
                )
        finally:
            for p in teacher_params:
                p.requires_grad_(False)
            self._meta_active, self._log_parts = False, True
        for p, g in zip(teacher_params, grads):
            p.grad = g.detach().to(p.dtype)
        norm = torch.nn.utils.clip_grad_norm_(teacher_params, self.method_options.teacher_clip)
        self.teacher_optimizer.step()
        self.teacher_optimizer.zero_grad(set_to_none=True)
        self.meta_log["rounds"] += 1
        self.meta_log["last_grad_norm"] = float(norm)
        self._norms.append(float(norm))

    def log(self, logs, *args, **kwargs):
        if self._norms and "loss" in logs:
            logs["meta_teacher_grad_norm"] = round(sum(self._norms) / len(self._norms), 6)
            self._norms.clear()
        super().log(logs, *args, **kwargs)

    # ------------------------------------------------------------------ checkpoints: the teachers' optimizer

    def _save_optimizer_and_scheduler(self, output_dir: str) -> None:
        super()._save_optimizer_and_scheduler(output_dir)
        if self.args.should_save:
            save_optimizer(self.teacher_optimizer, Path(output_dir) / TEACHER_OPTIMIZER)

    def _load_optimizer_and_scheduler(self, checkpoint: str | None) -> None:
        super()._load_optimizer_and_scheduler(checkpoint)
        if checkpoint is not None and (Path(checkpoint) / f"{TEACHER_OPTIMIZER}.json").is_file():
            load_optimizer(self.teacher_optimizer, Path(checkpoint) / TEACHER_OPTIMIZER)

    # ------------------------------------------------------------------ the end of the run

    def method_record(self) -> dict:
        o = self.method_options
        return {
            "quiz_examples": len(self.quiz),
            "quiz_source": o.quiz_file or "held out of the training set",
            "meta_rounds": self.meta_log["rounds"],
            "last_teacher_grad_norm": self.meta_log["last_grad_norm"],
            "meta_grad": o.meta_grad,
            "pilot_lr": o.pilot_lr,
            "teacher_lr": o.teacher_lr,
            "meta_every": o.meta_every,
            "saved_teachers": self._teacher_folders() if o.save_teacher else None,
        }

    def _teacher_folders(self) -> list[str]:
        root = Path(self.method_options.save_teacher)
        return (
            [str(root)] if len(self.teachers) == 1 else [str(root / f"teacher-{i}") for i in range(len(self.teachers))]
        )

    def after_training(self, tokenizers: list) -> None:
        if not self.method_options.save_teacher or not self.is_world_process_zero():
            return
        from lamina.io import atomic_output_dir

        for folder, spec, tok in zip(self._teacher_folders(), self.teachers, tokenizers):
            with atomic_output_dir(folder, overwrite=True) as tmp:
                spec.model.save_pretrained(tmp)
                if tok is not None:
                    tok.save_pretrained(tmp)
                (tmp / "README.md").write_text(
                    f"# {Path(folder).name}\n\nThe teacher `{spec.name}` after MetaDistil (lamina distill --method "
                    f"metadistil): {self.meta_log['rounds']} meta rounds, teacher lr {self.method_options.teacher_lr}, "
                    f"pilot lr {self.method_options.pilot_lr}. A plain Hugging Face folder: "
                    "`AutoModelForSequenceClassification.from_pretrained` loads it.\n",
                    encoding="utf-8",
                )


def save_optimizer(optimizer: torch.optim.Optimizer, stem: Path) -> None:
    """An optimizer's state as ``stem.safetensors`` (tensors) + ``stem.json`` (the rest): no pickle."""
    from safetensors.torch import save_file

    state = optimizer.state_dict()
    tensors, scalars = {}, {}
    for pid, entry in state["state"].items():
        for key, value in entry.items():
            if torch.is_tensor(value):
                tensors[f"{pid}.{key}"] = value.detach().cpu().contiguous()
            else:
                scalars[f"{pid}.{key}"] = value
    save_file(tensors, str(stem) + ".safetensors")
    Path(str(stem) + ".json").write_text(json.dumps({"param_groups": state["param_groups"], "scalars": scalars}))


def load_optimizer(optimizer: torch.optim.Optimizer, stem: Path) -> None:
    from safetensors.torch import load_file

    meta = json.loads(Path(str(stem) + ".json").read_text())
    state: dict = {}
    for name, value in {**load_file(str(stem) + ".safetensors"), **meta["scalars"]}.items():
        pid, key = name.split(".", 1)
        state.setdefault(int(pid), {})[key] = value
    optimizer.load_state_dict({"state": state, "param_groups": meta["param_groups"]})
