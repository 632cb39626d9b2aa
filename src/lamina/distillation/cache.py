"""Teacher-output cache: run the teacher once per (teacher, dataset, max length, dtype),
keep its outputs on disk, and read them memory-mapped in every later epoch and run.

Layout of one cache entry (a folder named by its fingerprint)::

    meta.json               what was cached and the fingerprint's inputs
    logits.npy              (N, C)
    cls_{j}.npy             (N, H)  first-token state of hidden state j (PKD)
    tokens_{j}.npy          (total_tokens, H)  token states of hidden state j, ragged
    offsets.npy             (N + 1,)  where each example's tokens start in tokens_{j}

A **top-k** entry (``lamina distill --cache-top-k K``: token-level KD of a causal LM or a seq2seq
model, whose full logits, tokens × vocabulary, are far too large to keep) stores instead of
``logits.npy``, for each *target token* (the positions the ``kd`` loss distills, one rule:
:class:`~lamina.distillation.trainer.TokenPositions`), ragged over the examples::

    topk_ids.npy            (total_targets, K) int32    the teacher's K most probable tokens
    topk_logprobs.npy       (total_targets, K) float16 or float32 (the cache dtype): their log-probabilities
                            at the run's temperature
    topk_rest.npy           (total_targets,) float32    log of the mass of every other token
                            (-inf when K is the vocabulary): the loss's "rest" bucket
    topk_offsets.npy        (N + 1,)  where each example's target tokens start

K and the temperature are part of such an entry's fingerprint, and so are the labels (they
decide the target positions and an encoder-decoder's decoder inputs). ``topk_rest`` is kept
rather than derived (1 − Σ exp(log-probs)) because in float16 that difference is lost when the
top K hold nearly all the mass.

Any change to the teacher's weights, the tokenized data, the max length or the dtype
changes the fingerprint, so a stale entry is never read. Outputs are files of their own:
a later run that needs more of them (KD's logits first, then PKD's first-token states)
computes only the missing ones and adds them to the entry. New outputs are written to a
temporary folder and moved in, and ``meta.json`` is replaced last, so an entry never lists
an output that is not complete. Attention maps are not cached
(they are quadratic in length): ``attention_mse`` runs the teacher online.

Interrupted builds. New outputs are computed in a hidden temporary folder
``.{fingerprint[:24]}-XXXXXXXX`` in the cache root. Its builder first creates ``.owner`` in
it (process id, host, whether it is locked) and takes an exclusive ``flock`` on that file,
then gives the folder that name (it starts as ``.{fingerprint[:24]}.init-XXXXXXXX``) and
only then creates the entry folder; it keeps the lock until the temporary folder is gone.
The kernel drops the lock when its process dies, ``kill -9`` included. Every
:meth:`TeacherCache.build_or_open` first sweeps the cache root (:func:`clean_stale`) and
removes what an interrupted build left behind. Stale means:

* a temporary folder whose ``.owner`` says it was locked on this host, and whose lock
  nobody holds any more: its builder is dead, it goes at once;
* a temporary folder whose owner cannot be asked (no ``.owner``, as an older lamina left
  them; another host; no ``flock`` on the file system): once nothing in it has changed for
  :data:`STALE_UNLOCKED_S` (6 hours);
* an entry folder without ``meta.json`` (a first build killed before it finished), and
  output files that an entry's ``meta.json`` does not list (a build killed while moving
  them in), when no temporary folder of that entry is live or undecided and the entry has
  not changed for :data:`STALE_GRACE_S` (a minute).

Only folders holding nothing but the cache's own file names are removed, so a ``--cache-dir``
that holds other things is safe. A sweep never fails a run.

Why one file of more than 500 lines: an entry's life is one protocol (fingerprint, lock, build into
a temporary folder, publish by rename, read memory-mapped, sweep what a killed build left), shared
by the class-logit entries and the top-k token entries; splitting the entry kinds from the protocol
would put the reader of a file in one module and the rules that make it safe to read in another.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shutil
import socket
import tempfile
import time
from pathlib import Path

import numpy as np
import torch

from lamina.losses.base import Needs, TeacherView, TopKTargets

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX: only the age rule applies
    fcntl = None

CACHE_VERSION = 2

STALE_UNLOCKED_S = 6 * 3600  # a temporary folder with no lock to ask: removed once this long untouched
STALE_GRACE_S = 60  # an entry folder without meta.json: never removed within this long of a change
OWNER = ".owner"
_ENTRY = re.compile(r"[0-9a-f]{24}")
_TEMP = re.compile(r"\.([0-9a-f]{24})(?:-|\.init-)[a-z0-9_]+")
_OUTPUT = re.compile(r"(logits|offsets|cls_\d+|tokens_\d+|topk_ids|topk_logprobs|topk_rest|topk_offsets)\.npy")
TOPK_FILES = ["topk_ids.npy", "topk_logprobs.npy", "topk_rest.npy", "topk_offsets.npy"]
#: float32 elements of teacher logits per batch when building a top-k entry (a batch of long
#: blocks over a large vocabulary is cut to fit: 2^28 is 1 GiB)
TOPK_BATCH_ELEMENTS = 1 << 28


def fingerprint(
    teacher,
    input_ids: list[list[int]],
    *,
    max_length: int,
    dtype: str,
    extra: dict | None = None,
    labels: list[list[int]] | None = None,
) -> str:
    """The key of a cache entry: teacher config and weights, tokenized data, max length, dtype, and
    for a top-k entry ``extra`` (K, temperature, the target-position rule) and the ``labels``."""
    h = hashlib.sha256()
    h.update(json.dumps({"v": CACHE_VERSION, "max_length": max_length, "dtype": dtype, **(extra or {})}).encode())
    h.update(teacher.config.to_json_string(use_diff=False).encode())
    for name, tensor in sorted(teacher.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes())
    for ids in input_ids:
        h.update(np.asarray(ids, dtype=np.int64).tobytes())
        h.update(b"|")
    if labels is not None:
        h.update(b"labels")
        for ids in labels:
            h.update(np.asarray(ids, dtype=np.int64).tobytes())
            h.update(b"|")
    return h.hexdigest()


def _new_temp(root: Path, key: str):
    """A fresh temporary folder for entry ``key`` and its open, locked ``.owner`` file.

    The folder gets its sweepable name only once the lock is held, so a sweep never sees a
    live build's folder unlocked."""
    start = Path(tempfile.mkdtemp(prefix=f".{key}.init-", dir=root))
    owner = open(start / OWNER, "w", encoding="utf-8")
    locked = False
    if fcntl is not None:
        try:
            fcntl.flock(owner, fcntl.LOCK_EX | fcntl.LOCK_NB)
            locked = True
        except OSError:
            pass  # no flock on this file system: a sweep falls back on the age rule
    owner.write(
        json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "locked": locked, "started": time.time()})
    )
    owner.flush()
    tmp = start.with_name(f".{key}-{start.name.rsplit('-', 1)[1]}")
    try:
        start.rename(tmp)
    except OSError:
        tmp = start
    return tmp, owner


def _owner_alive(tmp: Path) -> bool | None:
    """Whether the process that built ``tmp`` still holds its lock; ``None`` when that cannot
    be told (no or unreadable ``.owner``, no lock taken, another host, no flock here)."""
    path = tmp / OWNER
    try:
        owner = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if fcntl is None or not isinstance(owner, dict) or owner.get("locked") is not True:
        return None
    if owner.get("host") != socket.gethostname():
        return None  # a lock taken on another machine may not be visible here
    try:
        fd = os.open(path, os.O_RDWR)
    except OSError:
        return None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        return True
    except OSError:
        return None
    finally:
        os.close(fd)  # also releases the lock if it was taken here
    return False


def _last_change(folder: Path) -> float:
    times = [folder.lstat().st_mtime]
    for child in folder.iterdir():
        try:
            times.append(child.lstat().st_mtime)
        except FileNotFoundError:
            pass
    return max(times)


def _only_cache_files(folder: Path, extra: tuple[str, ...] = ()) -> bool:
    return all(c.is_file() and (_OUTPUT.fullmatch(c.name) or c.name in extra) for c in folder.iterdir())


def _temp_is_stale(tmp: Path, now: float) -> bool:
    alive = _owner_alive(tmp)
    if alive is not None:
        return not alive
    return now - _last_change(tmp) > STALE_UNLOCKED_S


def clean_stale(root: Path, *, log=print, now: float | None = None) -> list[Path]:
    """Remove what interrupted builds left in the cache ``root`` (the rules are in the module
    docstring); returns the removed paths. Never fails a run: errors end the sweep quietly."""
    if not root.is_dir():
        return []
    now = time.time() if now is None else now
    removed: list[Path] = []
    live: set[str] = set()  # entries with a build (possibly) under way
    try:
        children = sorted(root.iterdir())
        for tmp in children:
            m = _TEMP.fullmatch(tmp.name)
            if not m or not tmp.is_dir() or tmp.is_symlink():
                continue
            if not _only_cache_files(tmp, (OWNER, "meta.json")) or not _temp_is_stale(tmp, now):
                live.add(m.group(1))
                continue
            shutil.rmtree(tmp, ignore_errors=True)
            log(f"teacher-output cache: removed {tmp}, the partial output of an interrupted build")
            removed.append(tmp)
        for entry in children:
            if not _ENTRY.fullmatch(entry.name) or entry.name in live or not entry.is_dir() or entry.is_symlink():
                continue
            if now - _last_change(entry) < STALE_GRACE_S:
                continue
            meta_path = entry / "meta.json"
            if not meta_path.is_file():
                if _only_cache_files(entry):
                    shutil.rmtree(entry, ignore_errors=True)
                    log(f"teacher-output cache: removed {entry}, an entry an interrupted build never finished")
                    removed.append(entry)
                continue
            try:
                meta = json.loads(meta_path.read_text())
                listed = set(_files(_stored(meta), meta.get("top_k")))
            except (ValueError, KeyError, TypeError):
                continue
            for f in sorted(entry.iterdir()):
                if _OUTPUT.fullmatch(f.name) and f.is_file() and f.name not in listed:
                    f.unlink(missing_ok=True)
                    log(f"teacher-output cache: removed {f}, an output an interrupted build never listed")
                    removed.append(f)
    except OSError:
        pass  # a sweep is housekeeping: it never fails the run
    return removed


def _files(needs: Needs, top_k: int | None = None) -> list[str]:
    logits = (TOPK_FILES if top_k else ["logits.npy"]) if needs.teacher_logits else []
    names = logits + [f"cls_{j}.npy" for j in sorted(needs.teacher_cls)]
    names += [f"tokens_{j}.npy" for j in sorted(needs.teacher_tokens)]
    return names + (["offsets.npy"] if needs.teacher_tokens else [])


def _stored(meta: dict) -> Needs:
    return Needs(teacher_logits=meta["logits"], teacher_cls=set(meta["cls"]), teacher_tokens=set(meta["tokens"]))


def _missing(have: Needs, needs: Needs) -> Needs:
    return Needs(
        teacher_logits=needs.teacher_logits and not have.teacher_logits,
        teacher_cls=needs.teacher_cls - have.teacher_cls,
        teacher_tokens=needs.teacher_tokens - have.teacher_tokens,
    )


class TeacherCache:
    def __init__(self, folder: Path, needs: Needs):
        self.folder = folder
        self.meta = json.loads((folder / "meta.json").read_text())
        self.top_k = self.meta.get("top_k")
        self.logits = np.load(folder / "logits.npy", mmap_mode="r") if needs.teacher_logits and not self.top_k else None
        self.topk = None
        if needs.teacher_logits and self.top_k:  # ids, log-probs, rest: memory-mapped; offsets read whole
            self.topk = tuple(np.load(folder / name, mmap_mode="r") for name in TOPK_FILES[:3]) + (
                np.load(folder / "topk_offsets.npy"),
            )
        self.cls = {j: np.load(folder / f"cls_{j}.npy", mmap_mode="r") for j in needs.teacher_cls}
        self.tokens = {j: np.load(folder / f"tokens_{j}.npy", mmap_mode="r") for j in needs.teacher_tokens}
        self.offsets = np.load(folder / "offsets.npy") if needs.teacher_tokens else None

    @classmethod
    def build_or_open(
        cls,
        teacher,
        encoded,
        collator,
        *,
        root: Path,
        needs: Needs,
        max_length: int,
        dtype: str = "float16",
        batch_size: int = 64,
        log=print,
        top_k: int | None = None,
        temperature: float = 1.0,
        positions=None,
    ) -> TeacherCache:
        """The entry of ``teacher`` on ``encoded``, computed (its missing outputs) once. With ``top_k``
        the teacher's logits are kept as its top-k tokens per target token (``positions``: a
        :class:`~lamina.distillation.trainer.TokenPositions`) at ``temperature``."""
        ids = encoded["input_ids"]
        clean_stale(Path(root), log=log)
        extra, labels = None, None
        if top_k:
            if positions is None:
                raise ValueError("a top-k cache needs the target positions' rule (positions=)")
            extra = {"top_k": int(top_k), "temperature": float(temperature), "positions": positions.rule}
            labels = encoded["labels"] if "labels" in encoded.column_names else None
        key = fingerprint(teacher, ids, max_length=max_length, dtype=dtype, extra=extra, labels=labels)
        folder = Path(root) / key[:24]
        meta_path = folder / "meta.json"
        have = _stored(json.loads(meta_path.read_text())) if meta_path.is_file() else Needs()
        todo = _missing(have, needs)
        if not todo.any_teacher:
            log(f"teacher-output cache: reusing {folder}")
            return cls(folder, needs)
        what = [n.removesuffix(".npy") for n in _files(todo) if n != "offsets.npy"]
        if top_k and todo.teacher_logits:
            what[0] = f"the top {top_k} tokens of each target token"
        log(f"teacher-output cache: computing {', '.join(what)} for {len(ids):,} examples once into {folder}")
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp, owner = _new_temp(folder.parent, folder.name)  # locked before the entry folder exists
        try:
            folder.mkdir(exist_ok=True)
            if top_k and todo.teacher_logits:
                _fill_topk(
                    tmp,
                    teacher,
                    encoded,
                    collator,
                    k=int(top_k),
                    temperature=float(temperature),
                    dtype=dtype,
                    positions=positions,
                )
                rest = Needs(teacher_cls=todo.teacher_cls, teacher_tokens=todo.teacher_tokens)
            else:
                rest = todo
            if rest.any_teacher:
                _fill(tmp, teacher, encoded, collator, needs=rest, dtype=dtype, batch_size=batch_size)
            for name in _files(todo, top_k):
                (tmp / name).replace(folder / name)
            both = have.merge(todo)
            (tmp / "meta.json").write_text(
                json.dumps(
                    {
                        "fingerprint": key,
                        "examples": len(ids),
                        "max_length": max_length,
                        "dtype": dtype,
                        "logits": both.teacher_logits,
                        "cls": sorted(both.teacher_cls),
                        "tokens": sorted(both.teacher_tokens),
                        **(
                            {
                                "top_k": int(top_k),
                                "temperature": float(temperature),
                                "positions": positions.rule,
                                "target_tokens": int(np.load(folder / "topk_offsets.npy")[-1]),
                            }
                            if top_k
                            else {}
                        ),
                    },
                    indent=2,
                )
            )
            (tmp / "meta.json").replace(meta_path)
        finally:
            shutil.rmtree(tmp, ignore_errors=True)
            owner.close()  # releases the lock, once the folder is gone
        return cls(folder, needs)

    def view(self, idx: torch.Tensor, seq_len: int, device) -> TeacherView:
        rows = idx.cpu().numpy()
        order = np.argsort(rows)  # memory maps read fastest in file order
        sorted_rows = rows[order]
        inverse = np.empty_like(order)
        inverse[order] = np.arange(len(order))

        def take(arr):
            return torch.from_numpy(np.ascontiguousarray(arr[sorted_rows][inverse])).float().to(device)

        view = TeacherView()
        if self.logits is not None:
            view.logits = take(self.logits)
        if self.topk is not None:
            view.topk = self._topk_rows(rows, device)
        view.cls = {j: take(a) for j, a in self.cls.items()}
        for j, arr in self.tokens.items():
            out = torch.zeros(len(rows), seq_len, arr.shape[1])
            for b, r in enumerate(rows):
                start, end = int(self.offsets[r]), int(self.offsets[r + 1])
                n = min(end - start, seq_len)
                out[b, :n] = torch.from_numpy(np.array(arr[start : start + n], dtype=np.float32))
            view.tokens[j] = out.to(device)
        return view

    def _topk_rows(self, rows, device) -> TopKTargets:
        """The stored target tokens of examples ``rows``, in batch order (as the loss selects them)."""
        ids, logprobs, rest, offsets = self.topk
        spans = [(int(offsets[r]), int(offsets[r + 1])) for r in rows]

        def take(arr):
            return torch.from_numpy(np.concatenate([np.asarray(arr[a:b]) for a, b in spans]))

        return TopKTargets(
            ids=take(ids).long().to(device),
            logprobs=take(logprobs).float().to(device),
            log_rest=take(rest).float().to(device),
            counts=torch.tensor([b - a for a, b in spans], dtype=torch.long),
        )


@torch.no_grad()
def _fill_topk(folder: Path, teacher, encoded, collator, *, k: int, temperature: float, dtype: str, positions) -> None:
    """The top-k files of an entry: the teacher run once over ``encoded`` (batches of similar
    lengths, as many examples as fit :data:`TOPK_BATCH_ELEMENTS` of logits), its logits at the
    target positions reduced to top-k chunk by chunk, written at each example's offset."""
    from lamina.errors import LaminaError
    from lamina.losses.functional import KD_CHUNK_ELEMENTS, topk_targets

    n = len(encoded)
    columns = [c for c in encoded.column_names if c in ("input_ids", "attention_mask", "token_type_ids", "labels")]
    lengths = np.array([len(x) for x in encoded["input_ids"]], dtype=np.int64)
    vocab = teacher.get_output_embeddings().weight.shape[0]
    if k > vocab:
        raise LaminaError(f"--cache-top-k {k} is more than the teacher's vocabulary ({vocab} tokens)")
    counts = np.zeros(n, dtype=np.int64)  # target tokens per example: the rule applied to its labels
    labels = encoded["labels"] if "labels" in columns else None
    for i in range(n):
        if labels is None:
            counts[i] = int(np.sum(encoded[i]["attention_mask"])) if "attention_mask" in columns else lengths[i]
            continue
        pos = positions.of_labels(torch.tensor(labels[i])[None])
        counts[i] = int(pos.sum()) if pos is not None else lengths[i]
    offsets = np.concatenate([[0], np.cumsum(counts)])
    total = int(offsets[-1])
    np_dtype = np.float16 if dtype == "float16" else np.float32
    ids_out = np.lib.format.open_memmap(folder / "topk_ids.npy", "w+", np.int32, (total, k))
    lp_out = np.lib.format.open_memmap(folder / "topk_logprobs.npy", "w+", np_dtype, (total, k))
    rest_out = np.lib.format.open_memmap(folder / "topk_rest.npy", "w+", np.float32, (total,))
    np.save(folder / "topk_offsets.npy", offsets)
    device = next(teacher.parameters()).device
    teacher.eval()
    order = np.argsort(lengths, kind="stable")
    chunk = max(1, KD_CHUNK_ELEMENTS // vocab)
    start = 0
    while start < n:
        per_batch = max(1, TOPK_BATCH_ELEMENTS // (int(lengths[order[min(n - 1, start + 63)]]) * vocab))
        index = order[start : start + min(64, per_batch)]
        start += len(index)
        rows = encoded[index.tolist()]
        batch = collator([{c: rows[c][j] for c in columns} for j in range(len(index))])
        inputs = {
            key: v.to(device)
            for key, v in batch.items()
            if isinstance(v, torch.Tensor) and key not in ("labels", "idx")
        }
        logits = teacher(**inputs).logits
        pos = positions(logits, batch.get("labels"))
        if pos is None:
            pos = batch["attention_mask"].bool()
        got = pos.sum(1).cpu().numpy()
        if not np.array_equal(got, counts[index]):
            raise LaminaError("internal: the top-k cache counted other target tokens than the batches hold")
        selected = logits[pos.to(logits.device)]  # (targets of the batch, V), example by example
        parts = [topk_targets(selected[a : a + chunk], k, temperature) for a in range(0, len(selected), chunk)]
        if not parts:
            continue
        top_ids, top_lp, rest = (torch.cat(x).cpu().numpy() for x in zip(*parts))
        at = 0
        for i, c in zip(index, got):
            dest = slice(int(offsets[i]), int(offsets[i + 1]))
            ids_out[dest], lp_out[dest], rest_out[dest] = top_ids[at : at + c], top_lp[at : at + c], rest[at : at + c]
            at += c
    for f in (ids_out, lp_out, rest_out):
        f.flush()


@torch.no_grad()
def _fill(folder: Path, teacher, encoded, collator, *, needs: Needs, dtype: str, batch_size: int) -> None:
    np_dtype = np.float16 if dtype == "float16" else np.float32
    n = len(encoded)
    lengths = np.array([len(x) for x in encoded["input_ids"]], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    hidden = teacher.config.hidden_size
    files = {}
    if needs.teacher_logits:
        files["logits"] = np.lib.format.open_memmap(
            folder / "logits.npy", "w+", np_dtype, (n, teacher.config.num_labels)
        )
    for j in needs.teacher_cls:
        files[("cls", j)] = np.lib.format.open_memmap(folder / f"cls_{j}.npy", "w+", np_dtype, (n, hidden))
    for j in needs.teacher_tokens:
        files[("tok", j)] = np.lib.format.open_memmap(
            folder / f"tokens_{j}.npy", "w+", np_dtype, (int(offsets[-1]), hidden)
        )
    if needs.teacher_tokens:
        np.save(folder / "offsets.npy", offsets)
    device = next(teacher.parameters()).device
    want_hidden = bool(needs.teacher_cls or needs.teacher_tokens)
    columns = [c for c in encoded.column_names if c in ("input_ids", "attention_mask", "token_type_ids")]
    teacher.eval()
    # batches of similar lengths (shortest first): far less padding than dataset order
    order = np.argsort(lengths, kind="stable")
    for start in range(0, n, batch_size):
        index = order[start : start + batch_size]
        chunk = encoded[index.tolist()]
        rows = [{c: chunk[c][k] for c in columns} for k in range(len(index))]
        batch = {k: v.to(device) for k, v in collator(rows).items() if k in columns}
        out = teacher(**batch, output_hidden_states=want_hidden)
        if needs.teacher_logits:
            files["logits"][index] = out.logits.float().cpu().numpy()
        for j in needs.teacher_cls:
            files[("cls", j)][index] = out.hidden_states[j][:, 0].float().cpu().numpy()
        for j in needs.teacher_tokens:
            states = out.hidden_states[j].float().cpu().numpy()
            for b, i in enumerate(index):
                files[("tok", j)][offsets[i] : offsets[i + 1]] = states[b, : lengths[i]]
    for f in files.values():
        f.flush()
