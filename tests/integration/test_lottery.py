"""Lottery tickets on a tiny BERT: schedules, what is pruned, rewinding, saving, transfer, bad input."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
import transformers
from conftest import make_tiny
from typer.testing import CliRunner

from lamina.cli import app
from lamina.errors import LaminaError
from lamina.models.sparsity import (
    MaskCallback,
    apply_masks,
    load_masks,
    magnitude_masks,
    prunable_parameters,
    random_masks,
    remove_pruning_hooks,
    save_masks,
    save_sparse,
    schedule,
    sparsity_of,
)
from lamina.workflows.lottery import LotteryConfig, run_lottery

runner = CliRunner()


@pytest.fixture(autouse=True)
def one_thread():
    """Tiny models: one thread (on a shared, loaded CPU more threads only wait on each other)."""
    old = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(old)


def lottery_cfg(model, data_dir, out, **kw):
    base = dict(
        model=str(model),
        task="sst2",
        output=str(out),
        data_dir=data_dir,
        epochs=1,
        lr=2e-3,
        batch_size=16,
        max_length=32,
        logging_steps=2,
        seed=1,
        progress=False,
        max_train_samples=32,
        max_eval_samples=16,
    )
    return LotteryConfig(**{**base, **kw})


def test_prunable_set_is_chen_et_al():
    model = make_tiny("bert")
    names = set(prunable_parameters(model))
    per_layer = {
        "attention.self.query",
        "attention.self.key",
        "attention.self.value",
        "attention.output.dense",
        "intermediate.dense",
        "output.dense",
    }
    expected = {f"encoder.layer.{i}.{m}.weight" for i in range(4) for m in per_layer} | {"pooler.dense.weight"}
    assert names == expected


@pytest.mark.parametrize(
    "kind,rate,target,expected",
    [
        ("linear", 0.1, 0.3, [0.1, 0.2, 0.3]),
        ("geometric", 0.2, 0.5, [0.2, 0.36, 0.488, 0.5]),
    ],
)
def test_schedules(kind, rate, target, expected):
    assert schedule(target, rate, kind) == pytest.approx(expected)


def test_global_and_per_layer_masks_are_exact_and_nested():
    model = make_tiny("bert")
    m1 = magnitude_masks(model, 0.2)
    total = sum(m.numel() for m in m1.values())
    assert sum(int((~m).sum()) for m in m1.values()) == round(0.2 * total)
    apply_masks(model, m1)
    m2 = magnitude_masks(model, 0.36, previous=m1)
    assert all(bool((m2[k] <= m1[k]).all()) for k in m1)  # once pruned, pruned for good
    assert sparsity_of(m2) == pytest.approx(0.36, abs=1 / total)
    per = magnitude_masks(make_tiny("bert"), 0.5, per_layer=True)
    assert all(abs(1 - float(m.float().mean()) - 0.5) < 1e-3 for m in per.values())
    rnd = random_masks(model, 0.5, seed=3)
    assert sparsity_of(rnd) == pytest.approx(0.5, abs=1e-3) and not torch.equal(
        rnd[next(iter(rnd))], per[next(iter(per))]
    )


def test_imp_rounds_sparsity_untouched_parts_and_reload(tiny_bert_with_tokenizer, sst_like, tmp_path):
    kind, rate, target = "geometric", 0.3, 0.5
    pretrained = transformers.AutoModelForSequenceClassification.from_pretrained(tiny_bert_with_tokenizer)
    before = pretrained.state_dict()
    out = tmp_path / "ticket"
    record = run_lottery(
        lottery_cfg(tiny_bert_with_tokenizer, sst_like, out, prune_rate=rate, target_sparsity=target, schedule=kind),
        log=lambda *_: None,
    )
    rounds = record["lottery"]["rounds"]
    expected = [0.0, *schedule(target, rate, kind)]
    assert [r["round"] for r in rounds] == list(range(len(expected)))
    for r, s in zip(rounds, expected):  # r × rate (linear) or 1 − (1 − rate)^r (geometric), capped at the target
        if r["round"] > 0:
            want = r["round"] * rate if kind == "linear" else 1 - (1 - rate) ** r["round"]
            assert s == pytest.approx(min(want, target))
        assert r["sparsity"] == pytest.approx(s, abs=1e-4)
        saved, meta = load_masks(out / "rounds" / f"round-{r['round']}" / "mask.safetensors")
        assert sparsity_of(saved) == pytest.approx(s, abs=1e-4) and float(meta["score"]) == pytest.approx(r["score"])
    assert (out / "rounds" / "round-0" / "model" / "config.json").is_file()

    ticket = transformers.AutoModelForSequenceClassification.from_pretrained(out)  # vanilla reload
    after = ticket.state_dict()
    masks, _ = load_masks(out / "mask.safetensors")
    params = prunable_parameters(ticket)
    for k, m in masks.items():
        assert bool((params[k][~m] == 0).all())  # every pruned weight is a zero in the saved folder
    prunable_full = {f"bert.{k}" for k in masks}
    for k, v in before.items():  # embeddings, biases, LayerNorms, head: never pruned (no zeros made)
        if k not in prunable_full and v.dtype.is_floating_point:
            assert int((after[k] == 0).sum()) <= int((v == 0).sum()), k
    assert record["lottery"]["global_sparsity"] == pytest.approx(target, abs=1e-4)
    card = (out / "README.md").read_text()
    assert "Sparsity per matrix" in card and "encoder.layer.0.attention.self.query.weight" in card


@pytest.fixture
def applied_masks(monkeypatch):
    """Every ``apply_masks`` call of the run, as (the model's state right after, the masks)."""
    from lamina.models import sparsity

    seen = []
    original_apply = sparsity.apply_masks

    def spy(model, masks):
        original_apply(model, masks)
        seen.append(({k: v.detach().clone() for k, v in model.state_dict().items()}, masks))

    monkeypatch.setattr(sparsity, "apply_masks", spy)
    return seen


def test_rewound_survivors_equal_pretrained(tiny_bert_with_tokenizer, sst_like, tmp_path, applied_masks):
    """After pruning, the survivors are the pretrained values; the head keeps its trained values."""
    seen = applied_masks
    pretrained = transformers.AutoModelForSequenceClassification.from_pretrained(tiny_bert_with_tokenizer)
    init = pretrained.state_dict()
    record = run_lottery(
        lottery_cfg(
            tiny_bert_with_tokenizer,
            sst_like,
            tmp_path / "t",
            prune_rate=0.2,
            target_sparsity=0.4,
            save_round_models=False,
        ),
        log=lambda *_: None,
    )
    # linear: after round r the global sparsity is exactly r × rate
    assert [r["sparsity"] for r in record["lottery"]["rounds"]] == pytest.approx([0.0, 0.2, 0.4], abs=1e-4)
    assert not (tmp_path / "t" / "rounds" / "round-0" / "model").exists()
    state, masks = seen[-1]  # the rewind after round 1's pruning
    for k, m in masks.items():
        assert torch.equal(state[f"bert.{k}"][m], init[f"bert.{k}"][m])
        assert bool((state[f"bert.{k}"][~m] == 0).all())
    assert torch.equal(state["bert.embeddings.word_embeddings.weight"], init["bert.embeddings.word_embeddings.weight"])
    assert not torch.equal(state["classifier.weight"], seen[0][0]["classifier.weight"])  # trained head kept


def test_saving_with_hooks_is_the_trap_and_save_sparse_avoids_it(tmp_path):
    from torch.nn.utils import prune

    model = make_tiny("bert")
    layer = model.bert.encoder.layer[0].attention.self.query
    prune.l1_unstructured(layer, "weight", amount=0.5)
    expected = layer.weight.detach().clone()
    model.save_pretrained(tmp_path / "trap")  # hooks attached: weight_orig / weight_mask are written
    trap = transformers.BertForSequenceClassification.from_pretrained(tmp_path / "trap")
    assert not torch.equal(trap.bert.encoder.layer[0].attention.self.query.weight, expected)  # silently re-initialised
    save_sparse(model, tmp_path / "ok")
    assert remove_pruning_hooks(model) == 0
    ok = transformers.BertForSequenceClassification.from_pretrained(tmp_path / "ok")
    w = ok.bert.encoder.layer[0].attention.self.query.weight
    assert torch.equal(w, expected) and int((w == 0).sum()) == expected.numel() // 2


def test_finetune_with_a_transferred_mask_keeps_it_fixed(tiny_bert_with_tokenizer, sst_like, tmp_path):
    from lamina.workflows.finetune import FinetuneConfig, run_finetune

    model = transformers.AutoModelForSequenceClassification.from_pretrained(tiny_bert_with_tokenizer)
    masks = magnitude_masks(model, 0.6)
    save_masks(tmp_path / "m.safetensors", masks, task="rte")
    out = tmp_path / "ft"
    record = run_finetune(
        FinetuneConfig(
            model=str(tiny_bert_with_tokenizer),
            task="sst2",
            output=str(out),
            data_dir=sst_like,
            epochs=2,
            lr=5e-3,
            batch_size=16,
            max_length=32,
            progress=False,
            mask=str(tmp_path / "m.safetensors"),
            weight_decay=0.1,
            max_train_samples=32,
            max_eval_samples=16,
        )
    )
    assert record["mask"]["sparsity"] == pytest.approx(0.6, abs=1e-3)
    trained = transformers.AutoModelForSequenceClassification.from_pretrained(out)
    params = prunable_parameters(trained)
    assert all(bool((params[k][~m] == 0).all()) for k, m in masks.items())  # no pruned weight came back
    moved = any(not torch.equal(params[k][m], prunable_parameters(model)[k][m]) for k, m in masks.items())
    assert moved  # the survivors did train


def test_mask_callback_rezeroes_after_a_step():
    model = make_tiny("bert")
    masks = magnitude_masks(model, 0.5)
    cb = MaskCallback(model, masks)
    cb.on_train_begin(None, None, None)
    opt = torch.optim.AdamW(model.parameters(), lr=0.1, weight_decay=0.1)
    model.train()
    out = model(input_ids=torch.randint(3, 100, (2, 8)), labels=torch.tensor([0, 1]))
    out.loss.backward()
    opt.step()
    k = next(iter(masks))
    assert bool((prunable_parameters(model)[k][~masks[k]] != 0).any())  # an optimizer step alone revives weights
    cb.on_step_end(None, None, None)
    assert bool((prunable_parameters(model)[k][~masks[k]] == 0).all())


def _cli(args):
    return runner.invoke(app, args)


@pytest.mark.parametrize(
    "flags,needle",
    [
        (["--target-sparsity", "1"], "--target-sparsity"),
        (["--target-sparsity", "0"], "--target-sparsity"),
        (["--prune-rate", "0"], "--prune-rate"),
        (["--prune-rate", "-0.1"], "--prune-rate"),
    ],
)
def test_bad_lottery_settings_are_one_line(tiny_bert_with_tokenizer, sst_like, tmp_path, flags, needle):
    out = tmp_path / "o"
    result = _cli(
        ["lottery", str(tiny_bert_with_tokenizer), "--task", "sst2", "-o", str(out), "--data-dir", sst_like, *flags]
    )
    assert result.exit_code == 2 and needle in result.output
    assert "Traceback" not in result.output and not out.exists()


def test_rewind_step_beyond_training_is_refused(tiny_bert_with_tokenizer, sst_like, tmp_path):
    out = tmp_path / "o"
    result = _cli(
        [
            "lottery",
            str(tiny_bert_with_tokenizer),
            "--task",
            "sst2",
            "-o",
            str(out),
            "--data-dir",
            sst_like,
            "--epochs",
            "1",
            "--batch-size",
            "16",
            "--rewind-step",
            "99",
            "--max-length",
            "32",
        ]
    )
    assert result.exit_code == 2 and "beyond training" in result.output and "4 steps" in result.output
    assert not out.exists() and not (tmp_path / "o.work").exists()


def test_mask_from_another_architecture_or_shape_is_refused(tiny_bert_with_tokenizer, sst_like, tmp_path):
    gpt = make_tiny("gpt2")
    save_masks(tmp_path / "gpt.safetensors", magnitude_masks(gpt, 0.5))
    wide = transformers.BertForSequenceClassification(
        transformers.BertConfig(
            vocab_size=30522, hidden_size=48, num_attention_heads=4, intermediate_size=64, num_hidden_layers=4
        )
    )
    save_masks(tmp_path / "wide.safetensors", magnitude_masks(wide, 0.5))
    for mask, needle in (("gpt.safetensors", "another architecture"), ("wide.safetensors", "in the mask")):
        out = tmp_path / f"o-{mask}"
        result = _cli(
            [
                "finetune",
                str(tiny_bert_with_tokenizer),
                "--task",
                "sst2",
                "-o",
                str(out),
                "--data-dir",
                sst_like,
                "--mask",
                str(tmp_path / mask),
                "--max-length",
                "32",
            ]
        )
        assert result.exit_code == 2 and needle in result.output, result.output
        assert len(result.output.strip().splitlines()) == 1 and not out.exists()
    (tmp_path / "junk.safetensors").write_bytes(b"not a mask")
    with pytest.raises(LaminaError, match="not a readable safetensors mask"):
        load_masks(tmp_path / "junk.safetensors")


def test_oneshot_and_random_modes(tiny_bert_with_tokenizer, sst_like, tmp_path):
    model = transformers.AutoModelForSequenceClassification.from_pretrained(tiny_bert_with_tokenizer)
    expected = magnitude_masks(model, 0.4)
    rec = run_lottery(
        lottery_cfg(tiny_bert_with_tokenizer, sst_like, tmp_path / "one", mode="oneshot", target_sparsity=0.4),
        log=lambda *_: None,
    )
    saved, _ = load_masks(tmp_path / "one")
    assert len(rec["lottery"]["rounds"]) == 1 and all(torch.equal(saved[k], expected[k]) for k in expected)
    rec = run_lottery(
        lottery_cfg(tiny_bert_with_tokenizer, sst_like, tmp_path / "rnd", mode="random", target_sparsity=0.4),
        log=lambda *_: None,
    )
    saved, _ = load_masks(tmp_path / "rnd")
    assert sparsity_of(saved) == pytest.approx(0.4, abs=1e-3) and not all(
        torch.equal(saved[k], expected[k]) for k in expected
    )
    result = json.loads((tmp_path / "rnd" / "lamina_results.json").read_text())
    assert result["kind"] == "lottery" and result["lottery"]["mode"] == "random"


@pytest.mark.parametrize("how", [{"rewind_step": 2}, {"rewind": "random", "rewind_head": True}])
def test_rewind_to_step_k_or_random_reinit(tiny_bert_with_tokenizer, sst_like, tmp_path, applied_masks, how):
    seen = applied_masks
    init = transformers.AutoModelForSequenceClassification.from_pretrained(tiny_bert_with_tokenizer).state_dict()
    record = run_lottery(
        lottery_cfg(
            tiny_bert_with_tokenizer,
            sst_like,
            tmp_path / "t",
            prune_rate=0.3,
            epochs=2,
            target_sparsity=0.3,
            save_round_models=False,
            **how,
        ),
        log=lambda *_: None,
    )
    state, masks = seen[-1]  # the rewind after round 0's pruning
    k = next(iter(masks))
    survivors, pretrained = state[f"bert.{k}"][masks[k]], init[f"bert.{k}"][masks[k]]
    assert not torch.equal(survivors, pretrained)  # neither rewound to θ0 ...
    assert bool((state[f"bert.{k}"][~masks[k]] == 0).all())
    assert record["lottery"]["rewind"] == ("step" if "rewind_step" in how else "random")
    if "rewind_head" in how:  # the head rewound too: back to its initial (untrained) values
        assert torch.equal(state["classifier.weight"], seen[0][0]["classifier.weight"])


# ---------------------------------------------------------------- --resume

RESUME = dict(prune_rate=0.2, target_sparsity=0.4)  # rounds 0, 1, 2 (0%, 20%, 40%)


class Interrupted(Exception):
    pass


def _interrupt_at_training(monkeypatch, n):
    """Make the ``n``-th Trainer.train call (1-based) raise, as a kill in that round would."""
    calls = {"n": 0}
    original = transformers.Trainer.train

    def train(self, *args, **kwargs):
        calls["n"] += 1
        if calls["n"] == n:
            raise Interrupted(f"killed in training {n}")
        return original(self, *args, **kwargs)

    monkeypatch.setattr(transformers.Trainer, "train", train)


class torch_one_thread:
    """The one_thread fixture for module-scoped fixtures (set up before it)."""

    def __enter__(self):
        self.old = torch.get_num_threads()
        torch.set_num_threads(1)

    def __exit__(self, *exc):
        torch.set_num_threads(self.old)


def _ticket(out):
    state = transformers.AutoModelForSequenceClassification.from_pretrained(out).state_dict()
    masks, _ = load_masks(out / "mask.safetensors")
    return state, masks


@pytest.fixture(
    scope="module", params=[{}, {"rewind_step": 1, "save_round_models": False}], ids=["pretrained", "step-k"]
)
def uninterrupted(request, tiny_bert_with_tokenizer, sst_like, tmp_path_factory):
    out = tmp_path_factory.mktemp("full") / "ticket"
    with torch_one_thread():
        record = run_lottery(
            lottery_cfg(tiny_bert_with_tokenizer, sst_like, out, **RESUME, **request.param), log=lambda *_: None
        )
    return request.param, out, record


@pytest.mark.parametrize("broken", ["killed-in-round-2", "round-1-half-written"])
def test_resume_equals_an_uninterrupted_run(
    tiny_bert_with_tokenizer, sst_like, tmp_path, monkeypatch, uninterrupted, broken
):
    from lamina.workflows.lottery import Lottery

    how, full_out, full = uninterrupted
    out = tmp_path / "ticket"
    work = tmp_path / "ticket.work"
    with monkeypatch.context() as m:
        if broken == "killed-in-round-2":
            _interrupt_at_training(m, 3)
        else:  # killed while round 1 writes its round.json: the rest of round 1 is on disk
            import lamina.io

            real, calls = lamina.io.write_json, []

            def write(path, data):
                if Path(path).name == "round.json":
                    calls.append(path)
                    if len(calls) == 2:
                        path.with_name(f".{path.name}.partial").write_text('{"round": 1, "spars')
                        raise Interrupted("killed while writing round-1/round.json")
                return real(path, data)

            m.setattr(lamina.io, "write_json", write)
        with pytest.raises(Interrupted):
            run_lottery(lottery_cfg(tiny_bert_with_tokenizer, sst_like, out, **RESUME, **how), log=lambda *_: None)
    assert not out.exists() and Lottery.resumable(work)  # a recipe resumes it too
    assert not (work / "rounds" / "round-2").exists()
    assert (work / "rounds" / "round-1" / "round.json").is_file() == (broken == "killed-in-round-2")
    assert (work / "rounds" / "round-1" / "mask.safetensors").is_file()
    if "step" in str(how):
        assert (work / "rounds" / "round-0" / "rewind.safetensors").is_file()
        # --no-save-round-models: only the newest finished round's model is kept for resuming
        assert (work / "rounds" / "round-0" / "model").exists() == (broken != "killed-in-round-2")
    with pytest.raises(LaminaError, match="add --resume"):  # not silently restarted nor resumed
        run_lottery(lottery_cfg(tiny_bert_with_tokenizer, sst_like, out, **RESUME, **how), log=lambda *_: None)
    lines = []
    record = run_lottery(
        lottery_cfg(tiny_bert_with_tokenizer, sst_like, out, resume=True, **RESUME, **how), log=lines.append
    )
    resumed_after = "round-1" if broken == "killed-in-round-2" else "round-0"
    assert any(f"resuming after {resumed_after}" in str(line) for line in lines), lines
    if broken == "round-1-half-written":
        assert any("round-1" in str(line) and "incomplete" in str(line) for line in lines), lines
    assert record["training"]["resumed_from"] == resumed_after and full["training"]["resumed_from"] is None
    rounds, want = record["lottery"]["rounds"], full["lottery"]["rounds"]
    assert [r["sparsity"] for r in rounds] == [r["sparsity"] for r in want] == pytest.approx([0.0, 0.2, 0.4], abs=1e-4)
    assert [r["score"] for r in rounds] == [r["score"] for r in want]
    assert [r["train_loss"] for r in rounds] == [r["train_loss"] for r in want]
    state, masks = _ticket(out)
    full_state, full_masks = _ticket(full_out)
    assert all(torch.equal(masks[k], full_masks[k]) for k in full_masks)
    for k, v in full_state.items():
        assert torch.equal(state[k], v), k  # bit for bit on CPU (each round's Trainer is seeded afresh)
    kept = sorted(p.name for p in (out / "rounds").iterdir())
    assert kept == ["round-0", "round-1", "round-2"]
    assert (out / "rounds" / "round-0" / "model").is_dir() != ("step" in str(how))
    assert not (out / "rounds" / "round-0" / "rewind.safetensors").exists()  # work folder only
    assert not work.exists()


def test_resume_with_other_settings_or_nothing_to_resume_is_refused(
    tiny_bert_with_tokenizer, sst_like, tmp_path, monkeypatch
):
    out = tmp_path / "ticket"
    with pytest.raises(LaminaError, match="nothing to resume"):
        run_lottery(lottery_cfg(tiny_bert_with_tokenizer, sst_like, out, resume=True, **RESUME), log=lambda *_: None)
    with monkeypatch.context() as m:
        _interrupt_at_training(m, 2)
        with pytest.raises(Interrupted):
            run_lottery(lottery_cfg(tiny_bert_with_tokenizer, sst_like, out, **RESUME), log=lambda *_: None)
    before = sorted(str(p) for p in (tmp_path / "ticket.work").rglob("*"))
    for flags, needle in (
        (["--target-sparsity", "0.6"], "target_sparsity 0.6 (was 0.4)"),
        (["--seed", "2"], "seed 2 (was 1)"),
        (["--schedule", "geometric"], "schedule 'geometric' (was 'linear')"),
        (["--mode", "random"], "mode 'random' (was 'imp')"),
    ):
        result = _cli(
            [
                "lottery",
                str(tiny_bert_with_tokenizer),
                "--task",
                "sst2",
                "-o",
                str(out),
                "--data-dir",
                sst_like,
                "--epochs",
                "1",
                "--lr",
                "2e-3",
                "--batch-size",
                "16",
                "--max-length",
                "32",
                "--logging-steps",
                "2",
                "--max-train-samples",
                "32",
                "--max-eval-samples",
                "16",
                "--prune-rate",
                "0.2",
                "--target-sparsity",
                "0.4",
                "--seed",
                "1",
                "--no-progress",
                "--resume",
                *flags,
            ]
        )
        assert result.exit_code == 2 and needle in result.output, result.output
        assert len(result.output.strip().splitlines()) == 1 and "Traceback" not in result.output
    assert sorted(str(p) for p in (tmp_path / "ticket.work").rglob("*")) == before and not out.exists()
