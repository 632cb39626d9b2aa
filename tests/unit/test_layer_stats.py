"""Layer statistics from hooks agree with a direct computation from output_hidden_states."""

import numpy as np
import pytest
import torch
from conftest import make_tiny, random_batches

from lamina.analysis import compute_layer_stats, layer_table
from lamina.errors import LaminaError


def test_matches_hidden_states_of_an_encoder():
    model = make_tiny("bert")
    batches = random_batches()
    stats = compute_layer_stats(model, batches)
    cos_sum, ang_sum, count = np.zeros(4), np.zeros(4), 0
    with torch.no_grad():
        for b in batches:
            hs = model.bert(**b, output_hidden_states=True).hidden_states
            m = b["attention_mask"].bool()
            for i in range(4):
                c = torch.nn.functional.cosine_similarity(hs[i][m].double(), hs[i + 1][m].double(), dim=-1)
                cos_sum[i] += c.sum().item()
                ang_sum[i] += (torch.arccos(c.clamp(-1, 1)) / torch.pi).sum().item()
            count += int(m.sum())
    np.testing.assert_allclose(stats.contribution(), cos_sum / count, rtol=1e-5)
    np.testing.assert_allclose(stats.block_angular(1), ang_sum / count, rtol=1e-5)
    assert stats.num_tokens == count == sum(int(b["attention_mask"].sum()) for b in batches)


def test_decoders_use_the_last_real_token():
    model = make_tiny("llama")
    batches = random_batches(n=1)
    stats = compute_layer_stats(model, batches)
    assert stats.token == "last"
    assert stats.num_tokens == 4  # one token per row, including the padded row
    assert np.all(stats.angular >= 0) and np.all(stats.angular <= 1)
    np.testing.assert_allclose(np.diag(stats.cosine), 1.0)


def test_table_has_a_row_per_layer_and_totals():
    model = make_tiny("mpnet")
    table = layer_table(model, compute_layer_stats(model, random_batches(n=1)))
    assert [r["layer"] for r in table["rows"]] == [0, 1, 2, 3]
    assert table["totals"]["parameters"] == sum(p.numel() for p in model.parameters())
    assert table["totals"]["layer_parameters"] == sum(r["parameters"] for r in table["rows"])
    assert [b["size"] for b in table["best_blocks"]] == [1, 2, 3]


def test_empty_calibration_is_an_error():
    with pytest.raises(LaminaError, match="empty"):
        compute_layer_stats(make_tiny("bert"), [])


def test_compare_throughput_interleaves_and_reports_each_model():
    from lamina.eval import compare_throughput
    from lamina.models import drop_layers

    model = make_tiny("bert")
    small = drop_layers(model, [0])
    timed = compare_throughput({"full": model, "small": small}, rounds=2, repeats=2, warmup=1, batch_size=2, seq_len=8)
    assert set(timed) == {"full", "small"}
    for r in timed.values():
        assert len(r["seconds_per_round"]) == 2 and r["seconds_per_batch"] > 0
        assert r["samples_per_second"] == pytest.approx(2 / r["seconds_per_batch"])
