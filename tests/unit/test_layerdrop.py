"""LayerDrop: blocks skipped at rate p while training, never at evaluation, seeded, traceless."""

from __future__ import annotations

import pytest
import torch
from conftest import TINY, auto_class, make_tiny, random_batches
from typer.testing import CliRunner

from lamina.cli import app
from lamina.errors import LaminaError
from lamina.models.layerdrop import LayerDrop, apply_layerdrop, parse_rates

runner = CliRunner()


def test_skip_rate_matches_p_in_training_and_is_zero_in_eval():
    model = make_tiny("bert")
    ld = LayerDrop(model, 0.3, seed=1)
    batch = random_batches(n=1)[0]
    model.train()
    passes = 300
    with torch.no_grad():
        for _ in range(passes):
            model(**batch)
    rates = [s / passes for s in ld.skipped]
    assert all(0.2 <= r <= 0.4 for r in rates), rates
    assert [c + s for c, s in zip(ld.calls, ld.skipped)] == [passes] * 4
    model.eval()
    before = list(ld.calls)
    with torch.no_grad():
        for _ in range(50):
            model(**batch)
    assert [c - b for c, b in zip(ld.calls, before)] == [50] * 4  # every block ran


def test_a_skipped_block_passes_its_input_through():
    model = make_tiny("bert")
    ld = LayerDrop(model, 0.5, seed=3)
    model.train()
    batch = random_batches(n=1)[0]
    seen_skip = False
    with torch.no_grad():
        for _ in range(20):
            hs = model(**batch, output_hidden_states=True).hidden_states
            for i, skipped in enumerate(ld.skip):
                same = torch.equal(hs[i + 1], hs[i])
                assert same == skipped
                seen_skip |= skipped
    assert seen_skip


@pytest.mark.parametrize("name", sorted(TINY))
def test_every_architecture_trains_with_layerdrop(name):
    model = make_tiny(name)
    ld = LayerDrop(model, 0.5, seed=0)
    model.train()
    for batch in random_batches(n=6):
        out = model(**batch)
        first = out[0] if isinstance(out, tuple) else (out.logits if hasattr(out, "logits") else out.last_hidden_state)
        first.float().sum().backward()
    assert sum(ld.skipped) > 0 and sum(ld.calls) > 0


def test_seeded_draws_are_reproducible_and_per_layer_rates_apply():
    masks = []
    for _ in range(2):
        model = make_tiny("bert")
        ld = LayerDrop(model, [0.0, 0.9, 0.0, 0.9], seed=7)
        model.train()
        seq = []
        with torch.no_grad():
            for batch in random_batches(n=3) * 10:
                model(**batch)
                seq.append(tuple(ld.skip))
        masks.append(seq)
        assert ld.skipped[0] == 0 and ld.skipped[2] == 0 and ld.skipped[1] > 15
    assert masks[0] == masks[1]


def test_saved_model_has_no_trace_of_layerdrop(tmp_path):
    model = make_tiny("bert")
    plain_keys = set(model.state_dict())
    ld = apply_layerdrop(model, 0.2, seed=0)
    assert set(model.state_dict()) == plain_keys
    model.save_pretrained(tmp_path / "m")
    config = (tmp_path / "m" / "config.json").read_text()
    assert "lamina" not in config and "layerdrop" not in config.lower()
    reloaded = auto_class("bert").from_pretrained(tmp_path / "m").eval()
    model.eval()
    batch = random_batches(n=1)[0]
    assert torch.allclose(model(**batch).logits, reloaded(**batch).logits)
    ld.remove()
    assert "forward" not in vars(ld.blocks[0])


def test_rates_are_checked():
    assert parse_rates("0.1") == 0.1
    assert parse_rates("0,0.1,0.2,0.3", 4) == [0.0, 0.1, 0.2, 0.3]
    with pytest.raises(LaminaError, match="outside"):
        parse_rates("1.5")
    with pytest.raises(LaminaError, match="3 LayerDrop rates for a model with 4"):
        parse_rates("0.1,0.1,0.1", 4)
    assert apply_layerdrop(make_tiny("bert"), 0.0) is None


def test_finetune_with_layerdrop_is_reproducible_says_so_and_saves_a_plain_model(
    tiny_bert_with_tokenizer, sst_like, tmp_path
):
    import transformers
    from safetensors.torch import load_file

    from lamina.workflows.finetune import FinetuneConfig, run_finetune

    def run(name, seed):
        return run_finetune(
            FinetuneConfig(
                model=str(tiny_bert_with_tokenizer),
                task="sst2",
                output=str(tmp_path / name),
                data_dir=sst_like,
                max_steps=4,
                batch_size=16,
                max_length=32,
                lr=1e-2,
                layerdrop="0.5",
                seed=seed,
                progress=False,
            )
        )

    record = run("a", 1)
    run("b", 1)
    run("c", 2)
    a, b, c = (load_file(tmp_path / n / "model.safetensors") for n in "abc")
    assert all(torch.equal(a[k], b[k]) for k in a)  # same seed: the same skips, the same weights
    assert not all(torch.equal(a[k], c[k]) for k in a)
    assert record["config"]["layerdrop"] == 0.5
    assert "LayerDrop" in (tmp_path / "a" / "README.md").read_text()
    transformers.AutoModelForSequenceClassification.from_pretrained(tmp_path / "a")


def test_bad_layerdrop_is_one_error_line(sst_like, tmp_path):
    result = runner.invoke(
        app,
        [
            "finetune",
            "minilm-l6",
            "--task",
            "sst2",
            "--data-dir",
            sst_like,
            "-o",
            str(tmp_path / "x"),
            "--layerdrop",
            "2",
        ],
    )
    assert result.exit_code != 0
    err = result.stderr.strip().splitlines()
    assert len(err) == 1 and "outside [0, 1)" in err[0], result.stderr
    assert not (tmp_path / "x").exists()
