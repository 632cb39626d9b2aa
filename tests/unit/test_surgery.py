"""Every architecture × every strategy: drop → save → vanilla reload → identical outputs."""

from __future__ import annotations

import pytest
import torch
import transformers
from conftest import auto_class, make_tiny, random_batches

from lamina.analysis import compute_layer_stats
from lamina.errors import LaminaError
from lamina.models import drop_layers, get_adapter
from lamina.strategies import available_strategies, get_strategy, select_layers


def _outputs(model, batch):
    with torch.no_grad():
        out = model(**batch, output_hidden_states=True)
    main = out.logits if getattr(out, "logits", None) is not None else out.last_hidden_state
    return main, out.hidden_states


@pytest.mark.parametrize("strategy_name", available_strategies())
def test_every_strategy_saves_and_reloads_identically(arch, strategy_name, tmp_path):
    model = make_tiny(arch)
    adapter = get_adapter(model)
    n = adapter.num_layers(model.config)
    options = {"layers": [0, 3]} if strategy_name == "explicit" else {}
    strategy = get_strategy(strategy_name, **options)
    stats = compute_layer_stats(model, random_batches()) if strategy.needs_calibration else None
    keep = select_layers(strategy, n, drop=None if options else 2, stats=stats)
    assert len(keep) == 2

    pruned = drop_layers(model, keep)
    assert adapter.num_layers(pruned.config) == 2
    assert len(adapter.layers(pruned)) == 2
    assert len(adapter.layers(model)) == n, "drop_layers must not touch the original by default"

    pruned.save_pretrained(tmp_path)
    reloaded = auto_class(arch).from_pretrained(tmp_path).eval()
    assert type(reloaded) is type(pruned)
    assert not any("lamina" in type(m).__module__ for m in reloaded.modules())
    batch = random_batches(seq=10)[0]
    got, _ = _outputs(reloaded, batch)
    want, _ = _outputs(pruned, batch)
    torch.testing.assert_close(got, want)


def test_kept_layers_compute_what_they_computed_before(arch):
    """Dropping the top layers leaves the lower hidden states bit-for-bit unchanged."""
    model = make_tiny(arch)
    pruned = drop_layers(model, [0, 1])
    batch = random_batches()[0]
    _, before = _outputs(model, batch)
    _, after = _outputs(pruned, batch)
    # hidden_states[0] is the embedding output, [1] the output of layer 0 (decoders norm the last one)
    torch.testing.assert_close(after[0], before[0])
    torch.testing.assert_close(after[1], before[1])


def test_layer_idx_renumbered_and_per_layer_config_sliced():
    model = make_tiny("qwen2")
    assert model.config.layer_types == ["full_attention", "full_attention", "sliding_attention", "sliding_attention"]
    pruned = drop_layers(model, [1, 3])
    assert pruned.config.layer_types == ["full_attention", "sliding_attention"]
    assert pruned.config.num_hidden_layers == 2
    assert [layer.self_attn.layer_idx for layer in pruned.model.layers] == [0, 1]
    assert [layer.self_attn.layer_idx for layer in model.model.layers] == [0, 1, 2, 3]


def test_keep_all_is_identity():
    model = make_tiny("bert")
    same = drop_layers(model, range(4))
    batch = random_batches()[0]
    torch.testing.assert_close(_outputs(same, batch)[0], _outputs(model, batch)[0])


def test_inplace_modifies_the_model():
    model = make_tiny("gpt2")
    out = drop_layers(model, [0], inplace=True)
    assert out is model and len(model.transformer.h) == 1 and model.config.n_layer == 1


@pytest.mark.parametrize("keep", [[], [0, 4], [-1], [1, 1]])
def test_bad_keep_lists(keep):
    with pytest.raises(LaminaError):
        drop_layers(make_tiny("bert"), keep)


def test_unsupported_architecture_names_the_supported_ones():
    config = transformers.DebertaV2Config(
        hidden_size=16, num_hidden_layers=1, num_attention_heads=2, intermediate_size=32, vocab_size=50
    )
    with pytest.raises(LaminaError, match=r"unsupported architecture 'deberta-v2'; supported: .*bert.*llama.*t5"):
        get_adapter(config)


def test_gpt2_position_dependent_scaling_is_refused():
    model = make_tiny("gpt2")
    model.config.scale_attn_by_inverse_layer_idx = True
    with pytest.raises(LaminaError, match="scale_attn_by_inverse_layer_idx"):
        drop_layers(model, [1, 3])
    assert len(drop_layers(model, [0, 1]).transformer.h) == 2  # a prefix is still fine


def test_a_head_missing_from_the_checkpoint_is_not_invented(tmp_path):
    """Config says ...ForMaskedLM but only encoder weights were saved: load the base model."""
    from lamina.models.loading import load_model

    model = make_tiny("mpnet")
    model.mpnet.save_pretrained(tmp_path)
    config = transformers.AutoConfig.from_pretrained(tmp_path)
    config.architectures = ["MPNetForMaskedLM"]
    config.save_pretrained(tmp_path)
    loaded, _, _ = load_model(str(tmp_path), with_tokenizer=False)
    assert type(loaded).__name__ == "MPNetModel"
    # and a complete checkpoint keeps its head
    model.save_pretrained(tmp_path / "full")
    assert (
        type(load_model(str(tmp_path / "full"), with_tokenizer=False)[0]).__name__ == "MPNetForSequenceClassification"
    )
