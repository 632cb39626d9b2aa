"""LAMOL's replay: before a new task the model samples pseudo-examples of the earlier tasks from
each task's token alone (top-k); a sample is parsed back into context / question / answer, or
dropped and counted by why."""

from __future__ import annotations

import math
import time

from lamina.lifelong_learning.format import Tokens, encode_rows
from lamina.lifelong_learning.generation import generate

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

    row = {"context": text(body[:q]), "question": text(body[q + 1 : a]), "answer": text(body[a + 1 :]), "task": task}
    return (row, None) if row["answer"] else (None, "empty answer")


def sample_pseudo(
    model, tokenizer, tokens: Tokens, earlier: list[str], n: int, *, max_length: int, batch_size: int, top_k: int
) -> tuple[list[dict], dict]:
    """``n`` pseudo-examples split evenly over the ``earlier`` tasks, sampled from each task's token;
    those that do not parse are dropped and counted."""
    rows, stats = (
        [],
        {"asked": n, "kept": 0, "dropped": 0, "per_task": {}, "why_dropped": dict.fromkeys(DROP_REASONS, 0)},
    )
    dropped_samples = []
    if n <= 0 or not earlier:
        return rows, stats
    share = [n // len(earlier) + (1 if i < n % len(earlier) else 0) for i in range(len(earlier))]
    for task, k in zip(earlier, share):
        if k == 0:
            continue
        gen = generate(
            model,
            [[tokens.tasks[task]]] * k,
            tokens,
            max_new_tokens=max_length - 1,
            batch_size=batch_size,
            sample=True,
            top_k=top_k,
        )
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


def replay_rows(
    model,
    tokenizer,
    tokens: Tokens,
    earlier: list[str],
    new_examples: int,
    cfg,
    *,
    seed: int,
    log,
    stage: dict,
    name: str,
) -> list[dict]:
    """The encoded pseudo-examples (NLL rows) of the ``earlier`` tasks for a stage that learns
    ``new_examples`` examples of task ``name``: ``--pseudo-rate`` of them, sampled from ``seed``;
    their counts go to ``stage["pseudo"]``."""
    from transformers import set_seed

    t0 = time.perf_counter()
    n = int(math.ceil(cfg.pseudo_rate * new_examples))
    set_seed(seed)  # the same samples whether or not a teacher was just trained
    pseudo, stats = sample_pseudo(
        model, tokenizer, tokens, earlier, n, max_length=cfg.max_length, batch_size=cfg.eval_batch_size, top_k=cfg.top_k
    )
    stats["seconds"] = time.perf_counter() - t0
    stage["pseudo"] = stats
    log(
        f"stage {stage['stage'] + 1} ({name}): {stats['kept']} of {n} pseudo-examples of {', '.join(earlier)} kept "
        f"({stats['dropped']} did not parse)"
    )
    by_task: dict[str, list[dict]] = {}
    for p in pseudo:
        by_task.setdefault(p["task"], []).append(p)
    rows = []
    for t, ps in by_task.items():
        rows += [
            {**e, "kd": 0}
            for e in encode_rows(ps, t, tokenizer, tokens, max_length=cfg.max_length, max_answer=cfg.max_answer_tokens)
        ]
    return rows
