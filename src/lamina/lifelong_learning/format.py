"""LAMOL's example format: ``TASK context Q question ANS answer EOS``, where ``TASK`` is the task's
own token (``__sst2__``) and ``Q`` (``__q__``) / ``ANS`` (``__ans__``) are separators added to the
tokenizer; the tokens, and examples encoded with them."""

from __future__ import annotations

from dataclasses import dataclass

from lamina.errors import LaminaError

QUESTION_TOKEN, ANSWER_TOKEN = "__q__", "__ans__"


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
    words = {
        QUESTION_TOKEN: " question",
        ANSWER_TOKEN: " answer",
        **{task_token(n): " " + n.replace("-", " ").replace("_", " ") for n in names},
    }
    # only the tokens added now: a model that already has them (a lifelong output) keeps what it learnt
    _init_from_words(model, tokenizer, {ids(t): w for t, w in words.items() if t not in had})
    return Tokens(
        ids(QUESTION_TOKEN),
        ids(ANSWER_TOKEN),
        tokenizer.eos_token_id,
        tokenizer.pad_token_id,
        {n: ids(task_token(n)) for n in names},
    )


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
            raise LaminaError(
                f"--max-length {max_length} is too short for a question and answer of task '{task}' "
                f"({len(q)} + --max-answer-tokens {max_answer} tokens)"
            )
        prompt = [tokens.tasks[task], *c[:room], tokens.question, *q, tokens.answer]
        seq = prompt + a + [tokens.eos]
        out.append(
            {
                "input_ids": seq,
                "labels": [-100] + seq[1:],
                "qa_labels": [-100] * len(prompt) + a + [tokens.eos],
                "prompt": prompt,
            }
        )
    return out


def encode_tasks(tasks: dict, tokenizer, tokens: Tokens, cfg) -> dict[str, dict[str, list[dict]]]:
    """``{task: {"train": rows, "dev": rows}}``, every split encoded with :func:`encode_rows`."""
    return {
        n: {
            s: encode_rows(
                getattr(t, s), n, tokenizer, tokens, max_length=cfg.max_length, max_answer=cfg.max_answer_tokens
            )
            for s in ("train", "dev")
        }
        for n, t in tasks.items()
    }
