"""Teacher-output cache: run the teacher once per (teacher, dataset, max length, dtype),
keep its outputs on disk, and read them memory-mapped in every later epoch and run.

Layout of one cache entry (a folder named by its fingerprint)::

    meta.json               what was cached and the fingerprint's inputs
    logits.npy              (N, C)
    cls_{j}.npy             (N, H)  first-token state of hidden state j (PKD)
    tokens_{j}.npy          (total_tokens, H)  token states of hidden state j, ragged
    offsets.npy             (N + 1,)  where each example's tokens start in tokens_{j}

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

from lamina.losses.base import Needs, TeacherView

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
_OUTPUT = re.compile(r"(logits|offsets|cls_\d+|tokens_\d+)\.npy")


def fingerprint(teacher, input_ids: list[list[int]], *, max_length: int, dtype: str) -> str:
    h = hashlib.sha256()
    h.update(json.dumps({"v": CACHE_VERSION, "max_length": max_length, "dtype": dtype}).encode())
    h.update(teacher.config.to_json_string(use_diff=False).encode())
    for name, tensor in sorted(teacher.state_dict().items()):
        h.update(name.encode())
        h.update(tensor.detach().cpu().contiguous().view(torch.uint8).numpy().tobytes())
    for ids in input_ids:
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
    owner.write(json.dumps({"pid": os.getpid(), "host": socket.gethostname(), "locked": locked,
                            "started": time.time()}))
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
                listed = set(_files(_stored(json.loads(meta_path.read_text()))))
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


def _files(needs: Needs) -> list[str]:
    names = (["logits.npy"] if needs.teacher_logits else []) + [f"cls_{j}.npy" for j in sorted(needs.teacher_cls)]
    names += [f"tokens_{j}.npy" for j in sorted(needs.teacher_tokens)]
    return names + (["offsets.npy"] if needs.teacher_tokens else [])


def _stored(meta: dict) -> Needs:
    return Needs(teacher_logits=meta["logits"], teacher_cls=set(meta["cls"]), teacher_tokens=set(meta["tokens"]))


def _missing(have: Needs, needs: Needs) -> Needs:
    return Needs(teacher_logits=needs.teacher_logits and not have.teacher_logits,
                 teacher_cls=needs.teacher_cls - have.teacher_cls, teacher_tokens=needs.teacher_tokens - have.teacher_tokens)


class TeacherCache:
    def __init__(self, folder: Path, needs: Needs):
        self.folder = folder
        self.meta = json.loads((folder / "meta.json").read_text())
        self.logits = np.load(folder / "logits.npy", mmap_mode="r") if needs.teacher_logits else None
        self.cls = {j: np.load(folder / f"cls_{j}.npy", mmap_mode="r") for j in needs.teacher_cls}
        self.tokens = {j: np.load(folder / f"tokens_{j}.npy", mmap_mode="r") for j in needs.teacher_tokens}
        self.offsets = np.load(folder / "offsets.npy") if needs.teacher_tokens else None

    @classmethod
    def build_or_open(cls, teacher, encoded, collator, *, root: Path, needs: Needs, max_length: int,
                      dtype: str = "float16", batch_size: int = 64, log=print) -> TeacherCache:
        ids = encoded["input_ids"]
        clean_stale(Path(root), log=log)
        key = fingerprint(teacher, ids, max_length=max_length, dtype=dtype)
        folder = Path(root) / key[:24]
        meta_path = folder / "meta.json"
        have = _stored(json.loads(meta_path.read_text())) if meta_path.is_file() else Needs()
        todo = _missing(have, needs)
        if not todo.any_teacher:
            log(f"teacher-output cache: reusing {folder}")
            return cls(folder, needs)
        what = ", ".join(n.removesuffix(".npy") for n in _files(todo) if n != "offsets.npy")
        log(f"teacher-output cache: computing {what} for {len(ids):,} examples once into {folder}")
        folder.parent.mkdir(parents=True, exist_ok=True)
        tmp, owner = _new_temp(folder.parent, folder.name)  # locked before the entry folder exists
        try:
            folder.mkdir(exist_ok=True)
            _fill(tmp, teacher, encoded, collator, needs=todo, dtype=dtype, batch_size=batch_size)
            for name in _files(todo):
                (tmp / name).replace(folder / name)
            both = have.merge(todo)
            (tmp / "meta.json").write_text(json.dumps({
                "fingerprint": key, "examples": len(ids), "max_length": max_length, "dtype": dtype,
                "logits": both.teacher_logits, "cls": sorted(both.teacher_cls), "tokens": sorted(both.teacher_tokens),
            }, indent=2))
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
        view.cls = {j: take(a) for j, a in self.cls.items()}
        for j, arr in self.tokens.items():
            out = torch.zeros(len(rows), seq_len, arr.shape[1])
            for b, r in enumerate(rows):
                start, end = int(self.offsets[r]), int(self.offsets[r + 1])
                n = min(end - start, seq_len)
                out[b, :n] = torch.from_numpy(np.array(arr[start : start + n], dtype=np.float32))
            view.tokens[j] = out.to(device)
        return view


@torch.no_grad()
def _fill(folder: Path, teacher, encoded, collator, *, needs: Needs, dtype: str, batch_size: int) -> None:
    np_dtype = np.float16 if dtype == "float16" else np.float32
    n = len(encoded)
    lengths = np.array([len(x) for x in encoded["input_ids"]], dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(lengths)])
    hidden = teacher.config.hidden_size
    files = {}
    if needs.teacher_logits:
        files["logits"] = np.lib.format.open_memmap(folder / "logits.npy", "w+", np_dtype, (n, teacher.config.num_labels))
    for j in needs.teacher_cls:
        files[("cls", j)] = np.lib.format.open_memmap(folder / f"cls_{j}.npy", "w+", np_dtype, (n, hidden))
    for j in needs.teacher_tokens:
        files[("tok", j)] = np.lib.format.open_memmap(folder / f"tokens_{j}.npy", "w+", np_dtype, (int(offsets[-1]), hidden))
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
