"""The offline top-k teacher cache for token-level KD (``lamina distill --cache-top-k K``): the
KL over top-k + one rest bucket equals full KD at k = vocabulary (loss and gradients, float64),
entries are keyed by teacher, data, length, k, dtype (and temperature, labels), interrupted builds
are never read and are swept, the CLI reads the cache instead of running the teacher, bad input."""

from __future__ import annotations

import functools
import json
import os
import socket
import time

import datasets
import numpy as np
import pytest
import torch
from conftest import (
    SMALL_LLAMA,
    assert_cli_ok,
    assert_one_line_error,
    save_with_tokenizer,
    special_ids,
    write_patterned_corpus,
)
from conftest import tiny_llama as make_llama
from transformers import default_data_collator
from typer.testing import CliRunner

from lamina.cli import app
from lamina.distillation import cache as cache_mod
from lamina.distillation.cache import TeacherCache, clean_stale
from lamina.distillation.methods.standard import Standard
from lamina.distillation.trainer import TokenPositions
from lamina.losses import LossContext, Needs, TeacherView, TopKTargets, get_loss
from lamina.losses import functional as F

runner = CliRunner()
_one_line_error = functools.partial(assert_one_line_error, code=2)
CAUSAL = TokenPositions(shift=True)


def _batch(B=3, T=7, V=13, seed=0, dtype=torch.float64):
    g = torch.Generator().manual_seed(seed)
    student = torch.randn(B, T, V, generator=g, dtype=dtype).requires_grad_(True)
    teacher = torch.randn(B, T, V, generator=g, dtype=dtype) * 2
    labels = torch.randint(0, V, (B, T), generator=g)
    labels[0, 4:] = -100  # a padded row
    labels[1, :2] = -100  # a masked prompt
    mask = (labels != -100).long()
    return student, teacher, labels, mask


def _topk_view(teacher, keep, k, temperature):
    ids, logprobs, rest = F.topk_targets(teacher[keep], k, temperature)
    return TeacherView(topk=TopKTargets(ids=ids, logprobs=logprobs, log_rest=rest, counts=keep.sum(1)))


def test_topk_at_the_vocabulary_size_is_full_kd_loss_and_gradients():
    student, teacher, labels, mask = _batch()
    keep = CAUSAL(student, labels)
    kd = get_loss("kd")
    ctx = dict(
        student_logits=student,
        labels=labels,
        attention_mask=mask,
        temperature=2.0,
        shift_labels=True,
        token_positions=keep,
    )
    full = kd(LossContext(teachers=[TeacherView(logits=teacher)], **ctx))
    (g_full,) = torch.autograd.grad(full, student)
    top = kd(LossContext(teachers=[_topk_view(teacher, keep, 13, 2.0)], **ctx))
    (g_top,) = torch.autograd.grad(top, student)
    assert full.dtype == torch.float64
    assert float(top.detach()) == pytest.approx(float(full.detach()), rel=1e-12, abs=1e-12)
    assert torch.allclose(g_top, g_full, rtol=1e-10, atol=1e-12)
    # and both are today's unchunked formula on the selected tokens
    ref = F.soft_target_kd(student[keep], teacher[keep], 2.0)
    assert float(full.detach()) == pytest.approx(float(ref.detach()), rel=1e-12)


def test_the_rest_bucket_is_the_kl_of_k_plus_one_buckets():
    student, teacher, labels, _ = _batch(seed=1)
    keep = CAUSAL(student, labels)
    rows = keep.reshape(-1).nonzero().squeeze(1)
    ids, lq, rest = F.topk_targets(teacher[keep], 4, 1.5)
    got = F.token_kd_topk(student.reshape(-1, 13), rows, ids, lq, rest, 1.5, chunk_rows=2)
    (g_got,) = torch.autograd.grad(got, student)
    # reference: plain autograd over (k + 1) buckets
    log_p = torch.log_softmax(student[keep] / 1.5, -1)
    p_in = log_p.gather(-1, ids)
    p_rest = torch.log1p(-p_in.exp().sum(-1))
    q = torch.cat([lq, rest[:, None]], -1)
    p = torch.cat([p_in, p_rest[:, None]], -1)
    ref = (q.exp() * (q - p)).sum() / keep.sum() * 1.5**2
    (g_ref,) = torch.autograd.grad(ref, student)
    assert float(got) == pytest.approx(float(ref), rel=1e-10)
    assert torch.allclose(g_got, g_ref, atol=1e-12)
    assert torch.all(rest > -torch.inf) and float(got) < float(F.soft_target_kd(student[keep], teacher[keep], 1.5))


# ---------------------------------------------------------------- the cache


def _data(n=6, T=9, vocab=40, seed=0):
    g = torch.Generator().manual_seed(seed)
    ids = torch.randint(3, vocab, (n, T), generator=g).tolist()
    labels = [list(r) for r in ids]
    labels[1][6:] = [-100] * 3  # a shorter target
    return datasets.Dataset.from_dict({"input_ids": ids, "attention_mask": [[1] * T] * n, "labels": labels})


def _build(teacher, data, root, logs=None, **kw):
    args = dict(
        root=root,
        needs=Needs(teacher_logits=True),
        max_length=16,
        dtype="float32",
        top_k=40,
        temperature=2.0,
        positions=CAUSAL,
        log=(logs.append if logs is not None else lambda m: None),
    )
    collate = kw.pop("collate", default_data_collator)
    return TeacherCache.build_or_open(teacher, data, collate, **{**args, **kw})


def test_cached_topk_equals_online_kd_and_holds_the_teachers_top_tokens(tmp_path):
    teacher, data = make_llama(40, **SMALL_LLAMA), _data()
    cache = _build(teacher, data, tmp_path)
    files = {p.name for p in cache.folder.iterdir()}
    assert files == {"meta.json", "topk_ids.npy", "topk_logprobs.npy", "topk_rest.npy", "topk_offsets.npy"}
    assert cache.topk[0].dtype == np.int32 and cache.topk[1].dtype == np.float32
    assert cache.meta["top_k"] == 40 and cache.meta["target_tokens"] == 6 * 8 - 3
    batch = default_data_collator([data[i] for i in (3, 1, 0)])
    view = cache.view(torch.tensor([3, 1, 0]), 9, "cpu")
    assert view.logits is None and view.topk.counts.tolist() == [8, 5, 8]
    with torch.no_grad():
        logits = teacher(input_ids=batch["input_ids"], attention_mask=batch["attention_mask"]).logits
    keep = CAUSAL(logits, batch["labels"])
    student = torch.randn_like(logits, requires_grad=True)
    ctx = dict(
        student_logits=student,
        labels=batch["labels"],
        attention_mask=batch["attention_mask"],
        temperature=2.0,
        shift_labels=True,
        token_positions=keep,
    )
    online = get_loss("kd")(LossContext(teachers=[TeacherView(logits=logits)], **ctx))
    cached = get_loss("kd")(LossContext(teachers=[view], **ctx))
    assert float(cached) == pytest.approx(float(online), rel=1e-5)
    small = _build(teacher, data, tmp_path, top_k=5, dtype="float16")
    top = small.view(torch.tensor([0]), 9, "cpu").topk
    assert top.k == 5 and small.topk[1].dtype == np.float16
    want = torch.log_softmax(logits[2][keep[2]] / 2.0, -1).topk(5)
    assert torch.equal(top.ids, want.indices)
    assert torch.allclose(top.logprobs, want.values, atol=2e-2)  # float16
    assert torch.allclose(top.log_rest.exp() + top.logprobs.exp().sum(-1), torch.ones(8), atol=1e-2)


def test_an_entry_is_rebuilt_when_teacher_data_length_k_or_dtype_change(tmp_path):
    teacher, data = make_llama(40, **SMALL_LLAMA), _data()
    logs = []
    first = _build(teacher, data, tmp_path, logs).folder
    assert "computing the top 40 tokens" in logs[-1]
    assert _build(teacher, data, tmp_path, logs).folder == first and "reusing" in logs[-1]
    changed = {
        "teacher": dict(teacher=make_llama(40, seed=1, **SMALL_LLAMA)),
        "data": dict(data=_data(seed=1)),
        "labels": dict(data=_data().map(lambda r: {"labels": [-100] + r["labels"][1:]})),
        "length": dict(max_length=32),
        "k": dict(top_k=8),
        "dtype": dict(dtype="float16"),
        "temperature": dict(temperature=1.0),
    }
    folders = {first}
    for what, change in changed.items():
        kw = {"teacher": teacher, "data": data, **change}
        folder = _build(kw.pop("teacher"), kw.pop("data"), tmp_path, logs, **kw).folder
        assert folder not in folders and "computing" in logs[-1], what
        folders.add(folder)
    # a classic (class-logit) entry of the same teacher and data is another entry too
    assert fingerprint_of(teacher, data) != first.name


def fingerprint_of(teacher, data):
    return cache_mod.fingerprint(teacher, data["input_ids"], max_length=16, dtype="float32")[:24]


def test_a_killed_build_is_never_read_and_its_leftovers_are_swept(tmp_path, monkeypatch):
    teacher, data = make_llama(40, **SMALL_LLAMA), _data()
    real = cache_mod._fill_topk

    def killed(folder, *args, **kwargs):  # the files half written, then the process is gone
        real(folder, *args, **kwargs)
        (folder / "topk_ids.npy").write_bytes(b"partial")
        raise KeyboardInterrupt

    monkeypatch.setattr(cache_mod, "_fill_topk", killed)
    with pytest.raises(KeyboardInterrupt):
        _build(teacher, data, tmp_path)
    monkeypatch.setattr(cache_mod, "_fill_topk", real)
    entries = [p for p in tmp_path.iterdir() if not p.name.startswith(".")]
    assert len(entries) == 1 and not (entries[0] / "meta.json").exists()  # never complete: never read
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]  # its temporary folder went
    # what a kill -9 leaves: a temporary folder whose owner holds no lock, partial output in the entry
    key = entries[0].name
    tmp = tmp_path / f".{key}-deadbeef"
    tmp.mkdir()
    (tmp / ".owner").write_text(json.dumps({"pid": 999999, "host": socket.gethostname(), "locked": True}))
    (tmp / "topk_logprobs.npy").write_bytes(b"partial")
    (entries[0] / "topk_rest.npy").write_bytes(b"partial")
    old = time.time() - 3600
    for p in (entries[0], *entries[0].iterdir()):
        os.utime(p, (old, old))
    logs = []
    cache = _build(teacher, data, tmp_path, logs)
    swept = [m for m in logs if "removed" in m]
    assert any("interrupted build" in m and tmp.name in m for m in swept), logs
    assert any("never finished" in m for m in swept), logs
    assert not tmp.exists() and "computing" in logs[-1]
    assert cache.folder.name == key and cache.view(torch.tensor([0]), 9, "cpu").topk.ids.shape == (8, 40)
    # an output an entry's meta.json does not list (a build killed while moving files in) is swept
    stray = cache.folder / "logits.npy"
    stray.write_bytes(b"partial")
    for p in (cache.folder, *cache.folder.iterdir()):
        os.utime(p, (old, old))
    assert stray in clean_stale(tmp_path, log=lambda m: None)
    assert (cache.folder / "topk_ids.npy").exists()


# ---------------------------------------------------------------- the command


@pytest.fixture(scope="module")
def lm(tmp_path_factory):
    from lamina.data.bpe import train_bpe

    folder = tmp_path_factory.mktemp("topk")
    corpus = write_patterned_corpus(folder, lines=120, strides=3)
    tok = train_bpe(corpus.read_text().splitlines(), vocab_size=300, max_length=64)
    teacher = save_with_tokenizer(
        make_llama(len(tok), max_position_embeddings=64, **special_ids(tok)), tok, folder / "teacher"
    )
    return corpus, teacher, tok


def _distill(corpus, teacher, out, *extra, loss="kd=1", student=("--student-from-teacher", "bottom", "--keep", "2")):
    return runner.invoke(
        app,
        [
            "distill",
            "--task",
            "causal-lm",
            "--corpus",
            str(corpus),
            "--teacher",
            str(teacher),
            "-o",
            str(out),
            *student,
            "--loss",
            loss,
            "--max-length",
            "16",
            "--batch-size",
            "8",
            "--max-steps",
            "2",
            "--no-progress",
            "--cache-dir",
            str(out.parent / "cache"),
            *extra,
        ],
    )


def test_distill_causal_lm_reads_the_topk_cache_instead_of_the_teacher(lm, tmp_path, monkeypatch):
    corpus, teacher, _ = lm
    calls = []
    real = Standard.teacher_forward

    def counted(self, spec, inputs, **outputs):
        calls.append(1)
        return real(self, spec, inputs, **outputs)

    monkeypatch.setattr(Standard, "teacher_forward", counted)
    assert_cli_ok(_distill(corpus, teacher, tmp_path / "a", "--cache-top-k", "16"))
    d = json.loads((tmp_path / "a" / "lamina_results.json").read_text())["distill"]
    assert d["cache"].startswith("on (top-16")
    assert d["kd_targets"] == {"kind": "top-k", "k": 16, "dtype": "float16", "rest_bucket": True}
    result = _distill(corpus, teacher, tmp_path / "b", "--cache-top-k", "16")
    assert_cli_ok(result)
    assert "teacher-output cache: reusing" in result.output
    assert not calls  # the teacher never ran during training
    assert_cli_ok(_distill(corpus, teacher, tmp_path / "c"))  # without: online, as before
    assert len(calls) == 2
    d = json.loads((tmp_path / "c" / "lamina_results.json").read_text())["distill"]
    assert d["cache"].startswith("off: token-level logits") and d["kd_targets"] == {"kind": "full"}


def test_bad_input(lm, tmp_path, sst_like, tiny_bert_with_tokenizer):
    import transformers

    corpus, teacher, tok = lm
    _one_line_error(
        _distill(corpus, teacher, tmp_path / "a", "--cache-top-k", "0"), "--cache-top-k: must be 1 or more, not 0"
    )
    _one_line_error(
        _distill(corpus, teacher, tmp_path / "a", "--cache-top-k", "8", "--no-cache"),
        "needs the teacher-output cache, which is off (--no-cache)",
    )
    _one_line_error(_distill(corpus, teacher, tmp_path / "a", "--cache-top-k", "8", loss="ce=1"), "reads none")
    _one_line_error(_distill(corpus, teacher, tmp_path / "a", "--cache-top-k", "5000"), "more than the vocabulary")
    _one_line_error(
        runner.invoke(
            app,
            [
                "distill",
                "--task",
                "sst2",
                "--data-dir",
                sst_like,
                "--teacher",
                str(tiny_bert_with_tokenizer),
                "-o",
                str(tmp_path / "a"),
                "--cache-top-k",
                "8",
            ],
        ),
        "is for token-level KD",
    )
    # a student of another tokenizer; one of the same tokenizer whose head scores more tokens
    other = tmp_path / "other"
    bert_tok = transformers.AutoTokenizer.from_pretrained(tiny_bert_with_tokenizer)
    save_with_tokenizer(make_llama(len(bert_tok), max_position_embeddings=64, **SMALL_LLAMA), bert_tok, other)
    _one_line_error(
        _distill(corpus, teacher, tmp_path / "a", "--cache-top-k", "8", student=("--student", str(other))),
        "different vocabularies",
    )
    wide = tmp_path / "wide"
    save_with_tokenizer(make_llama(len(tok) + 8, max_position_embeddings=64, **SMALL_LLAMA), tok, wide)
    _one_line_error(
        _distill(corpus, teacher, tmp_path / "a", "--cache-top-k", "8", student=("--student", str(wide))),
        f"predicts over {len(tok)} tokens, student",
    )
    assert not (tmp_path / "a").exists()


def test_an_encoder_decoder_entry_holds_one_row_per_target_label(tmp_path):
    import transformers

    from lamina.data.bpe import train_bpe
    from lamina.data.pairs import PairCollator

    tok = train_bpe(["a b c d e f g h"] * 5, vocab_size=300, max_length=32)
    config = transformers.BartConfig(
        vocab_size=len(tok),
        d_model=16,
        encoder_layers=1,
        decoder_layers=1,
        encoder_attention_heads=2,
        decoder_attention_heads=2,
        encoder_ffn_dim=32,
        decoder_ffn_dim=32,
        max_position_embeddings=32,
        pad_token_id=tok.pad_token_id,
        decoder_start_token_id=tok.bos_token_id,
    )
    torch.manual_seed(0)
    teacher = transformers.BartForConditionalGeneration(config).eval()
    data = datasets.Dataset.from_dict(
        {
            "input_ids": [[5, 6, 7, 2], [8, 9, 2]],
            "attention_mask": [[1] * 4, [1] * 3],
            "labels": [[10, 11, 2], [12, 13, 14, 15, 2]],
        }
    )
    collate = PairCollator(tok, tok.bos_token_id)
    rule = TokenPositions(encoder_decoder=True)
    cache = _build(teacher, data, tmp_path, positions=rule, top_k=len(tok), collate=collate)
    assert cache.meta["target_tokens"] == 8 and cache.meta["positions"] == "labels"
    batch = collate([data[1], data[0]])
    view = cache.view(torch.tensor([1, 0]), 5, "cpu")
    with torch.no_grad():
        logits = teacher(**{k: v for k, v in batch.items() if k != "labels"}).logits
    keep = rule(logits, batch["labels"])
    assert view.topk.counts.tolist() == keep.sum(1).tolist() == [5, 3]
    student = torch.randn_like(logits, requires_grad=True)
    ctx = dict(
        student_logits=student,
        labels=batch["labels"],
        attention_mask=batch["attention_mask"],
        temperature=2.0,
        token_positions=keep,
    )
    online = get_loss("kd")(LossContext(teachers=[TeacherView(logits=logits)], **ctx))
    cached = get_loss("kd")(LossContext(teachers=[view], **ctx))
    assert float(cached.detach()) == pytest.approx(float(online.detach()), rel=1e-5)
