"""Golden values for every distillation loss, computed by hand on small tensors."""

from __future__ import annotations

import math

import pytest
import torch

from lamina.errors import LaminaError
from lamina.losses import LossContext, TeacherView, available_losses, get_loss, parse_loss_spec
from lamina.losses import functional as F

LN3 = math.log(3.0)
T = torch.tensor


def test_cross_entropy():
    # softmax([0, ln3]) = [1/4, 3/4]: -ln(3/4) = 0.287682, -ln(1/4) = 1.386294, mean 0.836988
    assert F.cross_entropy(T([[0.0, LN3], [0.0, LN3]]), T([1, 0])).item() == pytest.approx(0.836988, abs=1e-6)
    # one column = regression: MSE((2-1)², (0-1)²) = 1
    assert F.cross_entropy(T([[2.0], [0.0]]), T([1.0, 1.0])).item() == pytest.approx(1.0)


def test_soft_target_kd():
    # T=1: KL([.25,.75] || [.5,.5]) = .25 ln .5 + .75 ln 1.5 = 0.130812
    assert F.soft_target_kd(T([[0.0, 0.0]]), T([[0.0, LN3]]), 1.0).item() == pytest.approx(0.130812, abs=1e-6)
    # T=2: p_t = [1, √3]/(1+√3) = [.366025, .633975]; KL = 0.036341; × T² = 0.145363
    assert F.soft_target_kd(T([[0.0, 0.0]]), T([[0.0, LN3]]), 2.0).item() == pytest.approx(0.145363, abs=1e-6)
    # identical logits: zero at any temperature
    assert F.soft_target_kd(T([[1.0, -2.0]]), T([[1.0, -2.0]]), 3.0).item() == pytest.approx(0.0, abs=1e-7)


def test_softened_probability_mse():
    # T=1: p_s = [.5,.5], p_t = [.25,.75]: mean((.25)², (.25)²) = 0.0625
    assert F.softened_probability_mse(T([[0.0, 0.0]]), T([[0.0, LN3]]), 1.0).item() == pytest.approx(0.0625)
    # T=2: p_t = [.366025, .633975]: mean(.133975², .133975²) = 0.017949; × 4 = 0.071797
    assert F.softened_probability_mse(T([[0.0, 0.0]]), T([[0.0, LN3]]), 2.0).item() == pytest.approx(0.071797, abs=1e-6)
    assert F.softened_probability_mse(T([[1.0, -2.0]]), T([[1.0, -2.0]]), 3.0).item() == pytest.approx(0.0)
    # the registered loss averages several teachers' logits by weight first
    views = [TeacherView(logits=T([[0.0, LN3]]), weight=1.0), TeacherView(logits=T([[0.0, LN3]]), weight=3.0)]
    ctx = LossContext(
        student_logits=T([[0.0, 0.0]]), labels=None, attention_mask=T([[1]]), teachers=views, temperature=1.0
    )
    assert get_loss("prob_mse")(ctx).item() == pytest.approx(0.0625)


def test_patient_kd():
    # [3,4]/5 = [.6,.8] vs [1,0]: (.4)² + (.8)² = 0.8; second pair identical: 0; mean 0.4
    s = [T([[3.0, 4.0]]), T([[1.0, 1.0]])]
    t = [T([[1.0, 0.0]]), T([[2.0, 2.0]])]
    assert F.patient_kd(s, t).item() == pytest.approx(0.4)


def test_hidden_mse_uses_real_tokens_only():
    s = T([[[1.0, 2.0], [5.0, 5.0]]])
    t = torch.zeros(1, 2, 2)
    # first token only: (1 + 4) / 2 = 2.5
    assert F.masked_mse(s, t, T([[1, 0]])).item() == pytest.approx(2.5)
    # both tokens: (1 + 4 + 25 + 25) / 4 = 13.75
    assert F.hidden_mse([s], [t], T([[1, 1]])).item() == pytest.approx(13.75)


def test_attention_mse():
    s = T([[[[0.5, 0.5], [0.5, 0.5]]]])
    t = T([[[[1.0, 0.0], [0.5, 0.5]]]])
    # squared errors .25 .25 0 0 over 4 pairs = .125; with the second token masked only (0,0): .25
    assert F.attention_mse([s], [t], T([[1, 1]])).item() == pytest.approx(0.125)
    assert F.attention_mse([s], [t], T([[1, 0]])).item() == pytest.approx(0.25)


def test_cosine_embedding():
    s = T([[[1.0, 0.0], [1.0, 1.0]]])
    t = T([[[0.0, 1.0], [2.0, 2.0]]])
    # cos = 0 and 1: mean(1 - cos) = 0.5; second token only: 0
    assert F.cosine_embedding(s, t, T([[1, 1]])).item() == pytest.approx(0.5)
    assert F.cosine_embedding(s, t, T([[0, 1]])).item() == pytest.approx(0.0, abs=1e-7)


def test_masked_lm_ignores_unmasked_positions():
    logits = T([[[0.0, LN3], [0.0, 0.0]]])
    assert F.masked_lm(logits, T([[1, -100]])).item() == pytest.approx(0.287682, abs=1e-6)


def ctx_with(teachers, **kw):
    base = dict(student_logits=T([[0.0, 0.0]]), labels=T([1]), attention_mask=T([[1]]), teachers=teachers)
    return LossContext(**{**base, **kw})


def test_kd_averages_teachers_by_weight():
    # [0, ln3] and [ln3, 0] averaged equally = uniform = the student's: no loss
    views = [TeacherView(logits=T([[0.0, LN3]])), TeacherView(logits=T([[LN3, 0.0]]))]
    assert get_loss("kd")(ctx_with(views)).item() == pytest.approx(0.0, abs=1e-7)
    views[1].weight = 0.0  # only the first counts: 0.130812 at T=1
    assert get_loss("kd")(ctx_with(views)).item() == pytest.approx(0.130812, abs=1e-6)


def test_kd_refuses_regression():
    with pytest.raises(LaminaError, match="regression"):
        get_loss("kd")(ctx_with([TeacherView(logits=T([[0.5]]))], student_logits=T([[0.1]])))


def test_pkd_through_the_registry_reads_the_mapped_layers():
    hidden = (torch.zeros(1, 1, 2), T([[[3.0, 4.0]]]), T([[[1.0, 1.0]]]))  # embeddings, layer 1, layer 2
    view = TeacherView(cls={2: T([[1.0, 0.0]]), 4: T([[2.0, 2.0]])}, layer_map=[(1, 2), (2, 4)])
    assert get_loss("pkd")(ctx_with([view], student_hidden=hidden)).item() == pytest.approx(0.4)


def test_loss_spec_parsing():
    assert parse_loss_spec("kd=1,pkd=100") == {"kd": 1.0, "pkd": 100.0}
    assert parse_loss_spec("kd, ce=0.5") == {"kd": 1.0, "ce": 0.5}
    with pytest.raises(LaminaError, match="unknown loss 'kl'; available: attention_mse, ce, cosine"):
        parse_loss_spec("kl=1")
    with pytest.raises(LaminaError, match="must be a number"):
        parse_loss_spec("kd=x")
    with pytest.raises(LaminaError, match="no loss given"):
        parse_loss_spec("")


def test_every_registered_loss_is_covered_here():
    assert available_losses() == [
        "attention_mse",
        "ce",
        "cosine",
        "hidden_mse",
        "kd",
        "kd_masked",
        "mlm",
        "pkd",
        "prob_mse",
    ]


@pytest.mark.parametrize("chunk", [1, 2, 5, None])
def test_chunked_token_kd_equals_the_unchunked_loss_and_gradients(chunk, monkeypatch):
    # odd lengths, a padded row, -100 labels (a masked prompt), two weighted teachers; float64
    g = torch.Generator().manual_seed(3)
    B, Tn, V = 3, 7, 11
    student = torch.randn(B, Tn, V, generator=g, dtype=torch.float64, requires_grad=True)
    teachers = [torch.randn(B, Tn, V, generator=g, dtype=torch.float64) * 3 for _ in range(2)]
    labels = torch.randint(0, V, (B, Tn), generator=g)
    labels[0, 5:] = -100
    labels[2, :3] = -100
    mask = torch.ones(B, Tn, dtype=torch.long)
    mask[0, 5:] = 0
    if chunk is not None:
        monkeypatch.setattr(F, "KD_CHUNK_ELEMENTS", chunk * V)
    for shift in (True, False):
        keep = torch.zeros_like(labels, dtype=torch.bool)
        if shift:
            keep[:, :-1] = labels[:, 1:] != -100
        else:
            keep = labels != -100
        for weights in ([1.0], [0.7, 0.3]):
            views = [TeacherView(logits=t, weight=w) for t, w in zip(teachers, weights)]
            ctx = LossContext(
                student_logits=student,
                labels=labels,
                attention_mask=mask,
                teachers=views,
                temperature=2.0,
                shift_labels=shift,
                token_positions=keep,
            )
            got = get_loss("kd")(ctx)
            (g_got,) = torch.autograd.grad(got, student)
            avg = sum(w * t for w, t in zip(weights, teachers)) / sum(weights)
            ref = F.soft_target_kd(student[keep], avg[keep], 2.0)  # today's unchunked loss
            (g_ref,) = torch.autograd.grad(ref, student)
            assert float(got.detach()) == pytest.approx(float(ref.detach()), rel=1e-12)
            assert torch.allclose(g_got, g_ref, rtol=1e-10, atol=1e-13)
            assert torch.all(g_got[~keep] == 0)


def test_chunked_token_kd_on_the_attention_mask_and_without_tokens():
    g = torch.Generator().manual_seed(4)
    student = torch.randn(2, 5, 9, generator=g, dtype=torch.float64, requires_grad=True)
    teacher = torch.randn(2, 5, 9, generator=g, dtype=torch.float64)
    mask = torch.tensor([[1, 1, 1, 0, 0], [1, 1, 1, 1, 1]])
    ctx = LossContext(
        student_logits=student,
        labels=None,
        attention_mask=mask,
        teachers=[TeacherView(logits=teacher)],
        temperature=1.0,
    )
    ref = F.soft_target_kd(student[mask.bool()], teacher[mask.bool()], 1.0)
    assert float(get_loss("kd")(ctx).detach()) == pytest.approx(float(ref.detach()), rel=1e-12)
    ctx.attention_mask = torch.zeros_like(mask)
    zero = get_loss("kd")(ctx)
    assert float(zero.detach()) == 0.0 and torch.autograd.grad(zero, student)[0].abs().sum() == 0


def test_token_kd_refuses_another_vocabulary_in_one_line():
    student = torch.zeros(1, 3, 5)
    ctx = LossContext(
        student_logits=student,
        labels=None,
        attention_mask=torch.ones(1, 3, dtype=torch.long),
        teachers=[TeacherView(logits=torch.zeros(1, 3, 6))],
    )
    with pytest.raises(LaminaError, match="over 6 tokens, the student's over 5: token-level KD needs one vocabulary"):
        get_loss("kd")(ctx)


def test_a_trained_teacher_gets_its_gradients_through_token_kd():
    # (a method that trains its teachers: the one-graph path, gradients to both sides)
    g = torch.Generator().manual_seed(5)
    student = torch.randn(2, 4, 7, generator=g, dtype=torch.float64, requires_grad=True)
    teacher = torch.randn(2, 4, 7, generator=g, dtype=torch.float64, requires_grad=True)
    mask = torch.ones(2, 4, dtype=torch.long)
    ctx = LossContext(student_logits=student, labels=None, attention_mask=mask, teachers=[TeacherView(logits=teacher)])
    got = torch.autograd.grad(get_loss("kd")(ctx), [student, teacher])
    ref = torch.autograd.grad(F.soft_target_kd(student.flatten(0, 1), teacher.flatten(0, 1), 1.0), [student, teacher])
    assert all(torch.allclose(a, b, atol=1e-13) for a, b in zip(got, ref))
