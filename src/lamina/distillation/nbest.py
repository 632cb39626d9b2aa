"""Teacher n-best lists on disk: the training targets of sequence-level KD (Kim & Rush 2016).

``lamina generate-targets`` decodes the training sources with the teacher once (beam K,
n-best) and keeps the result in an entry of the n-best store, a folder named by a
fingerprint of everything the outputs depend on, as the teacher-output cache does
(:mod:`lamina.distillation.cache`): the teacher's config and weights, the sources (their token
ids) and the decoding settings (beams, n-best, lengths). Any change makes a new entry; an
unchanged request reuses the entry. An entry is written in a temporary sibling folder and
renamed into place when complete, ``meta.json`` written last inside it, so an interrupted build
leaves no entry and is never read. The temporary folder is locked by its builder as the
teacher-output cache's are (:mod:`lamina.distillation.cache`: an ``.owner`` file under ``flock``), and
every build first sweeps the store of those whose builder is dead (``kill -9`` included), or,
where no lock can be asked, that nobody has touched for six hours.

Layout of an entry::

    meta.json        fingerprint, teacher digest, decoding settings, split, counts
    targets.jsonl    one line per training pair: {"source", "reference", "nbest": [best first, ...]}

Seq-KD trains on ``nbest[0]`` (the teacher's beam output); Seq-Inter on the candidate closest
to the reference by smoothed sentence BLEU (``sacrebleu``; ties to the better-ranked one).
"""

from __future__ import annotations

import hashlib
import json
import re
import shutil
import time
from pathlib import Path

import numpy as np
import torch

from lamina.data.targets import META_FILE, TARGETS_FILE, read_targets  # noqa: F401  (the store's file format)
from lamina.errors import LaminaError

NBEST_VERSION = 1
_TEMP = re.compile(r"\.[0-9a-f]{24}(?:-|\.init-|\.partial-)[A-Za-z0-9_]+")  # a build's temporary folder


def sweep(root: Path, *, log=print, now: float | None = None) -> list[Path]:
    """Remove the temporary folders of interrupted builds from the store ``root`` (only folders that
    hold nothing but the store's own files); returns them. Never fails a run."""
    from lamina.distillation.cache import OWNER, _temp_is_stale

    own = {OWNER, TARGETS_FILE, META_FILE, f".{META_FILE}.partial"}
    now = time.time() if now is None else now
    removed = []
    try:
        for tmp in sorted(root.iterdir()) if root.is_dir() else []:
            if (
                not _TEMP.fullmatch(tmp.name)
                or not tmp.is_dir()
                or tmp.is_symlink()
                or not all(c.name in own and c.is_file() for c in tmp.iterdir())
                or not _temp_is_stale(tmp, now)
            ):
                continue
            shutil.rmtree(tmp, ignore_errors=True)
            log(f"n-best store: removed {tmp}, the partial output of an interrupted build")
            removed.append(tmp)
    except OSError:
        pass  # housekeeping: never fails the run
    return removed


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
    h.update(
        json.dumps(
            {"v": NBEST_VERSION, "teacher": teacher_digest, "decoding": decoding, "split": split}, sort_keys=True
        ).encode()
    )
    for ids in source_ids:
        h.update(np.asarray(ids, dtype=np.int64).tobytes())
        h.update(b"|")
    return h.hexdigest()


def build_or_open(
    teacher,
    tokenizer,
    sources: list[str],
    references: list[str],
    *,
    root: str | Path,
    decoding: dict,
    batch_size: int = 32,
    split: str = "train",
    log=print,
) -> tuple[Path, dict, bool]:
    """(entry folder, its meta, whether it was reused) for the teacher's n-best lists of ``sources``.
    ``decoding``: num_beams, n_best, max_new_tokens, max_length; ``split``: which split the sources
    are (only ``train`` entries are training targets for Seq-KD)."""
    from lamina.distillation.cache import OWNER, _new_temp
    from lamina.eval.generation import generate_texts
    from lamina.io import write_json

    if decoding["n_best"] > decoding["num_beams"]:
        raise LaminaError(f"--n-best {decoding['n_best']} is more than --num-beams {decoding['num_beams']}")
    digest = weights_digest(teacher)
    ids = tokenizer(sources, truncation=True, max_length=decoding["max_length"])["input_ids"]
    key = nbest_fingerprint(digest, ids, decoding, split)
    root = Path(root).expanduser()
    entry = root / key[:24]
    sweep(root, log=log)
    if (entry / META_FILE).is_file():
        log(f"n-best store: reusing {entry}")
        return entry, json.loads((entry / META_FILE).read_text(encoding="utf-8")), True
    log(
        f"n-best store: decoding {len(sources)} sources (beam {decoding['num_beams']}, n-best {decoding['n_best']}) "
        f"into {entry}"
    )
    nbest = generate_texts(
        teacher,
        tokenizer,
        sources,
        num_beams=decoding["num_beams"],
        num_return_sequences=decoding["n_best"],
        max_new_tokens=decoding["max_new_tokens"],
        max_length=decoding["max_length"],
        batch_size=batch_size,
    )
    meta = {
        "version": NBEST_VERSION,
        "fingerprint": key,
        "teacher_digest": digest,
        "decoding": decoding,
        "split": split,
        "pairs": len(sources),
    }
    root.mkdir(parents=True, exist_ok=True)
    tmp, owner = _new_temp(root, key[:24])  # locked while it is written: a sweep leaves it alone
    try:
        with open(tmp / TARGETS_FILE, "w", encoding="utf-8") as f:
            for s, r, hyps in zip(sources, references, nbest):
                f.write(json.dumps({"source": s, "reference": r, "nbest": hyps}, ensure_ascii=False) + "\n")
        write_json(tmp / META_FILE, meta)  # last: an entry with meta.json is complete
        (tmp / OWNER).unlink()
        tmp.chmod(0o755)
        if entry.exists():  # an earlier entry without meta.json (never read): replaced
            shutil.rmtree(entry)
        tmp.rename(entry)
    finally:
        owner.close()
        shutil.rmtree(tmp, ignore_errors=True)
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
