"""Layer-selection strategies: golden choices and the errors of impossible requests."""

from __future__ import annotations

import numpy as np
import pytest

from lamina.analysis import LayerStats
from lamina.errors import LaminaError
from lamina.strategies import Strategy, get_strategy, register_strategy, resolve_drop_count, select_layers


def keep_of(name, n, k, stats=None, **opts):
    return select_layers(get_strategy(name, **opts), n, drop=k, stats=stats)


def fake_stats(cos_adjacent, angular=None):
    """LayerStats whose cosine[l, l+1] are given; angular defaults to arccos/pi of cosine."""
    n = len(cos_adjacent)
    cos = np.eye(n + 1)
    for i in range(n + 1):
        for j in range(i + 1, n + 1):
            cos[i, j] = cos[j, i] = np.prod(cos_adjacent[i:j])
    ang = np.arccos(np.clip(cos, -1, 1)) / np.pi if angular is None else angular
    return LayerStats(cosine=cos, angular=ang, num_tokens=10, token="all")


@pytest.mark.parametrize(
    "name,n,k,opts,expected",
    [
        ("top", 6, 2, {}, [0, 1, 2, 3]),
        ("bottom", 6, 2, {}, [2, 3, 4, 5]),
        ("alternate", 6, 3, {}, [0, 2, 4]),
        ("alternate", 6, 1, {}, [0, 1, 2, 3, 4]),
        ("alternate", 12, 6, {}, [0, 2, 4, 6, 8, 10]),
        ("alternate", 6, 2, {"parity": "even"}, [0, 1, 3, 5]),
        ("symmetric", 12, 4, {}, [0, 1, 2, 3, 8, 9, 10, 11]),
        ("symmetric", 6, 2, {}, [0, 1, 4, 5]),
        ("symmetric", 6, 3, {}, [0, 1, 5]),
    ],
)
def test_golden_choices(name, n, k, opts, expected):
    assert keep_of(name, n, k, **opts) == expected


def test_contribution_drops_the_layers_that_change_least():
    stats = fake_stats([0.5, 0.99, 0.7, 0.95, 0.6, 0.3])
    assert keep_of("contribution", 6, 2, stats) == [0, 2, 4, 5]
    assert keep_of("contribution", 6, 1, stats) == [0, 2, 3, 4, 5]


def test_contribution_ties_go_to_the_higher_layer():
    assert keep_of("contribution", 4, 1, fake_stats([0.9, 0.9, 0.5, 0.9])) == [0, 1, 2]


def test_angular_drops_the_closest_contiguous_block():
    # layers 2,3 together barely move the state; individually layer 0 looks best
    stats = fake_stats([0.99, 0.6, 0.97, 0.97, 0.5, 0.4])
    assert keep_of("angular", 6, 2, stats) == [0, 1, 4, 5]
    assert keep_of("angular", 6, 1, stats) == [1, 2, 3, 4, 5]


def test_explicit():
    assert select_layers(get_strategy("explicit", layers=[4, 0, 2]), 6) == [0, 2, 4]
    with pytest.raises(LaminaError, match="out of range"):
        select_layers(get_strategy("explicit", layers=[0, 6]), 6)
    with pytest.raises(LaminaError, match="needs the indices"):
        get_strategy("explicit")


@pytest.mark.parametrize("name", ["top", "bottom", "alternate", "symmetric", "contribution", "angular"])
def test_zero_is_identity(name):
    assert keep_of(name, 6, 0, fake_stats([0.9] * 6)) == list(range(6))


def test_keep_count_is_the_same_as_drop():
    assert select_layers(get_strategy("top"), 6, keep=4) == [0, 1, 2, 3]


@pytest.mark.parametrize(
    "drop,keep,match",
    [
        (6, None, "at least one must stay"),
        (7, None, "at least one"),
        (-1, None, "0 or more"),
        (None, 0, "keep 1..6"),
        (None, 7, "keep 1..6"),
        (None, None, "exactly one"),
        (1, 1, "exactly one"),
    ],
)
def test_impossible_counts(drop, keep, match):
    with pytest.raises(LaminaError, match=match):
        resolve_drop_count(6, drop, keep)


def test_alternate_cannot_drop_more_than_half():
    with pytest.raises(LaminaError, match="at most 3"):
        keep_of("alternate", 6, 4)


def test_unknown_strategy_lists_the_known_ones():
    with pytest.raises(LaminaError, match="unknown strategy 'middle'; available: alternate, angular"):
        get_strategy("middle")


def test_calibrated_strategies_need_stats():
    with pytest.raises(LaminaError, match="needs calibration data"):
        keep_of("contribution", 6, 2)


def test_a_new_strategy_is_one_registration():
    @register_strategy("test-every-third")
    class EveryThird(Strategy):
        """Drop every third layer from the top."""

        def layers_to_drop(self, num_layers, k, stats=None):
            return list(range(num_layers - 1, -1, -3))[:k]

    assert keep_of("test-every-third", 6, 2) == [0, 1, 3, 4]


def test_a_broken_strategy_is_caught():
    @register_strategy("test-broken")
    class Broken(Strategy):
        def layers_to_drop(self, num_layers, k, stats=None):
            return [num_layers] * k

    with pytest.raises(LaminaError, match="invalid layers"):
        keep_of("test-broken", 6, 1)
