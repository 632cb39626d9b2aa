"""A pruned decoder generates with the KV cache (transformers issue #30508: stale layer_idx)."""

import torch
import transformers
from conftest import make_tiny

from lamina.models import drop_layers


def _greedy(model, use_cache):
    ids = torch.tensor([[5, 17, 42, 8]])
    return model.generate(
        ids, attention_mask=torch.ones_like(ids), max_new_tokens=8, do_sample=False, use_cache=use_cache, pad_token_id=0
    )


def test_pruned_llama_generates_with_cache(tmp_path):
    model = make_tiny("llama")
    pruned = drop_layers(model, [1, 3])
    cached = _greedy(pruned, True)
    uncached = _greedy(pruned, False)
    assert cached.shape[1] == 12
    assert torch.equal(cached, uncached)
    pruned.save_pretrained(tmp_path)
    reloaded = transformers.AutoModelForCausalLM.from_pretrained(tmp_path).eval()
    assert torch.equal(_greedy(reloaded, True), cached)


def test_pruned_llama_cache_has_one_slot_per_kept_layer():
    pruned = drop_layers(make_tiny("llama"), [0, 2, 3])
    ids = torch.tensor([[5, 17, 42]])
    out = pruned(ids, use_cache=True)
    assert len(out.past_key_values.layers) == 3
    assert all(layer.keys is not None and layer.keys.shape[-2] == 3 for layer in out.past_key_values.layers)
