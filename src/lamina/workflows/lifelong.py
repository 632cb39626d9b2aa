"""``lamina lifelong``: one language model learns a sequence of tasks (LAMOL; L2KD, seed 001).

Every task is text-to-text: an example is ``TASK context Q question ANS answer EOS``, where
``TASK`` is the task's own token (``__sst2__``), ``Q`` (``__q__``) and ``ANS`` (``__ans__``)
are separator tokens added to the tokenizer. The model learns the answer given the prompt
(QA loss, on the answer tokens) and, as a language model, the whole example after the task
token (LM loss, weighted ``--lm-lambda``; LAMOL's 0.25), so that it can later *generate
pseudo-examples* of a task from its token alone. (LAMOL trains QA on a second copy of the
example without the generation token; here both losses read one sequence, and the QA
prompt starts with the task token.)

Methods (``--method``), for each task m of ``--tasks`` in order:

- ``finetune``: train on task m alone (no replay): the forgetting baseline;
- ``lamol``: the model first samples γ·|D_m| pseudo-examples of the earlier tasks (γ =
  ``--pseudo-rate``, split evenly, top-k sampling from each task token); they are parsed
  back into context / question / answer (a sample that does not parse is dropped and
  counted) and trained on with NLL next to task m;
- ``word-kd``, ``seq-kd-soft``, ``seq-kd`` (L2KD, Algorithm 1): a teacher, the starting
  model fine-tuned on task m alone, teaches task m: token-level KL to its distribution on the
  gold example (Word-KD), KL along the example with the teacher's greedy answer
  (Seq-KD-soft), or NLL of that example (Seq-KD), on the QA part and the LM part; the
  pseudo-data of earlier tasks is always trained with NLL. The KL is lamina's ``kd`` loss
  (T² · KL at ``-T``, L2KD's 2.0), the NLL lamina's ``token_nll``.

After each task every task seen so far is scored by greedy generation from its prompt:
accuracy of the generated label (classification tasks), corpus BLEU (``sacrebleu``) for
generation tasks. The record keeps the whole matrix (row: training stage, column: task seen)
and the final average; with ``--teacher-split`` also the final accuracy on the examples each
task's teacher got right and wrong (seed 001's "are we copying the teacher?" table).

Tasks: GLUE classification tasks from ``--data-dir`` (``sst2`` ...), ``bbc-news`` (topic),
``bbc-headline`` (article → headline), and custom files ``--text-file NAME=TRAIN[,DEV]``
(TSV/CSV/JSONL with the columns ``context``, ``question``, ``answer``; without a DEV file
every 10th row is held out). ``OUT`` is a plain HF causal-LM folder (the tokenizer carries
the task tokens) with a model card and ``lamina_results.json``. Each finished stage is kept
in ``OUT.work/checkpoint-M``, so ``--resume`` continues after the last finished task.
"""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal, Optional

from pydantic import BeforeValidator, field_validator, model_validator

from lamina.config import parse_mapping, setting
from lamina.errors import LaminaError
from lamina.training.settings import DataSettings, TrainSettings
from lamina.workflows import RunContext, Workflow, register_workflow

METHODS = ("finetune", "lamol", "word-kd", "seq-kd-soft", "seq-kd")
KD_METHODS = ("word-kd", "seq-kd-soft", "seq-kd")  # a teacher per task
QUESTION_TOKEN, ANSWER_TOKEN = "__q__", "__ans__"
TEXT_METRICS = ("accuracy", "bleu")
QUESTIONS = {"sst2": "Is this review positive or negative?", "bbc-news": "What is the topic of this article?",
             "bbc-headline": "What is the headline of this article?"}
STATE_FILE = "trainer_state.json"  # written last into OUT.work/checkpoint-M: the stage is complete


def _names(value):
    if value is None:
        return []
    items = value if isinstance(value, (list, tuple)) else [value]
    return [p.strip() for item in items for p in str(item).split(",") if p.strip()]


TaskList = Annotated[list[str], BeforeValidator(_names)]
FileMap = Annotated[dict[str, str], BeforeValidator(lambda v: {k: str(x) for k, x in parse_mapping(
    v, "--text-file", split_commas=False).items()})]
MetricMap = Annotated[dict[str, str], BeforeValidator(lambda v: {k: str(x) for k, x in parse_mapping(
    v, "--text-metric").items()})]


class LifelongConfig(TrainSettings, DataSettings):
    model: str = setting(..., "The lifelong-learning model: a decoder-only causal LM (folder, bundled alias such as "
                         "smollm2-135m, or hub id).", missing="give the model (a causal LM) as the first argument")
    tasks: TaskList = setting(..., "The task sequence in training order (comma-separated or repeated): a GLUE "
                              "classification task (sst2, ...), bbc-news, bbc-headline, or a NAME of --text-file.",
                              missing="give the task sequence with --tasks, e.g. sst2,bbc-news")
    method: Literal["finetune", "lamol", "word-kd", "seq-kd-soft", "seq-kd"] = setting(
        "lamol", "finetune: no replay; lamol: replay of generated pseudo-data; word-kd, seq-kd-soft, seq-kd: LAMOL "
        "plus L2KD's per-task teacher on the new task.")
    pseudo_rate: float = setting(0.2, "LAMOL's gamma: pseudo-examples of the earlier tasks per new training example.",
                                 ge=0)
    lm_lambda: float = setting(0.25, "Weight of the LM loss (the whole example) next to the QA loss (the answer).",
                               ge=0)
    temperature: float = setting(2.0, "Soft-target temperature.", flag="-T", gt=0)
    top_k: int = setting(20, "Top-k sampling of pseudo-examples (0: the full distribution).", ge=0)
    max_answer_tokens: int = setting(32, "Longest answer in tokens (gold answers are cut; generation stops there).",
                                     ge=1)
    text_files: FileMap = setting({}, "A custom text-to-text task: NAME=TRAIN or NAME=TRAIN,DEV (TSV/CSV/JSONL with "
                                  "the columns context, question, answer; repeatable).", flag="--text-file")
    text_metrics: MetricMap = setting({}, "The metric of a --text-file task: NAME=accuracy (exact match, the "
                                      "default) or NAME=bleu.", flag="--text-metric")
    teacher_split: bool = setting(False, "Split the final accuracy by the examples each task's teacher got right "
                                  "and wrong (classification tasks; trains the teachers for finetune and lamol too).")
    teacher_dir: Optional[str] = setting(None, "Keep the per-task teachers here and reuse them across runs (matched "
                                         "by model, task, task set and training settings).")

    @field_validator("tasks")
    @classmethod
    def _some_tasks(cls, value):
        if not value:
            raise ValueError("the task sequence is empty: give --tasks, e.g. sst2,bbc-news")
        for name in value:
            if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", name):
                raise ValueError(f"task name '{name}': use letters, digits, '-', '_' or '.'")
        return value

    @model_validator(mode="after")
    def _check(self):
        from lamina.tasks import TASKS

        for name in self.text_files:
            if name in TASKS.names():
                raise ValueError(f"--text-file {name}: '{name}' is a built-in task; give the file another name")
        for name, metric in self.text_metrics.items():
            if name not in self.text_files:
                raise ValueError(f"--text-metric {name}: no --text-file named '{name}'")
            if metric not in TEXT_METRICS:
                raise ValueError(f"--text-metric {name}={metric}: the metric is one of {', '.join(TEXT_METRICS)}")
        for name in self.tasks:
            if name not in self.text_files and name not in TASKS.names():
                raise ValueError(f"unknown task '{name}' in --tasks: a registered task (see `lamina tasks`) or a "
                                 "NAME given by --text-file NAME=FILE")
        repeated = sorted({t for t in self.tasks if self.tasks.count(t) > 1})
        if repeated and self.method != "finetune":
            raise ValueError(f"task '{repeated[0]}' appears twice in --tasks: --method {self.method} replays earlier "
                             "tasks by their token and learns each task once (only finetune may revisit a task)")
        if self.eval_steps is not None:
            raise ValueError("--eval-steps does not apply: lifelong scores every task seen after each task")
        from lamina.models.layerdrop import is_active

        if is_active(self.layerdrop):
            raise ValueError("--layerdrop is not supported by lamina lifelong")
        return self

    @property
    def distinct_tasks(self) -> list[str]:
        return list(dict.fromkeys(self.tasks))


# ---------------------------------------------------------------- tasks as text-to-text


@dataclass
class TextTask:
    name: str
    metric: str  # accuracy | bleu
    train: list[dict]  # rows {context, question, answer}
    dev: list[dict]
    description: str = ""
    source: dict = field(default_factory=dict)  # what the data is (the teachers' key)
    held_out: int = 0  # training rows dropped because another task's dev set holds their text


def drop_shared_contexts(tasks: dict[str, TextTask]) -> None:
    """Drop a task's training rows that hold another task's dev example, input and answer: a
    context that strictly contains that dev example's context and its answer. bbc-news
    (headline + article -> topic) and bbc-headline (article -> headline) split the same articles
    each their own way, and learning an article's topic, with the LM loss on the whole text,
    would teach the headline that bbc-headline's dev set asks for. Tasks that merely share
    inputs (the same context, another question) lose nothing."""
    def norm(text):
        return " ".join(text.split())

    for name, task in tasks.items():
        dev = {(norm(r["context"]), norm(r["answer"])) for other, t in tasks.items() if other != name for r in t.dev}
        dev = {(c, a) for c, a in dev if c and a}
        if not dev:
            continue

        def holds(context, dev=dev):
            return any(c != context and c in context and a in context for c, a in dev)

        kept = [r for r in task.train if not holds(norm(r["context"]))]
        task.held_out, task.train = len(task.train) - len(kept), kept


def _rows(contexts, question: str, answers) -> list[dict]:
    return [{"context": str(c), "question": question, "answer": str(a)} for c, a in zip(contexts, answers)]


def read_text_task(name: str, cfg: LifelongConfig) -> TextTask:
    """Task ``name`` as text-to-text rows through lamina's own readers (or a --text-file)."""
    from lamina.data.encode import subset
    from lamina.tasks import get_task

    if name in cfg.text_files:
        return _read_text_file(name, cfg)
    task = get_task(name)
    objective = task.objective
    if objective not in ("classification", "seq2seq"):
        raise LaminaError(f"task '{name}' ({objective}) is not a text-to-text task: lifelong takes classification "
                          "tasks, seq2seq tasks (bbc-headline) and --text-file tasks")
    data = task.load(cfg.data_dir)
    stratify = objective == "classification"
    train = subset(data["train"], cfg.max_train_samples, cfg.seed, stratify=stratify)
    dev = subset(data["dev"], cfg.max_eval_samples, cfg.seed, stratify=stratify)
    if objective == "seq2seq":
        question = QUESTIONS.get(name, "What is the target?")
        return TextTask(name, "bleu", _rows(train["source"], question, train["target"]),
                        _rows(dev["source"], question, dev["target"]), task.description, {"task": name})
    question = QUESTIONS.get(name) or f"Which is it: {', '.join(task.labels)}?"

    def rows(ds):
        texts = ds["text"] if "text_pair" not in ds.column_names else \
            [f"{a} {b}" for a, b in zip(ds["text"], ds["text_pair"])]
        return _rows(texts, question, [task.labels[y] for y in ds["label"]])

    return TextTask(name, "accuracy", rows(train), rows(dev), task.description, {"task": name})


def _read_text_file(name: str, cfg: LifelongConfig) -> TextTask:
    from lamina.data.records import read_records

    paths = [p.strip() for p in cfg.text_files[name].split(",") if p.strip()]
    if len(paths) not in (1, 2):
        raise LaminaError(f"--text-file {name}: give TRAIN or TRAIN,DEV, not '{cfg.text_files[name]}'")
    splits = []
    for path in paths:
        records = read_records(path)
        if not records:
            raise LaminaError(f"{path} holds no examples")
        columns = sorted(records[0])
        if "answer" not in records[0]:
            raise LaminaError(f"{path}: no 'answer' column (a text-to-text file has the columns context, question, "
                              f"answer; it has {columns})")
        if "context" not in records[0] and "question" not in records[0]:
            raise LaminaError(f"{path}: no 'context' or 'question' column (it has {columns})")
        rows = []
        for i, r in enumerate(records, 1):
            answer = str(r.get("answer") or "").strip()
            if not answer:
                raise LaminaError(f"{path}: example {i} has an empty answer")
            rows.append({"context": str(r.get("context") or ""), "question": str(r.get("question") or ""),
                         "answer": answer})
        splits.append(rows)
    if len(splits) == 1:
        every = splits[0]
        if len(every) < 2:
            raise LaminaError(f"{paths[0]}: one example; give a DEV file too (--text-file {name}=TRAIN,DEV)")
        splits = [[r for i, r in enumerate(every) if i % 10 != 0], [r for i, r in enumerate(every) if i % 10 == 0]]
    train, dev = _seeded(splits[0], cfg.max_train_samples, cfg.seed), _seeded(splits[1], cfg.max_eval_samples, cfg.seed)
    return TextTask(name, cfg.text_metrics.get(name, "accuracy"), train, dev, f"text-to-text file {paths[0]}",
                    {"files": [str(Path(p).expanduser().resolve()) for p in paths]})


def _seeded(rows: list[dict], n: int | None, seed: int) -> list[dict]:
    import random

    if n is None or n >= len(rows):
        return rows
    picked = sorted(random.Random(seed).sample(range(len(rows)), n))
    return [rows[i] for i in picked]


# ---------------------------------------------------------------- tokens, encoding, parsing


@dataclass
class Tokens:
    """The ids of the separators, the task tokens and the end of sequence."""

    question: int
    answer: int
    eos: int
    pad: int
    tasks: dict[str, int]

    @property
    def specials(self) -> set[int]:
        return {self.question, self.answer, *self.tasks.values()}


def task_token(name: str) -> str:
    return f"__{name}__"


def _init_from_words(model, tokenizer, words: dict[int, str]) -> None:
    """Start each new token's input (and untied output) embedding at the mean embedding of a
    word's tokens (``__q__`` at " question", ``__sst2__`` at " sst2"), not at the resized
    embedding's default: a fine-tuned model then learns to write the separators within tens of
    steps, so its pseudo-examples parse (with the default, SmolLM2-135M after 30 steps wrote none)."""
    import torch

    layers = [model.get_input_embeddings()]
    out = model.get_output_embeddings()
    if out is not None and out.weight is not layers[0].weight:
        layers.append(out)
    with torch.no_grad():
        for token_id, word in words.items():
            pieces = tokenizer(word, add_special_tokens=False)["input_ids"]
            if not pieces:
                continue
            for layer in layers:
                layer.weight[token_id] = layer.weight[pieces].mean(0)


def add_task_tokens(model, tokenizer, names: list[str]) -> Tokens:
    """The separators and one token per task (sorted: the same ids for one task set in any order)."""
    new = [QUESTION_TOKEN, ANSWER_TOKEN, *(task_token(n) for n in sorted(names))]
    had = set(tokenizer.get_vocab())
    tokenizer.add_tokens(new, special_tokens=True)
    if tokenizer.eos_token_id is None:
        raise LaminaError("the model's tokenizer has no end-of-sequence token")
    if tokenizer.pad_token is None:
        tokenizer.pad_token = tokenizer.eos_token
    if len(tokenizer) > model.get_input_embeddings().weight.shape[0]:
        model.resize_token_embeddings(len(tokenizer))
    ids = tokenizer.convert_tokens_to_ids
    words = {QUESTION_TOKEN: " question", ANSWER_TOKEN: " answer",
             **{task_token(n): " " + n.replace("-", " ").replace("_", " ") for n in names}}
    # only the tokens added now: a model that already has them (a lifelong output) keeps what it learnt
    _init_from_words(model, tokenizer, {ids(t): w for t, w in words.items() if t not in had})
    return Tokens(ids(QUESTION_TOKEN), ids(ANSWER_TOKEN), tokenizer.eos_token_id, tokenizer.pad_token_id,
                  {n: ids(task_token(n)) for n in names})


def encode_rows(rows: list[dict], task: str, tokenizer, tokens: Tokens, *, max_length: int, max_answer: int):
    """Per row: ``input_ids``, ``labels`` (LM: every token after the task token), ``qa_labels``
    (the answer and EOS) and ``prompt`` (the ids up to ANS). Contexts are cut to fit."""
    if not rows:
        return []

    def ids(texts):
        return tokenizer([t.strip() for t in texts], add_special_tokens=False)["input_ids"]

    contexts, questions = ids([r["context"] for r in rows]), ids([r["question"] for r in rows])
    answers = ids([r["answer"] for r in rows])
    out = []
    for c, q, a in zip(contexts, questions, answers):
        a = a[:max_answer]
        q = q[: max(0, max_length // 4)]
        # task, Q, ANS, EOS; the context is cut against the answer *budget*, never the gold answer's
        # length: otherwise a dev prompt's length would tell the model how long its answer is
        room = max_length - (len(q) + max_answer + 4)
        if room < 0:
            raise LaminaError(f"--max-length {max_length} is too short for a question and answer of task '{task}' "
                              f"({len(q)} + --max-answer-tokens {max_answer} tokens)")
        prompt = [tokens.tasks[task], *c[:room], tokens.question, *q, tokens.answer]
        seq = prompt + a + [tokens.eos]
        out.append({"input_ids": seq, "labels": [-100] + seq[1:],
                    "qa_labels": [-100] * len(prompt) + a + [tokens.eos], "prompt": prompt})
    return out


DROP_REASONS = ("no end", "separators", "task token", "empty answer")


def parse_pseudo(ids: list[int], task: str, tokens: Tokens, tokenizer) -> dict | None:
    """A sampled continuation of a task token → ``{context, question, answer}``, or None when it
    does not parse: no end of sequence, not exactly one Q before exactly one ANS, another task's
    token inside, or an empty answer."""
    return _parse(ids, task, tokens, tokenizer)[0]


def _parse(ids: list[int], task: str, tokens: Tokens, tokenizer) -> tuple[dict | None, str | None]:
    """``parse_pseudo`` and, for a sample it drops, why (one of ``DROP_REASONS``)."""
    if tokens.eos not in ids:
        return None, "no end"
    body = ids[: ids.index(tokens.eos)]
    if body.count(tokens.question) != 1 or body.count(tokens.answer) != 1:
        return None, "separators"
    q, a = body.index(tokens.question), body.index(tokens.answer)
    if a < q:
        return None, "separators"
    if any(t in tokens.tasks.values() for t in body):
        return None, "task token"

    def text(part):
        return tokenizer.decode(part, skip_special_tokens=True).strip()

    row = {"context": text(body[:q]), "question": text(body[q + 1:a]), "answer": text(body[a + 1:]), "task": task}
    return (row, None) if row["answer"] else (None, "empty answer")


# ---------------------------------------------------------------- generation


def generate(model, prompts: list[list[int]], tokens: Tokens, *, max_new_tokens: int, batch_size: int,
             sample: bool = False, top_k: int = 0) -> list[list[int]]:
    """HF ``generate`` on id prompts (left-padded): per prompt the new ids, up to and including the
    first end of sequence when one was generated."""
    import torch

    was_training = model.training
    model.eval()
    device = next(model.parameters()).device
    out = []
    extra = {"do_sample": True, "top_k": top_k, "top_p": 1.0, "temperature": 1.0} if sample else \
        {"do_sample": False}
    try:
        with torch.no_grad():
            for start in range(0, len(prompts), batch_size):
                chunk = prompts[start:start + batch_size]
                width = max(len(p) for p in chunk)
                ids = torch.tensor([[tokens.pad] * (width - len(p)) + p for p in chunk], device=device)
                mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in chunk], device=device)
                gen = model.generate(input_ids=ids, attention_mask=mask, max_new_tokens=max_new_tokens,
                                     pad_token_id=tokens.pad, eos_token_id=tokens.eos, **extra)
                for row in gen[:, width:].tolist():
                    out.append(row[: row.index(tokens.eos) + 1] if tokens.eos in row else row)
    finally:
        model.train(was_training)
    return out


def answer_texts(model, encoded: list[dict], tokens: Tokens, tokenizer, *, max_answer: int, batch_size: int):
    """The greedy answers to the encoded examples' prompts, as text."""
    gen = generate(model, [e["prompt"] for e in encoded], tokens, max_new_tokens=max_answer + 1,
                   batch_size=batch_size)
    return [tokenizer.decode([t for t in g if t != tokens.eos], skip_special_tokens=True).strip() for g in gen]


def _percent(metric: str, value: float) -> float:
    return 100 * value if metric == "accuracy" else value


def normalise(text: str) -> str:
    return " ".join(text.lower().split())


def score(task: TextTask, answers: list[str]) -> tuple[float, list[bool] | None]:
    """The task's metric of ``answers`` against the dev answers (and, for accuracy, which were right)."""
    refs = [r["answer"] for r in task.dev]
    if task.metric == "bleu":
        from lamina.eval.metrics import corpus_bleu

        return corpus_bleu(answers, refs), None
    right = [normalise(a) == normalise(r) for a, r in zip(answers, refs)]
    return sum(right) / max(1, len(right)), right


def sample_pseudo(model, tokenizer, tokens: Tokens, earlier: list[str], n: int, *, max_length: int,
                  batch_size: int, top_k: int) -> tuple[list[dict], dict]:
    """``n`` pseudo-examples split evenly over the ``earlier`` tasks, sampled from each task's token;
    those that do not parse are dropped and counted."""
    rows, stats = [], {"asked": n, "kept": 0, "dropped": 0, "per_task": {}, "why_dropped": dict.fromkeys(DROP_REASONS, 0)}
    dropped_samples = []
    if n <= 0 or not earlier:
        return rows, stats
    share = [n // len(earlier) + (1 if i < n % len(earlier) else 0) for i in range(len(earlier))]
    for task, k in zip(earlier, share):
        if k == 0:
            continue
        gen = generate(model, [[tokens.tasks[task]]] * k, tokens, max_new_tokens=max_length - 1,
                       batch_size=batch_size, sample=True, top_k=top_k)
        parsed = [_parse(g, task, tokens, tokenizer) for g in gen]
        kept = [p for p, _ in parsed if p is not None]
        for g, (_, why) in zip(gen, parsed):
            if why:
                stats["why_dropped"][why] += 1
                dropped_samples.append(tokenizer.decode(g[:64]))
        rows += kept
        stats["per_task"][task] = {"asked": k, "kept": len(kept), "dropped": k - len(kept)}
        stats["kept"] += len(kept)
        stats["dropped"] += k - len(kept)
    stats["examples"] = rows[:3]  # a few, to look at
    stats["dropped_examples"] = dropped_samples[:3]  # the first 64 tokens of a few dropped samples
    return rows, stats


# ---------------------------------------------------------------- training


class Collator:
    """Right-pads ``input_ids`` (pad id), ``labels`` and ``qa_labels`` (-100) to the longest row, or
    to ``width`` (``--pad-to-max-length``); ``kd`` per row."""

    def __init__(self, pad: int, width: int | None = None):
        self.pad, self.width = pad, width

    def __call__(self, features):
        import torch

        width = self.width or max(len(f["input_ids"]) for f in features)

        def padded(key, value):
            return torch.tensor([f[key] + [value] * (width - len(f[key])) for f in features])

        return {"input_ids": padded("input_ids", self.pad),
                "attention_mask": torch.tensor([[1] * len(f["input_ids"]) + [0] * (width - len(f["input_ids"]))
                                                for f in features]),
                "labels": padded("labels", -100), "qa_labels": padded("qa_labels", -100),
                "kd": torch.tensor([int(f["kd"]) for f in features])}


def lifelong_trainer_class():
    """HF Trainer whose loss is LAMOL's QA + λ·LM, per row as NLL or (rows marked ``kd``) as
    lamina's ``kd`` loss against the teacher (Word-KD / Seq-KD-soft)."""
    import torch
    from transformers import Trainer

    from lamina.losses import LossContext, TeacherView, get_loss
    from lamina.losses.functional import token_nll

    class LifelongTrainer(Trainer):
        def __init__(self, *args, teacher=None, lm_lambda: float = 0.25, temperature: float = 2.0, **kwargs):
            super().__init__(*args, **kwargs)
            self.teacher, self.lm_lambda, self.temperature = teacher, lm_lambda, temperature
            self.kd_loss = get_loss("kd")
            if teacher is not None:
                teacher.to(self.args.device).eval().requires_grad_(False)

        def _kd(self, logits, teacher_logits, labels, rows, mask):
            pos = torch.zeros_like(labels, dtype=torch.bool)
            pos[:, :-1] = (labels[:, 1:] != -100) & rows[:, None]
            ctx = LossContext(student_logits=logits, labels=None, attention_mask=mask,
                              teachers=[TeacherView(logits=teacher_logits)], temperature=self.temperature,
                              shift_labels=True, token_positions=pos)
            return self.kd_loss(ctx)

        def compute_loss(self, model, inputs, return_outputs=False, num_items_in_batch=None):
            kd = inputs["kd"].bool()
            ids, mask = inputs["input_ids"], inputs["attention_mask"]
            out = model(input_ids=ids, attention_mask=mask)
            logits, n = out.logits, len(kd)
            loss = logits.sum() * 0.0
            nll_rows = ~kd
            if nll_rows.any():
                keep = nll_rows[:, None]
                qa = token_nll(logits, inputs["qa_labels"].masked_fill(~keep, -100), shift=True)
                lm = token_nll(logits, inputs["labels"].masked_fill(~keep, -100), shift=True)
                loss = loss + (qa + self.lm_lambda * lm) * (nll_rows.sum() / n)
            if kd.any():
                if self.teacher is None:
                    raise LaminaError("rows marked for distillation but no teacher")
                with torch.no_grad():
                    t_logits = self.teacher(input_ids=ids, attention_mask=mask).logits
                qa = self._kd(logits, t_logits, inputs["qa_labels"], kd, mask)
                lm = self._kd(logits, t_logits, inputs["labels"], kd, mask)
                loss = loss + (qa + self.lm_lambda * lm) * (kd.sum() / n)
            return (loss, out) if return_outputs else loss

    return LifelongTrainer


def train_stage(model, rows: list[dict], cfg: LifelongConfig, work: Path, tokens: Tokens, *, teacher=None,
                callbacks=None) -> dict:
    """Train ``model`` on the encoded ``rows`` (each with ``kd``) with HF Trainer; the loss summary."""
    import datasets

    from lamina.training.arguments import total_steps, training_arguments

    data = datasets.Dataset.from_list([{k: r[k] for k in ("input_ids", "labels", "qa_labels", "kd")} for r in rows])
    # a stage is short (tens of steps): log often enough that the last logged loss is not the first
    total = total_steps(cfg, len(data))
    args = training_arguments(cfg, work, num_examples=len(data), eval_strategy="no", save_strategy="no",
                              load_best_model_at_end=False, metric_for_best_model=None, remove_unused_columns=False,
                              report_to=[], logging_steps=max(1, min(cfg.logging_steps, total // 10)))
    collator = Collator(tokens.pad, cfg.max_length if cfg.pad_to_max_length else None)
    trainer = lifelong_trainer_class()(model=model, args=args, train_dataset=data, data_collator=collator,
                                       callbacks=callbacks, teacher=teacher, lm_lambda=cfg.lm_lambda,
                                       temperature=cfg.temperature)
    out = trainer.train()
    logged = [h for h in trainer.state.log_history if "loss" in h]
    losses = [h["loss"] for h in logged]
    return {"steps": trainer.state.global_step, "train_loss": out.training_loss,
            "train_loss_first": losses[0] if losses else None, "train_loss_last": losses[-1] if losses else None,
            "loss_curve": [[h["step"], h["loss"]] for h in logged], "examples": len(data)}


# ---------------------------------------------------------------- teachers


def _teacher_key(cfg: LifelongConfig, task: TextTask, source: str) -> dict:
    return {"model": source, "task": task.name, "data": task.source, "task_set": sorted(cfg.distinct_tasks),
            "train_examples": len(task.train), "dev_examples": len(task.dev), "epochs": cfg.epochs, "lr": cfg.lr,
            "batch_size": cfg.batch_size, "max_length": cfg.max_length, "max_answer_tokens": cfg.max_answer_tokens,
            "lm_lambda": cfg.lm_lambda, "seed": cfg.seed, "max_steps": cfg.max_steps, "warmup_ratio": cfg.warmup_ratio,
            "weight_decay": cfg.weight_decay, "optim": cfg.optim, "max_train_samples": cfg.max_train_samples,
            "max_eval_samples": cfg.max_eval_samples}


def get_teacher(base, tokenizer, tokens: Tokens, task: TextTask, encoded: dict, cfg: LifelongConfig, work: Path,
                source: str, log) -> tuple[object, dict]:
    """The starting model fine-tuned on ``task`` alone (NLL, QA + LM), reused from ``--teacher-dir``
    when one with the same key is there; its dev score and per-example correctness."""
    import copy
    import hashlib
    import json

    from transformers import AutoModelForCausalLM, set_seed

    from lamina.io import atomic_output_dir, write_json

    key = _teacher_key(cfg, task, source)
    digest = hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()[:12]
    root = Path(cfg.teacher_dir).expanduser() if cfg.teacher_dir else work / "teachers"
    folder = root / f"{task.name}-{digest}"
    meta_path = folder / "teacher.json"
    if meta_path.is_file():
        meta = json.loads(meta_path.read_text())
        if meta.get("key") == json.loads(json.dumps(key, default=str)):
            log(f"teacher for {task.name}: reused {folder}")
            return AutoModelForCausalLM.from_pretrained(folder), {**meta, "reused": True, "path": str(folder)}
    log(f"teacher for {task.name}: fine-tuning the starting model on {task.name} alone")
    set_seed(cfg.seed)
    teacher = copy.deepcopy(base)
    start = time.perf_counter()
    rows = [{**e, "kd": 0} for e in encoded["train"]]
    summary = train_stage(teacher, rows, cfg, work / f"teacher-{task.name}", tokens)
    answers = answer_texts(teacher, encoded["dev"], tokens, tokenizer, max_answer=cfg.max_answer_tokens,
                           batch_size=cfg.eval_batch_size)
    value, right = score(task, answers)
    meta = {"key": json.loads(json.dumps(key, default=str)), "score": value, "metric": task.metric, "right": right,
            "training": summary, "seconds": time.perf_counter() - start}
    with atomic_output_dir(folder, overwrite=True) as tmp:
        teacher.save_pretrained(tmp)
        write_json(tmp / "teacher.json", meta)
    log(f"teacher for {task.name}: {task.metric} {value:.4f}")
    return teacher, {**meta, "reused": False, "path": str(folder)}


# ---------------------------------------------------------------- the run


@register_workflow("lifelong")
class Lifelong(Workflow):
    """Learn a sequence of text-to-text tasks with one LM (finetune, LAMOL, L2KD's Word-KD / Seq-KD-soft / Seq-KD)."""

    Config = LifelongConfig
    arguments = ("model",)
    recipe_defaults = {"progress": False}

    def run(self, cfg: LifelongConfig, ctx: RunContext) -> dict:
        return run_lifelong(cfg, log=ctx.log, callbacks=ctx.callbacks)

    def show(self, record, cfg, echo) -> None:
        m = record["matrix"]
        width = max(10, *(len(t) for t in m["tasks"]))
        echo("after task".ljust(width + 2) + "  ".join(t.rjust(width) for t in m["tasks"]))
        for trained, row in zip(m["trained"], m["scores"]):
            echo(trained.ljust(width + 2) + "  ".join(f"{v:{width}.4f}" for v in row))
        echo(f"final average {record['metrics']['average']:.4f} ({record.get('wall_seconds', 0):.0f} s)")
        super().show(None, cfg, echo)


def _load_state(checkpoint: Path) -> dict:
    import json

    return json.loads((checkpoint / STATE_FILE).read_text())


def run_lifelong(cfg: LifelongConfig, *, log=print, callbacks=None) -> dict:
    import copy
    import gc
    import shutil

    import torch
    from transformers import AutoModelForCausalLM, set_seed

    from lamina.eval.timing import parameter_count
    from lamina.io import atomic_output_dir, check_output_dir, write_json
    from lamina.models.adapters import get_adapter
    from lamina.models.loading import load_causal_lm
    from lamina.results import RESULTS_FILE, finish_record, new_record
    from lamina.training.workdir import begin_work, prepare_work_dir

    check_output_dir(cfg.output, overwrite=cfg.overwrite)
    tasks = {name: read_text_task(name, cfg) for name in cfg.distinct_tasks}  # bad data fails before any output
    drop_shared_contexts(tasks)
    for t in tasks.values():
        if not t.train or not t.dev:
            raise LaminaError(f"task '{t.name}' has no {'training' if not t.train else 'dev'} examples")
    model, tokenizer, source = load_causal_lm(cfg.model, train=True)
    if tokenizer is None:
        raise LaminaError(f"'{cfg.model}' has no tokenizer")
    work, checkpoint = prepare_work_dir(cfg, log=log)
    record = new_record("lifelong", model=cfg.model, task=">".join(cfg.tasks), config=cfg.model_dump(), seed=cfg.seed)
    set_seed(cfg.seed)  # the new token embeddings are drawn from this seed
    tokens = add_task_tokens(model, tokenizer, cfg.distinct_tasks)
    encoded = {n: {s: encode_rows(getattr(t, s), n, tokenizer, tokens, max_length=cfg.max_length,
                                  max_answer=cfg.max_answer_tokens) for s in ("train", "dev")} for n, t in tasks.items()}
    needs_teachers = cfg.method in KD_METHODS
    base = copy.deepcopy(model) if (needs_teachers or cfg.teacher_split) else None  # the teachers' starting point
    state = {"matrix": [], "stages": [], "final_right": {}}
    if checkpoint is not None:
        state = _load_state(checkpoint)
        model = AutoModelForCausalLM.from_pretrained(checkpoint)
        log(f"resuming after task {len(state['stages'])} of {len(cfg.tasks)} ({checkpoint.name})")
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    model.to(device)
    teachers_info: dict[str, dict] = {}
    begin_work(work, cfg)

    def teacher_for(name):
        teacher, info = get_teacher(base, tokenizer, tokens, tasks[name], encoded[name], cfg, work, source, log)
        teachers_info[name] = info
        return teacher.to(device)

    for m, name in enumerate(cfg.tasks):
        if m < len(state["stages"]):
            continue
        start = time.perf_counter()
        set_seed(cfg.seed + m)
        stage = {"stage": m, "task": name}
        teacher = teacher_for(name) if needs_teachers else None
        new = encoded[name]["train"]
        if cfg.method in ("seq-kd", "seq-kd-soft"):  # the teacher's greedy answers replace the gold ones
            answers = answer_texts(teacher, new, tokens, tokenizer, max_answer=cfg.max_answer_tokens,
                                   batch_size=cfg.eval_batch_size)
            rows = [{**r, "answer": a} for r, a in zip(tasks[name].train, answers)]
            stage["teacher_answers_empty"] = sum(not a for a in answers)
            new = encode_rows(rows, name, tokenizer, tokens, max_length=cfg.max_length,  # an empty answer: ANS EOS
                              max_answer=cfg.max_answer_tokens)
        kd_flag = int(cfg.method in ("word-kd", "seq-kd-soft"))
        train_rows = [{**e, "kd": kd_flag} for e in new]
        if cfg.method != "finetune" and m > 0:
            t0 = time.perf_counter()
            n = int(math.ceil(cfg.pseudo_rate * len(new)))
            set_seed(cfg.seed + m)  # the same samples whether or not a teacher was just trained
            pseudo, stats = sample_pseudo(model, tokenizer, tokens, cfg.tasks[:m], n, max_length=cfg.max_length,
                                          batch_size=cfg.eval_batch_size, top_k=cfg.top_k)
            stats["seconds"] = time.perf_counter() - t0
            stage["pseudo"] = stats
            log(f"stage {m + 1} ({name}): {stats['kept']} of {n} pseudo-examples of {', '.join(cfg.tasks[:m])} kept "
                f"({stats['dropped']} did not parse)")
            by_task: dict[str, list[dict]] = {}
            for p in pseudo:
                by_task.setdefault(p["task"], []).append(p)
            for t, ps in by_task.items():
                train_rows += [{**e, "kd": 0} for e in encode_rows(ps, t, tokenizer, tokens, max_length=cfg.max_length,
                                                                   max_answer=cfg.max_answer_tokens)]
        stage["training"] = train_stage(model, train_rows, cfg, work / f"stage-{m}", tokens, teacher=teacher,
                                        callbacks=callbacks)
        seen = list(dict.fromkeys(cfg.tasks[: m + 1]))
        row = []
        for t in seen:
            answers = answer_texts(model, encoded[t]["dev"], tokens, tokenizer, max_answer=cfg.max_answer_tokens,
                                   batch_size=cfg.eval_batch_size)
            value, right = score(tasks[t], answers)
            row.append(value)
            state["final_right"][t] = right
            if t == name:
                stage["answers_sample"] = answers[:3]
        stage["scores"] = dict(zip(seen, row))
        stage["seconds"] = time.perf_counter() - start
        state["matrix"].append(row)
        state["stages"].append(stage)
        log(f"stage {m + 1} ({name}): " + ", ".join(f"{t} {v:.4f}" for t, v in zip(seen, row)))
        del teacher
        gc.collect()
        ckpt = work / f"checkpoint-{m + 1}"
        ckpt.mkdir(parents=True, exist_ok=True)
        model.save_pretrained(ckpt)
        write_json(ckpt / STATE_FILE, state)  # last: the stage is complete
        for old in work.glob("checkpoint-*"):
            if old != ckpt:
                shutil.rmtree(old, ignore_errors=True)
        shutil.rmtree(work / f"stage-{m}", ignore_errors=True)

    distinct = cfg.distinct_tasks
    final = dict(zip(distinct, state["matrix"][-1]))
    # the average puts accuracy on BLEU's 0-100 scale (the matrix and per-task metrics keep fractions)
    metrics = {"average": sum(_percent(tasks[t].metric, v) for t, v in final.items()) / len(final), **final}
    best = {t: max(row[i] for row in state["matrix"] if len(row) > i) for i, t in enumerate(distinct)}
    record["matrix"] = {"tasks": distinct, "metric": {t: tasks[t].metric for t in distinct},
                        "trained": list(cfg.tasks), "scores": state["matrix"]}
    record["forgetting"] = {t: best[t] - final[t] for t in distinct}
    if cfg.teacher_split:
        split = {}
        for t in distinct:
            if tasks[t].metric != "accuracy":
                continue
            if t not in teachers_info:
                teacher_for(t)
            split[t] = teacher_split(teachers_info[t]["right"], state["final_right"][t])
        if split:
            record["teacher_split"] = split
            for k in ("teacher_accuracy", "acc_teacher_correct", "acc_teacher_wrong"):
                values = [s[k] for s in split.values() if s[k] is not None]
                if values:
                    metrics[k] = sum(values) / len(values)
    record["metrics"] = metrics
    record["stages"] = state["stages"]
    record["teachers"] = {t: {k: v for k, v in i.items() if k != "right"} for t, i in teachers_info.items()}
    record["tasks"] = {t: {"metric": x.metric, "train_examples": len(x.train), "dev_examples": len(x.dev),
                           "train_dropped_shared_with_dev": x.held_out,
                           "description": x.description, "token": task_token(t)} for t, x in tasks.items()}
    record["sizes"] = {"layers": get_adapter(model).num_layers(model.config), "parameters": parameter_count(model)}
    with atomic_output_dir(cfg.output, overwrite=cfg.overwrite) as tmp:
        model.save_pretrained(tmp)
        tokenizer.save_pretrained(tmp)
        finish_record(record)
        write_card(tmp, record, name=Path(cfg.output).name)
        write_json(tmp / RESULTS_FILE, record)
    if not cfg.keep_checkpoints:
        shutil.rmtree(work, ignore_errors=True)
    return record


def teacher_split(teacher_right: list[bool], final_right: list[bool]) -> dict:
    """Seed 001's second table for one task: the final accuracy on the examples the teacher got
    right (A) and wrong (B)."""
    a = [f for t, f in zip(teacher_right, final_right) if t]
    b = [f for t, f in zip(teacher_right, final_right) if not t]
    return {"teacher_accuracy": sum(teacher_right) / len(teacher_right), "accuracy": sum(final_right) / len(final_right),
            "acc_teacher_correct": sum(a) / len(a) if a else None, "acc_teacher_wrong": sum(b) / len(b) if b else None,
            "teacher_correct": len(a), "teacher_wrong": len(b)}


def write_card(folder: Path, record: dict, *, name: str) -> None:
    cfg, m = record["config"], record["matrix"]
    lines = ["---", "library_name: transformers", "tags:", "- lamina", "- lifelong-learning", "- text-generation",
             "---", "", f"# {name}", "",
             f"`{record['model']}` trained on the task sequence **{' → '.join(m['trained'])}** with lamina "
             f"(`lamina lifelong --method {cfg['method']}`), LAMOL style: each example is "
             "`__TASK__ context __q__ question __ans__ answer`, learnt as QA (the answer) and as a language model "
             "(the whole example).", "",
             "## How it was made", "",
             f"- **Method:** {cfg['method']}; pseudo-rate {cfg['pseudo_rate']}, LM weight {cfg['lm_lambda']}, "
             f"temperature {cfg['temperature']} (KD methods), top-k {cfg['top_k']}",
             f"- **Settings:** {cfg['epochs']} epochs per task, lr {cfg['lr']}, batch {cfg['batch_size']}, max length "
             f"{cfg['max_length']}, answers up to {cfg['max_answer_tokens']} tokens, seed {cfg['seed']}",
             "- **Tasks:** " + "; ".join(f"`{t}` ({i['metric']}, {i['train_examples']} train / {i['dev_examples']} dev, "
                                          f"token `{i['token']}`)" for t, i in record["tasks"].items()),
             f"- **Wall time:** {record.get('wall_seconds', 0):.0f} s",
             f"- **Command:** `{record['command']}`", "",
             "## Scores after each task (rows: task just learnt; columns: tasks seen)", "",
             "| after | " + " | ".join(m["tasks"]) + " |", "|---|" + "---:|" * len(m["tasks"])]
    for trained, row in zip(m["trained"], m["scores"]):
        cells = [f"{v:.4f}" for v in row] + [""] * (len(m["tasks"]) - len(row))
        lines.append(f"| {trained} | " + " | ".join(cells) + " |")
    lines += ["", f"Final average: **{record['metrics']['average']:.4f}** (0–100: accuracy ×100 and BLEU averaged; the matrix keeps accuracy as a fraction).", "",
              "## Use", "", "```python", "from transformers import AutoModelForCausalLM, AutoTokenizer",
              f'model = AutoModelForCausalLM.from_pretrained("{name}")',
              f'tokenizer = AutoTokenizer.from_pretrained("{name}")',
              'prompt = "__TASK__ your context __q__ your question __ans__"  # then generate the answer', "```", ""]
    (folder / "README.md").write_text("\n".join(lines), encoding="utf-8")
