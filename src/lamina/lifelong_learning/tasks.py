"""Tasks as text-to-text rows ``{context, question, answer}``, read through lamina's task registry
(GLUE classification, bbc-news, bbc-headline) or from a ``--text-file`` (the custom task's file
reader), and scored: exact-match accuracy of the answer or corpus BLEU."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated

from pydantic import BeforeValidator

from lamina.config import parse_mapping
from lamina.errors import LaminaError

TEXT_METRICS = ("accuracy", "bleu")
QUESTIONS = {
    "sst2": "Is this review positive or negative?",
    "bbc-news": "What is the topic of this article?",
    "bbc-headline": "What is the headline of this article?",
}


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


def read_tasks(cfg) -> dict[str, TextTask]:
    """Every task of the run (``cfg.distinct_tasks``), training rows that leak another task's dev
    set dropped; a task left without training or dev examples is an error."""
    tasks = {name: read_text_task(name, cfg) for name in cfg.distinct_tasks}
    drop_shared_contexts(tasks)
    for t in tasks.values():
        if not t.train or not t.dev:
            raise LaminaError(f"task '{t.name}' has no {'training' if not t.train else 'dev'} examples")
    return tasks


def _rows(contexts, question: str, answers) -> list[dict]:
    return [{"context": str(c), "question": question, "answer": str(a)} for c, a in zip(contexts, answers)]


def read_text_task(name: str, cfg) -> TextTask:
    """Task ``name`` as text-to-text rows through lamina's own readers (or a --text-file)."""
    from lamina.data.encode import subset
    from lamina.tasks import get_task

    if name in cfg.text_files:
        return _read_text_file(name, cfg)
    from lamina.tasks.objectives import objective_for

    task = get_task(name)
    objective = objective_for(task)
    pairs, classes = objective.has("pairs"), objective.has("text", "classes")
    if not (pairs or classes):
        raise LaminaError(
            f"task '{name}' ({task.objective.name}) is not a text-to-text task: lifelong takes "
            "classification tasks, seq2seq tasks (bbc-headline) and --text-file tasks"
        )
    data = task.load(cfg.data_dir)
    train = subset(data["train"], cfg.max_train_samples, cfg.seed, stratify=classes)
    dev = subset(data["dev"], cfg.max_eval_samples, cfg.seed, stratify=classes)
    if pairs:
        question = QUESTIONS.get(name, "What is the target?")
        return TextTask(
            name,
            "bleu",
            _rows(train["source"], question, train["target"]),
            _rows(dev["source"], question, dev["target"]),
            task.description,
            {"task": name},
        )
    question = QUESTIONS.get(name) or f"Which is it: {', '.join(task.labels)}?"

    def rows(ds):
        texts = (
            ds["text"]
            if "text_pair" not in ds.column_names
            else [f"{a} {b}" for a, b in zip(ds["text"], ds["text_pair"])]
        )
        return _rows(texts, question, [task.labels[y] for y in ds["label"]])

    return TextTask(name, "accuracy", rows(train), rows(dev), task.description, {"task": name})


def _text_rows(path: str) -> list[dict]:
    """The ``{context, question, answer}`` rows of one --text-file (the custom task's reader)."""
    from lamina.tasks.custom import read_examples

    records = read_examples(path)
    columns = sorted(records[0])
    if "answer" not in records[0]:
        raise LaminaError(
            f"{path}: no 'answer' column (a text-to-text file has the columns context, question, "
            f"answer; it has {columns})"
        )
    if "context" not in records[0] and "question" not in records[0]:
        raise LaminaError(f"{path}: no 'context' or 'question' column (it has {columns})")
    rows = []
    for i, r in enumerate(records, 1):
        answer = str(r.get("answer") or "").strip()
        if not answer:
            raise LaminaError(f"{path}: example {i} has an empty answer")
        rows.append(
            {"context": str(r.get("context") or ""), "question": str(r.get("question") or ""), "answer": answer}
        )
    return rows


def _read_text_file(name: str, cfg) -> TextTask:
    paths = [p.strip() for p in cfg.text_files[name].split(",") if p.strip()]
    if len(paths) not in (1, 2):
        raise LaminaError(f"--text-file {name}: give TRAIN or TRAIN,DEV, not '{cfg.text_files[name]}'")
    splits = [_text_rows(path) for path in paths]
    if len(splits) == 1:
        every = splits[0]
        if len(every) < 2:
            raise LaminaError(f"{paths[0]}: one example; give a DEV file too (--text-file {name}=TRAIN,DEV)")
        splits = [[r for i, r in enumerate(every) if i % 10 != 0], [r for i, r in enumerate(every) if i % 10 == 0]]
    train, dev = _seeded(splits[0], cfg.max_train_samples, cfg.seed), _seeded(splits[1], cfg.max_eval_samples, cfg.seed)
    return TextTask(
        name,
        cfg.text_metrics.get(name, "accuracy"),
        train,
        dev,
        f"text-to-text file {paths[0]}",
        {"files": [str(Path(p).expanduser().resolve()) for p in paths]},
    )


def _seeded(rows: list[dict], n: int | None, seed: int) -> list[dict]:
    import random

    if n is None or n >= len(rows):
        return rows
    picked = sorted(random.Random(seed).sample(range(len(rows)), n))
    return [rows[i] for i in picked]


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


def percent(metric: str, value: float) -> float:
    """``value`` on the 0-100 scale (accuracy is kept as a fraction, BLEU is 0-100 already)."""
    return 100 * value if metric == "accuracy" else value


# ---------------------------------------------------------------- the command's task settings


def _names(value):
    if value is None:
        return []
    items = value if isinstance(value, (list, tuple)) else [value]
    return [p.strip() for item in items for p in str(item).split(",") if p.strip()]


TaskList = Annotated[list[str], BeforeValidator(_names)]
FileMap = Annotated[
    dict[str, str],
    BeforeValidator(lambda v: {k: str(x) for k, x in parse_mapping(v, "--text-file", split_commas=False).items()}),
]
MetricMap = Annotated[
    dict[str, str], BeforeValidator(lambda v: {k: str(x) for k, x in parse_mapping(v, "--text-metric").items()})
]
