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
"""

from __future__ import annotations

import hashlib
import json
import shutil
import tempfile
from pathlib import Path

import numpy as np
import torch

from lamina.losses.base import Needs, TeacherView

CACHE_VERSION = 2


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
        folder.mkdir(parents=True, exist_ok=True)
        tmp = Path(tempfile.mkdtemp(prefix=f".{folder.name}-", dir=folder.parent))
        try:
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
