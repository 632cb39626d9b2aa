"""Teacher n-best lists on disk: the training targets of sequence-level KD (Kim & Rush 2016).

``lamina generate-targets`` decodes the training sources with the teacher once (beam K,
n-best) and keeps the result in an entry of the n-best store, a folder named by a
fingerprint of everything the outputs depend on, as the teacher-output cache does
(:mod:`lamina.distill.cache`): the teacher's config and weights, the sources (their token
ids) and the decoding settings (beams, n-best, lengths). Any change makes a new entry; an
unchanged request reuses the entry. An entry is written in a temporary sibling folder and
renamed into place when complete (:func:`lamina.io.atomic_output_dir`), ``meta.json``
written last inside it, so an interrupted build leaves no entry and is never read.

Layout of an entry::

    meta.json        fingerprint, teacher digest, decoding settings, split, counts
    targets.jsonl    one line per training pair: {"source", "reference", "nbest": [best first, ...]}

Seq-KD trains on ``nbest[0]`` (the teacher's beam output); Seq-Inter on the candidate closest
to the reference by smoothed sentence BLEU (``sacrebleu``; ties to the better-ranked one).
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import torch

from lamina.data.targets import META_FILE, TARGETS_FILE, read_targets  # noqa: F401  (the store's file format)
from lamina.errors import LaminaError

NBEST_VERSION = 1


def weights_digest(model) -> str:
    """sha256 of a model's config and weights (the teacher's identity)."""
    h = hashlib.sha256()
    h.update(model.config.to_json_string(use_diff=False).encode())
    for name, tensor in sorted(model.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes())
    return h.hexdigest()


def nbest_fingerprint(teacher_digest: str, source_ids: list[list[int]], decoding: dict, split: str = "train") -> str:
    h = hashlib.sha256()
    h.update(json.dumps({"v": NBEST_VERSION, "teacher": teacher_digest, "decoding": decoding, "split": split},
                        sort_keys=True).encode())
    for ids in source_ids:
        h.update(np.asarray(ids, dtype=np.int64).tobytes())
        h.update(b"|")
    return h.hexdigest()


def build_or_open(teacher, tokenizer, sources: list[str], references: list[str], *, root: str | Path, decoding: dict,
                  batch_size: int = 32, split: str = "train", log=print) -> tuple[Path, dict, bool]:
    """(entry folder, its meta, whether it was reused) for the teacher's n-best lists of ``sources``.
    ``decoding``: num_beams, n_best, max_new_tokens, max_length; ``split``: which split the sources
    are (only ``train`` entries are training targets for Seq-KD)."""
    from lamina.eval.generation import generate_texts
    from lamina.io import atomic_output_dir, write_json

    if decoding["n_best"] > decoding["num_beams"]:
        raise LaminaError(f"--n-best {decoding['n_best']} is more than --num-beams {decoding['num_beams']}")
    digest = weights_digest(teacher)
    ids = tokenizer(sources, truncation=True, max_length=decoding["max_length"])["input_ids"]
    key = nbest_fingerprint(digest, ids, decoding, split)
    entry = Path(root).expanduser() / key[:24]
    if (entry / META_FILE).is_file():
        log(f"n-best store: reusing {entry}")
        return entry, json.loads((entry / META_FILE).read_text(encoding="utf-8")), True
    log(f"n-best store: decoding {len(sources)} sources (beam {decoding['num_beams']}, n-best {decoding['n_best']}) "
        f"into {entry}")
    nbest = generate_texts(teacher, tokenizer, sources, num_beams=decoding["num_beams"],
                           num_return_sequences=decoding["n_best"], max_new_tokens=decoding["max_new_tokens"],
                           max_length=decoding["max_length"], batch_size=batch_size)
    meta = {"version": NBEST_VERSION, "fingerprint": key, "teacher_digest": digest, "decoding": decoding,
            "split": split, "pairs": len(sources)}
    with atomic_output_dir(entry, overwrite=True) as tmp:
        with open(tmp / TARGETS_FILE, "w", encoding="utf-8") as f:
            for s, r, hyps in zip(sources, references, nbest):
                f.write(json.dumps({"source": s, "reference": r, "nbest": hyps}, ensure_ascii=False) + "\n")
        write_json(tmp / META_FILE, meta)  # last: an entry with meta.json is complete
    return entry, meta, False


def pick_target(row: dict, how: str) -> str:
    """Seq-KD (``best``): the teacher's best hypothesis; Seq-Inter (``inter``): the n-best candidate
    with the highest smoothed sentence BLEU against the reference (the first such on ties)."""
    if how == "best":
        return row["nbest"][0]
    if how == "inter":
        from lamina.eval.metrics import sentence_bleu

        scores = [sentence_bleu(h, row["reference"]) for h in row["nbest"]]
        return row["nbest"][int(np.argmax(scores))]
    raise LaminaError(f"pick must be best (Seq-KD) or inter (Seq-Inter), not '{how}'")
