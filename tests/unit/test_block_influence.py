"""The calibration token set of decoder depth pruning as a strategy option: the last token
(lamina's decoder default, Gromov et al.) or every token (ShortGPT's Block Influence)."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from conftest import make_tiny, random_batches

from lamina.analysis import compute_layer_stats
from lamina.errors import LaminaError
from lamina.strategies import get_strategy, select_layers


def _block_influence(model, batches):
    """ShortGPT's BI as its reference code computes it (sramshetty/ShortGPT compute_bi), but from
    hooks on every block: 1 − cos(input, output) averaged over every real token."""
    layers = model.model.layers
    ins, outs = {}, {}
    hooks = [
        layer.register_forward_pre_hook(
            lambda m, a, k, i=i: ins.__setitem__(i, (a[0] if a else k["hidden_states"])), with_kwargs=True
        )
        for i, layer in enumerate(layers)
    ]
    hooks += [
        layer.register_forward_hook(lambda m, a, o, i=i: outs.__setitem__(i, o[0] if isinstance(o, tuple) else o))
        for i, layer in enumerate(layers)
    ]
    total, bi = 0, np.zeros(len(layers))
    with torch.no_grad():
        for b in batches:
            model.model(**b)
            mask = b["attention_mask"].bool()
            for i in range(len(layers)):
                cos = torch.nn.functional.cosine_similarity(ins[i][mask].double(), outs[i][mask].double(), dim=-1)
                bi[i] += float((1 - cos).sum())
            total += int(mask.sum())
    for h in hooks:
        h.remove()
    return bi / total


def test_token_all_ranks_as_shortgpt_block_influence_and_last_may_differ():
    model = make_tiny("llama")
    batches = random_batches()
    bi = _block_influence(model, batches)
    every = compute_layer_stats(model, batches, token="all")
    last = compute_layer_stats(model, batches)  # the decoder default
    assert every.token == "all" and last.token == "last"
    np.testing.assert_allclose(1 - every.contribution(), bi, rtol=1e-6)
    assert not np.allclose(every.contribution(), last.contribution())
    for k in (1, 2):
        lowest_bi = sorted(np.argsort(bi, kind="stable")[:k].tolist())
        kept = select_layers(get_strategy("contribution", token="all"), 4, drop=k, stats=every)
        assert sorted(set(range(4)) - set(kept)) == lowest_bi


def test_token_option_is_checked_against_the_statistics():
    stats = compute_layer_stats(make_tiny("llama"), random_batches())  # last token
    with pytest.raises(LaminaError, match="token=all"):
        select_layers(get_strategy("contribution", token="all"), 4, drop=1, stats=stats)
    assert get_strategy("contribution").calibration_token is None
    assert get_strategy("angular", token="last").calibration_token == "last"
    with pytest.raises(LaminaError, match="option token"):
        get_strategy("contribution", token="first")


def test_prune_and_inspect_measure_on_the_tokens_asked_for(tmp_path):
    import json

    import transformers
    from typer.testing import CliRunner

    from lamina.cli import app
    from lamina.data.bpe import train_bpe

    text = [f"line {i} of the calibration text about cats and dogs" for i in range(40)]
    calib = tmp_path / "calib.txt"
    calib.write_text("\n".join(text) + "\n")
    folder = tmp_path / "llama"
    tok = train_bpe(text, vocab_size=300, max_length=64)
    torch.manual_seed(0)
    transformers.LlamaForCausalLM(
        transformers.LlamaConfig(
            vocab_size=len(tok),
            hidden_size=32,
            num_attention_heads=4,
            num_key_value_heads=2,
            intermediate_size=64,
            num_hidden_layers=6,
            max_position_embeddings=64,
        )
    ).save_pretrained(folder)
    tok.save_pretrained(folder)
    runner = CliRunner()
    chosen = {}
    for token in ("last", "all"):
        out = tmp_path / f"pruned-{token}"
        result = runner.invoke(
            app,
            [
                "prune",
                str(folder),
                "-o",
                str(out),
                "--strategy",
                "contribution",
                "--drop",
                "2",
                "--strategy-option",
                f"token={token}",
                "--calib-data",
                str(calib),
                "--no-speed",
            ],
        )
        assert result.exit_code == 0, result.output + (result.stderr or "")
        record = json.loads((out / "lamina_results.json").read_text())
        assert record["prune"]["calibration"]["token"] == token
        chosen[token] = record["prune"]["kept_layers"]
    assert len(chosen["last"]) == len(chosen["all"]) == 4
    insp = runner.invoke(
        app, ["inspect", str(folder), "--calib-data", str(calib), "--token", "all", "--json", str(tmp_path / "t.json")]
    )
    assert insp.exit_code == 0, insp.output
    assert json.loads((tmp_path / "t.json").read_text())["token"] == "all"
