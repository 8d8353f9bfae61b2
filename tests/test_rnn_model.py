"""The tanh RNN: Table 4 initialization, the hand-written BPTT against autograd, losses,
the biases-only baseline and a short training run on the addition problem."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from momentum_repro.data.rnn_tasks import (
    addition,
    get_task,
    make_eval_set,
    memorization,
    training_generator,
)
from momentum_repro.models.init import echo_state_init_
from momentum_repro.models.rnn import (
    TanhRNN,
    _TanhRecurrence,
    batch_tensors,
    evaluate_rnn,
    task_loss,
    task_zero_one,
)
from momentum_repro.optim import ClassicalMomentum, Nesterov
from momentum_repro.runtime import flush_denormals
from momentum_repro.workloads.rnn import train_rnn_steps


@pytest.fixture
def one_thread():
    """Small per-step matrix products: one thread is as fast and immune to a busy machine."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def spectral_radius(w: torch.Tensor) -> float:
    return torch.linalg.eigvals(w.detach().double()).abs().max().item()


@pytest.mark.parametrize("dtype", [torch.float32, torch.float64])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_table4_initialization(dtype: torch.dtype, seed: int) -> None:
    model = TanhRNN.for_task("addition", seed=seed, dtype=dtype)
    assert model.weight_hh.shape == (100, 100) and model.weight_hh.dtype == dtype
    assert abs(spectral_radius(model.weight_hh) - 1.1) < 1e-6
    assert ((model.weight_hh != 0).sum(dim=1) == 15).all()
    assert abs(model.weight_ih.std().item() / 0.001 - 1) < 0.25  # 200 draws
    assert (model.weight_ih != 0).all()
    assert abs(model.weight_ho.std().item() / 0.1 - 1) < 0.25  # 100 draws
    assert not model.bias_h.any() and not model.bias_o.any()
    mem = TanhRNN.for_task("mem20", seed=seed, dtype=dtype)
    assert mem.weight_ih.shape == (100, 7) and mem.weight_ho.shape == (6, 100)
    assert abs(mem.weight_ih.std().item() / 0.1 - 1) < 0.25  # 700 draws
    same = TanhRNN.for_task("addition", seed=seed, dtype=dtype)
    for a, b in zip(model.parameters(), same.parameters(), strict=True):
        assert torch.equal(a, b)


def test_echo_state_init_scales_to_the_requested_radius() -> None:
    w = torch.empty(50, 50, dtype=torch.float64)
    echo_state_init_(w, fan_in=5, spectral_radius=0.7, generator=torch.Generator().manual_seed(3))
    assert abs(spectral_radius(w) - 0.7) < 1e-12
    assert ((w != 0).sum(dim=1) == 5).all()
    with pytest.raises(ValueError, match="fan_in"):
        echo_state_init_(torch.empty(10, 10), fan_in=11)
    with pytest.raises(ValueError, match="square"):
        echo_state_init_(torch.empty(10, 9))


def perturbed_pair(task: str, seed: int = 0) -> tuple[TanhRNN, TanhRNN]:
    """A BPTT model and a loop model with identical, non-trivial float64 parameters."""
    fast = TanhRNN.for_task(task, seed=seed, dtype=torch.float64, implementation="bptt")
    slow = TanhRNN.for_task(task, seed=seed, dtype=torch.float64, implementation="loop")
    g = torch.Generator().manual_seed(seed + 100)
    with torch.no_grad():
        for (name, p), q in zip(fast.named_parameters(), slow.parameters(), strict=True):
            scale = 0.02 if name == "weight_hh" else 0.3  # keep the dynamics non-chaotic
            p.add_(scale * torch.randn(p.shape, generator=g, dtype=p.dtype))
            q.copy_(p)
    return fast, slow


@pytest.mark.parametrize(
    ("task", "T"), [("addition", 30), ("mem5", 25), ("temporal_order3", 20), ("xor", 40)]
)
def test_bptt_equals_autograd_through_a_loop(task: str, T: int) -> None:
    fast, slow = perturbed_pair(task)
    batch = get_task(task)(T, 9, np.random.default_rng(1))
    inputs, targets, mask, valid = batch_tensors(batch, torch.float64)
    if task in ("addition", "xor", "temporal_order3"):
        assert valid is not None and not valid.all()  # the padding path is exercised
    results = []
    for model in (fast, slow):
        model.zero_grad()
        z = model(inputs, valid)
        # a loss at every real step too, so gradients enter the recurrence everywhere
        extra = (z.pow(2).sum(-1) * (valid if valid is not None else 1)).sum() * 1e-2
        (task_loss(task, z, targets, mask) + extra).backward()
        results.append((z.detach(), [p.grad.clone() for p in model.parameters()]))
    (z_fast, g_fast), (z_slow, g_slow) = results
    torch.testing.assert_close(z_fast, z_slow, rtol=0, atol=1e-10)
    for name, a, b in zip([n for n, _ in fast.named_parameters()], g_fast, g_slow, strict=True):
        assert a.abs().max() > 1e-6, name
        torch.testing.assert_close(a, b, rtol=0, atol=1e-10, msg=name)


def test_recurrence_gradcheck() -> None:
    g = torch.Generator().manual_seed(0)
    drive = torch.randn(6, 3, 4, generator=g, dtype=torch.float64, requires_grad=True)
    w = (0.5 * torch.randn(4, 4, generator=g, dtype=torch.float64)).requires_grad_()
    valid = torch.ones(6, 3, 1, dtype=torch.float64)
    valid[:2, 0] = 0  # sequence 0 starts at step 2
    assert torch.autograd.gradcheck(_TanhRecurrence.apply, (drive, w, valid))
    assert torch.autograd.gradcheck(_TanhRecurrence.apply, (drive, w, None))


@pytest.mark.parametrize("implementation", ["bptt", "loop"])
def test_left_padding_is_exact(implementation: str) -> None:
    """A padded sequence gives the outputs of the same sequence run alone."""
    fast, _ = perturbed_pair("addition")  # non-zero hidden biases: padding would leak
    fast.implementation = implementation
    batch = addition(20, 8, np.random.default_rng(2))
    inputs, _, _, valid = batch_tensors(batch, torch.float64)
    assert len(set(batch.lengths.tolist())) > 1
    z = fast(inputs, valid)
    for i, L in enumerate(batch.lengths.tolist()):
        alone = fast(inputs[i : i + 1, -L:])
        torch.testing.assert_close(z[i, -L:], alone[0], rtol=0, atol=1e-10)


def test_output_bias_is_the_average_target() -> None:
    batch = addition(50, 200, np.random.default_rng(0))
    model = TanhRNN.for_task("addition", seed=0).init_output_bias_(batch)
    assert model.bias_o.item() == pytest.approx(batch.targets[:, -1].mean(), abs=1e-6)
    xor_batch = get_task("xor")(50, 200, np.random.default_rng(0))
    logistic = TanhRNN.for_task("xor", seed=0).init_output_bias_(xor_batch)
    p = xor_batch.targets[:, -1].mean()
    assert torch.sigmoid(logistic.bias_o).item() == pytest.approx(p, abs=1e-6)
    mem = get_task("mem5")(30, 50, np.random.default_rng(0))
    softmax = TanhRNN.for_task("mem5", seed=0).init_output_bias_(mem)
    freq = np.bincount(mem.targets.ravel(), minlength=3) / mem.targets.size
    np.testing.assert_allclose(torch.softmax(softmax.bias_o.detach(), 0).numpy(), freq, atol=1e-6)


def test_losses_and_zero_one_on_hand_made_outputs() -> None:
    mask = torch.tensor([[False, True], [False, True], [False, True], [False, True]])
    y = torch.tensor([[0.0, 0.5], [0.0, -0.2], [0.0, 0.0], [0.0, 1.0]])
    z = torch.tensor([[9.0, 0.53], [9.0, -0.25], [9.0, 0.0], [9.0, 0.0]]).unsqueeze(-1)
    # 1/2 squared error (Sutskever's Lin.loss); "mean" over sequences, "sum" over them
    assert task_loss("addition", z, y, mask).item() == pytest.approx(
        0.5 * (0.03**2 + 0.05**2 + 0 + 1) / 4
    )
    assert task_loss("addition", z, y, mask, reduction="sum").item() == pytest.approx(
        0.5 * (0.03**2 + 0.05**2 + 0 + 1)
    )
    assert task_zero_one("addition", z, y, mask).item() == pytest.approx(2 / 4)
    yb = torch.tensor([[0, 1], [0, 0], [0, 1], [0, 0]])
    zb = torch.tensor([[5.0, 2.0], [5.0, 1.0], [5.0, -1.0], [5.0, -3.0]]).unsqueeze(-1)
    expected = -(math.log(torch.sigmoid(torch.tensor(2.0)).item()) + math.log(1 - 0.7310585786)
                 + math.log(0.2689414214) + math.log(1 - 0.0474258732)) / 4  # fmt: skip
    assert task_loss("xor", zb, yb, mask).item() == pytest.approx(expected, rel=1e-6)
    assert task_zero_one("xor", zb, yb, mask).item() == pytest.approx(2 / 4)
    # memorization: wrongly recalled symbols per sequence; only the recall steps (target not
    # blank) count, and blank (class 2) is never the recalled symbol
    z3 = torch.zeros(2, 3, 3)
    z3[0, :, 2] = 1.0  # sequence 0: blank is most likely everywhere, then symbol 1
    z3[0, :, 1] = 0.5
    z3[1, :, 0] = 1.0  # sequence 1 predicts symbol 0 everywhere
    y3 = torch.tensor([[2, 0, 1], [2, 0, 0]])
    m3 = torch.ones(2, 3, dtype=torch.bool)
    assert task_zero_one("mem5", z3, y3, m3).item() == pytest.approx((1 + 0) / 2)
    # a diverged network's NaN outputs are wrong answers (NaN compares False everywhere)
    nan = torch.tensor(float("nan"))
    assert task_zero_one("addition", torch.full_like(z, nan), y, mask).item() == 1.0
    assert task_zero_one("xor", torch.full_like(zb, nan), yb, mask).item() == 1.0
    assert task_zero_one("mem5", torch.full_like(z3, nan), y3, m3).item() == pytest.approx(4 / 2)
    # a target at every step: each sequence's loss is the average over its target steps,
    # so the objective is on the scale of a single-target problem's
    ce = torch.nn.functional.cross_entropy(z3.reshape(-1, 3), y3.reshape(-1)).item()
    assert task_loss("mem5", z3, y3, m3).item() == pytest.approx(ce)
    assert task_loss("mem5", z3, y3, m3, reduction="sum").item() == pytest.approx(2 * ce)
    # sequences with different numbers of target steps: each is averaged over its own
    m_uneven = torch.tensor([[True, True, True], [False, False, True]])
    per_step = torch.nn.functional.cross_entropy(z3.transpose(1, 2), y3, reduction="none")
    expected = per_step[0].mean() + per_step[1, 2]
    assert task_loss("mem5", z3, y3, m_uneven, reduction="sum").item() == pytest.approx(
        expected.item()
    )
    with pytest.raises(ValueError, match="reduction must be"):
        task_loss("mem5", z3, y3, m3, reduction="none")  # type: ignore[arg-type]


def test_evaluate_in_chunks_equals_one_pass() -> None:
    model = TanhRNN.for_task("mem5", seed=0, dtype=torch.float64)
    batch = memorization(30, 250, np.random.default_rng(0), n_symbols=5, alphabet=2)
    model.init_output_bias_(batch)
    one = evaluate_rnn(model, "mem5", batch, chunk_size=1000)
    chunked = evaluate_rnn(model, "mem5", batch, chunk_size=64)
    assert one == pytest.approx(chunked, rel=1e-12)
    # output biases only: it recalls the more frequent symbol each time, about half wrong:
    # the paper's "biases" chance level (2.5 of 5 bits)
    assert 2.0 < one[1] < 3.0


def test_biases_only_trains_only_the_output_bias(one_thread: None) -> None:
    model = TanhRNN.for_task("addition", seed=0).set_biases_only()
    assert [n for n, p in model.named_parameters() if p.requires_grad] == ["bias_o"]
    before = {n: p.detach().clone() for n, p in model.named_parameters()}
    optimizer = ClassicalMomentum(model.trainable_parameters(), lr=0.05, momentum=0.5)
    train_rnn_steps(model, "addition", 10, optimizer, 5, 20, np.random.default_rng(0))
    for n, p in model.named_parameters():
        assert torch.equal(p, before[n]) == (n != "bias_o"), n
    model.set_biases_only(False)
    assert len(model.trainable_parameters()) == 5


def test_short_addition_run_beats_the_biases_baseline(one_thread: None) -> None:
    """T = 10, 300 NAG updates (about a second): the zero-one loss drops below the
    biases-only baseline (about 0.85: only ~15% of targets lie within 0.04 of their mean).
    lr 6e-4 on the summed objective is the 0.03 this test used on the per-sequence mean of
    (z - y)^2: 0.03 x 2 / 100."""
    flush_denormals(True)
    T, updates, batch_size = 10, 300, 100
    eval_set = make_eval_set("addition", T, 2000, seed=0)
    sample = addition(T, batch_size, np.random.default_rng(99))
    results = {}
    for biases_only in (True, False):
        torch.manual_seed(0)
        model = TanhRNN.for_task("addition", seed=0).init_output_bias_(sample)
        model.set_biases_only(biases_only)
        optimizer = Nesterov(model.trainable_parameters(), lr=6e-4, momentum=0.9)
        losses = train_rnn_steps(
            model, "addition", T, optimizer, updates, batch_size, training_generator(0)
        )
        assert len(losses) == updates and all(math.isfinite(v) for v in losses)
        results[biases_only] = evaluate_rnn(model, "addition", eval_set)
    baseline_loss, baseline = results[True]
    trained_loss, trained = results[False]
    assert baseline > 0.8
    assert trained < baseline - 0.1, (trained, baseline)
    assert trained_loss < 0.5 * baseline_loss, (trained_loss, baseline_loss)
