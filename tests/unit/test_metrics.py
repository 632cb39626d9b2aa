"""Metrics: hand-computed golden values, cross-checked against scikit-learn / scipy."""

import numpy as np
import pytest
from scipy.stats import pearsonr, spearmanr
from sklearn.metrics import f1_score, matthews_corrcoef

from lamina.errors import LaminaError
from lamina.eval.metrics import compute_metrics
from lamina.tasks import get_task


def logits_for(pred, n_classes=2):
    out = np.zeros((len(pred), n_classes))
    out[np.arange(len(pred)), pred] = 1.0
    return out


PRED = [1, 0, 1, 1]
GOLD = [1, 0, 0, 1]  # tp 2, tn 1, fp 1, fn 0


def test_mrpc_f1_and_accuracy_by_hand():
    m = compute_metrics(get_task("mrpc"), logits_for(PRED), GOLD)
    assert m == pytest.approx({"f1": 0.8, "accuracy": 0.75})
    assert m["f1"] == pytest.approx(f1_score(GOLD, PRED))


def test_cola_mcc_by_hand():
    m = compute_metrics(get_task("cola"), logits_for(PRED), GOLD)
    assert m["mcc"] == pytest.approx(2 / np.sqrt(12))
    assert m["mcc"] == pytest.approx(matthews_corrcoef(GOLD, PRED))


def test_stsb_correlations_by_hand():
    pred = np.array([[1.0], [2.0], [3.0], [4.0]])
    gold = [1.0, 3.0, 2.0, 4.0]
    m = compute_metrics(get_task("stsb"), pred, gold)
    assert m == pytest.approx({"pearson": 0.8, "spearman": 0.8})
    assert m["pearson"] == pytest.approx(pearsonr(pred.ravel(), gold)[0])
    assert m["spearman"] == pytest.approx(spearmanr(pred.ravel(), gold)[0])


def test_constant_predictions_have_no_correlation():
    assert compute_metrics(get_task("stsb"), np.ones((4, 1)), [1.0, 2.0, 3.0, 4.0])["pearson"] == 0.0


def test_bbc_macro_f1():
    pred = [0, 1, 2, 3, 4, 4]
    gold = [0, 1, 2, 3, 4, 0]
    m = compute_metrics(get_task("bbc-news"), logits_for(pred, 5), gold)
    assert m["accuracy"] == pytest.approx(5 / 6)
    # class 0: p 1, r .5 → f1 2/3; class 4: p .5, r 1 → 2/3; others 1
    assert m["macro_f1"] == pytest.approx((2 / 3 + 1 + 1 + 1 + 2 / 3) / 5)


def test_length_mismatch_is_an_error():
    with pytest.raises(LaminaError, match="3 predictions for 4 labels"):
        compute_metrics(get_task("sst2"), logits_for([0, 1, 1]), GOLD)


def test_every_task_names_known_metrics():
    from lamina.eval.metrics import METRICS, greater_is_better
    from lamina.tasks import available_tasks

    for name in available_tasks():
        if name != "custom":
            task = get_task(name)
            if task.objective.name in ("masked-lm", "causal-lm"):  # scored by the loss itself, lower is better
                assert all(not greater_is_better(m) for m in task.metrics), name
                continue
            if task.objective.name == "seq2seq":  # sacrebleu's BLEU/chrF (0..100, higher is better), reference loss
                assert all(m.startswith(("bleu", "chrf")) or not greater_is_better(m) for m in task.metrics), name
                continue
            assert all(m in METRICS or m.startswith("mismatched_") for m in task.metrics), name
