"""The long-range RNN problems of Hochreiter & Schmidhuber (1997), as Martens & Sutskever (2011)
set them up and Sutskever et al. (2013), section 4, trained them.

Every generator is a plain function ``fn(T, batch_size, generator, **options) -> Batch`` of NumPy
arrays, batch-first. Ranges scale with f = T / 100 as in Sutskever's released code
(``int(x * f)``); a half-open range [a, b) is written as such, the temporal-order ranges are
closed as in that code. For T < 100 a range is clipped so that every operand lies after step 0
(which carries the start marker) and holds at least one position; a T too small for the
operands to precede the end markers is refused.

Definitions and their sources. The layout (sequence lengths, operand positions, markers,
target step) is that of Sutskever's released HF-RNN code (``opt/d/seq/pathological.py`` and
``opt/d/seq/utils/__init__.py``: ``op_cls``, ``temporal2``, ``temporal3``, ``raw_mem``; read in
the public copy barapa/HF-RNN), and so are the values, targets and tolerance:
  addition: values U[0, 1], target a + b, wrong when |error| > 0.04 (``addition``).
  multiplication: values U[0, 1], target a b, wrong when |error| > 0.04; Hochreiter &
    Schmidhuber (1997, experiment 5) define it the same way.
  Table 5's "biases" column is a network that learns only its output biases: a trained
  baseline, not a closed-form chance level (:func:`chance_level` gives the mean predictor's:
  addition 0.922, multiplication 0.889). Its hidden state, driven by the sequence through the
  fixed random weights, adds noise to the output, so the trained baseline scores above the
  mean predictor. The paper's 0.82 for addition is below the released code's chance level,
  so Hochreiter & Schmidhuber's (1997, experiment 4) addition was tried too (``addition_hs``:
  values U[-1, 1], target 0.5 + (a + b) / 4, chance 0.846), training the biases-only
  baseline at T = 80 under both (``python pipelines/train.py -m experiment=rnn_biases``).
  Quick profile (1,000 updates), 3 seeds, zero-one on 2,000 sequences, mean and 95% t
  interval: released code's addition 0.941 [0.914, 0.968], Hochreiter & Schmidhuber's 0.922
  [0.836, 1.008], multiplication 0.926 [0.845, 1.007]; the paper: 0.82 and 0.84. Neither
  addition comes within its runs' noise of the paper's 0.82, so the released code's
  definition is kept, the paper's own source.
  xor: the released code: bits, target a XOR b, logistic output; chance 0.5.
  mem-5 / mem-20: the released code's ``raw_mem`` (5 bits; 10 symbols of 5), scored as
    wrongly recalled symbols per sequence: chance 5 x 1/2 = 2.5 and 10 x 4/5 = 8, the
    paper's 2.5 and 8.
  temporal order: the released code's ``temporal2`` / ``temporal3``; chance 1 - 1/2^n.

Layout. Sequences of one batch may differ in length. They are *left*-padded to the batch's
longest sequence, so the last step of every sequence is the batch's last step: a batched RNN
runs all sequences in lockstep and a last-step target is ``targets[:, -1]``. ``Batch.valid``
marks the real steps; the model keeps its hidden state at 0 over the padding, so a padded
sequence gives exactly the outputs of the unpadded one. Inputs and raw inputs are 0 there.

Centering (the paper: "needed for multiplication"). Each input channel j has the constant
c_j = E[mean of x_j over the real steps of a sequence] under the generating distribution
subtracted at every real step; regression targets have E[target] subtracted. The constants
are exact, not estimated:
  addition / multiplication / xor: value channel the middle of the value range (0.5: U[0, 1]
    or a fair bit at every step; Hochreiter & Schmidhuber's addition 0: U[-1, 1]);
    marker channel 0 (its four nonzero entries +1, +1, -1, -1 sum to 0 in every sequence);
    targets: addition 1 = E[a + b], multiplication 0.25 = E[a b] (Hochreiter & Schmidhuber's
    addition 0.5 = E[0.5 + (a + b) / 4]); xor targets are classes.
  temporal order / memorization: the expected per-step frequency of each one-hot symbol,
    averaged exactly over the (uniform, finite) distribution of lengths.
Class targets (xor, temporal order, memorization) are integer ids and are not centered.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from functools import partial
from typing import Literal

import numpy as np

OutputKind = Literal["linear", "logistic", "softmax"]
ZeroOneKind = Literal["fraction_wrong", "wrong_per_sequence"]

TRAIN_STREAM = 0  # seed-sequence keys: a training stream and an eval set never share draws
EVAL_STREAM = 1
REGRESSION_TOLERANCE = 0.04  # add / mul: a case is wrong when |prediction - target| > 0.04


@dataclass(frozen=True)
class Batch:
    """One batch of sequences, batch-first and left-padded (see the module docstring).

    inputs, raw_inputs: (batch, length, features) float32; targets, raw_targets: (batch, length),
    float32 for regression tasks, int64 class ids otherwise; mask: (batch, length) bool, the
    steps that carry a target; lengths: (batch,) int64, the real length of each sequence.
    """

    inputs: np.ndarray
    targets: np.ndarray
    mask: np.ndarray
    raw_inputs: np.ndarray
    raw_targets: np.ndarray
    lengths: np.ndarray

    @property
    def batch_size(self) -> int:
        return int(self.inputs.shape[0])

    @property
    def valid(self) -> np.ndarray:
        """(batch, length) bool: the real (non-padding) steps."""
        n_steps = self.inputs.shape[1]
        return np.arange(n_steps)[None, :] >= (n_steps - self.lengths)[:, None]

    def as_arrays(self) -> dict[str, np.ndarray]:
        """The fields as a dict, e.g. for ``np.savez(path, **batch.as_arrays())``."""
        return {
            "inputs": self.inputs,
            "targets": self.targets,
            "mask": self.mask,
            "raw_inputs": self.raw_inputs,
            "raw_targets": self.raw_targets,
            "lengths": self.lengths,
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> Batch:
        """Inverse of ``as_arrays`` (accepts an ``np.load`` result)."""
        return cls(**{name: np.asarray(arrays[name]) for name in cls.__dataclass_fields__})


def _half_open(f: float, lo: float, hi: float, first_allowed: int = 1) -> tuple[int, int]:
    """[int(lo f), int(hi f)) clipped to start at ``first_allowed`` and hold >= 1 position."""
    a = max(first_allowed, int(lo * f))
    return a, max(a + 1, int(hi * f))


def _closed(f: float, lo: float, hi: float, first_allowed: int = 1) -> tuple[int, int]:
    """[int(lo f), int(hi f)] as a half-open pair, clipped like ``_half_open``."""
    a = max(first_allowed, int(lo * f))
    return a, max(a + 1, int(hi * f) + 1)


def _check_args(name: str, T: int, batch_size: int, generator: np.random.Generator) -> None:
    if not isinstance(generator, np.random.Generator):
        raise TypeError(
            f"{name}: generator must be a numpy.random.Generator, got {type(generator).__name__}"
        )
    if int(T) != T or T < 1:
        raise ValueError(f"{name}: T must be a positive integer, got {T}")
    if int(batch_size) != batch_size or batch_size < 1:
        raise ValueError(f"{name}: batch_size must be a positive integer, got {batch_size}")


def _left_pad_layout(lengths: np.ndarray) -> tuple[int, np.ndarray, np.ndarray]:
    """Padded length, per-sequence offset of step 0, and the (batch, length) valid mask."""
    n_steps = int(lengths.max())
    offsets = n_steps - lengths
    valid = np.arange(n_steps)[None, :] >= offsets[:, None]
    return n_steps, offsets, valid


def _operand_task(
    name: str,
    T: int,
    batch_size: int,
    generator: np.random.Generator,
    *,
    length: tuple[float, float],
    first: tuple[float, float],
    second: tuple[float, float],
    binary: bool,
    op: Callable[[np.ndarray, np.ndarray], np.ndarray],
    target_mean: float | None,
    value_range: tuple[float, float] = (0.0, 1.0),
) -> Batch:
    """Addition, multiplication, xor: a value channel and a marker channel.

    Values U[value_range] (or fair bits); marker: 1 at the two operand steps, -1 at step 0
    and at step L-3; target at step L-1.
    """
    _check_args(name, T, batch_size, generator)
    f = T / 100
    len_lo, len_hi = int(length[0] * f), int(length[1] * f)
    len_hi = max(len_hi, len_lo + 1)
    first_range = _half_open(f, *first)
    second_range = _half_open(f, *second, first_allowed=first_range[1])
    if second_range[1] - 1 >= len_lo - 3:
        raise ValueError(
            f"{name}: T={T} is too small: the second operand (steps {second_range}) must come "
            f"before the end marker at step L-3 >= {len_lo - 3}"
        )
    B = batch_size
    lengths = generator.integers(len_lo, len_hi, size=B)
    n_steps, offsets, valid = _left_pad_layout(lengths)
    lo, hi = value_range
    values = lo + (hi - lo) * generator.random((B, n_steps))
    if binary:
        values = (values < 0.5).astype(np.float64)
    pos1 = generator.integers(*first_range, size=B)
    pos2 = generator.integers(*second_range, size=B)

    rows = np.arange(B)
    raw = np.zeros((B, n_steps, 2), dtype=np.float32)
    raw[:, :, 0] = np.where(valid, values, 0.0)
    raw[rows, offsets, 1] = -1.0
    raw[rows, offsets + lengths - 3, 1] = -1.0
    raw[rows, offsets + pos1, 1] = 1.0
    raw[rows, offsets + pos2, 1] = 1.0
    a = raw[rows, offsets + pos1, 0]
    b = raw[rows, offsets + pos2, 0]

    mask = np.zeros((B, n_steps), dtype=bool)
    mask[:, -1] = True
    center = np.float32([0.5 if binary else (lo + hi) / 2, 0.0])
    inputs = np.where(valid[:, :, None], raw - center, np.float32(0.0))
    if target_mean is None:  # classification (xor): class ids
        raw_targets = np.zeros((B, n_steps), dtype=np.int64)
        raw_targets[:, -1] = op(a, b)
        targets = raw_targets.copy()
    else:
        raw_targets = np.zeros((B, n_steps), dtype=np.float32)
        raw_targets[:, -1] = op(a, b)
        targets = np.where(mask, raw_targets - np.float32(target_mean), np.float32(0.0))
    return Batch(
        inputs=inputs.astype(np.float32),
        targets=targets,
        mask=mask,
        raw_inputs=raw,
        raw_targets=raw_targets,
        lengths=lengths.astype(np.int64),
    )


def addition(T: int, batch_size: int, generator: np.random.Generator) -> Batch:
    """Addition as Sutskever's released HF-RNN code defines it: values U[0, 1], the target at
    the last step is a + b, unscaled, for the two marked values a, b (the module docstring
    says why this definition, and not Hochreiter & Schmidhuber's, :func:`addition_hs`).

    Length L in [100f, 110f); operands at [f, 10f) and [10f, 50f).
    Linear output, squared error; wrong when |prediction - target| > 0.04.
    """
    return _operand_task(
        "addition", T, batch_size, generator,
        length=(100, 110), first=(1, 10), second=(10, 50), binary=False,
        op=np.add, target_mean=1.0,
    )  # fmt: skip


def _scaled_sum(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Hochreiter & Schmidhuber's adding target: a + b scaled to [0, 1]."""
    return 0.5 + (a + b) / 4.0


def addition_hs(T: int, batch_size: int, generator: np.random.Generator) -> Batch:
    """Addition as Hochreiter & Schmidhuber (1997, experiment 4) define it: values U[-1, 1],
    the target is 0.5 + (a + b) / 4; the layout of :func:`addition`. Kept to compare Table 5's
    "biases" column under both definitions (``experiment=rnn_biases``)."""
    return _operand_task(
        "addition_hs", T, batch_size, generator,
        length=(100, 110), first=(1, 10), second=(10, 50), binary=False,
        op=_scaled_sum, target_mean=0.5, value_range=(-1.0, 1.0),
    )  # fmt: skip


def multiplication(T: int, batch_size: int, generator: np.random.Generator) -> Batch:
    """Multiplication problem (Hochreiter & Schmidhuber 1997, experiment 5, as in the
    released code): values U[0, 1], the target is the product a b of the marked values."""
    return _operand_task(
        "multiplication", T, batch_size, generator,
        length=(100, 110), first=(1, 10), second=(10, 50), binary=False,
        op=np.multiply, target_mean=0.25,
    )  # fmt: skip


def xor(T: int, batch_size: int, generator: np.random.Generator) -> Batch:
    """XOR problem: binary values, target (class 0/1) the XOR of the two marked bits.

    Length in [50f, 55f); operands at [f, 10f) and [15f, 25f). Logistic output, cross-entropy;
    wrong when the rounded output differs from the target.
    """
    return _operand_task(
        "xor", T, batch_size, generator,
        length=(50, 55), first=(1, 10), second=(15, 25), binary=True,
        op=lambda a, b: np.logical_xor(a > 0.5, b > 0.5).astype(np.int64), target_mean=None,
    )  # fmt: skip


def _one_hot_centering(
    lengths: np.ndarray, counts: Callable[[np.ndarray], np.ndarray]
) -> np.ndarray:
    """c_j = E_L[count_j(L) / L], L uniform over ``lengths``; counts(L) -> (len(L), channels)."""
    L = lengths.astype(np.float64)
    return (counts(lengths) / L[:, None]).mean(axis=0).astype(np.float32)


# Temporal order channels: 4 distractors, X, Y, the end ("predict now") marker, the start marker.
N_DISTRACTORS = 4
CH_X, CH_Y, CH_END, CH_START = 4, 5, 6, 7
TEMPORAL_ORDER_POSITIONS = {
    2: ((1, 10), (40, 50)),
    3: ((1, 10), (30, 40), (50, 60)),
}


def temporal_order(
    T: int, batch_size: int, generator: np.random.Generator, n_symbols: int = 2
) -> Batch:
    """Temporal order problem with ``n_symbols`` (2 or 3) relevant symbols, 2^n classes.

    8 one-hot inputs: distractors a-d (channels 0-3, random at every other step), X (4), Y (5),
    the end marker (6) at the last step and the start marker (7) at step 0. Length in
    [100f, 110f); the relevant symbols (each X or Y, drawn uniformly) sit at [f, 10f] and
    [40f, 50f] (2 symbols) or [f, 10f], [30f, 40f], [50f, 60f] (3 symbols), closed ranges as in
    Sutskever's code. Target at the last step: the class sum_i s_i 2^(n-1-i), s_i = 1 for Y, so
    the first symbol is the most significant bit (XX=0, XY=1, YX=2, YY=3). Softmax output.
    """
    _check_args("temporal_order", T, batch_size, generator)
    if n_symbols not in TEMPORAL_ORDER_POSITIONS:
        raise ValueError(f"temporal_order: n_symbols must be 2 or 3, got {n_symbols}")
    f = T / 100
    len_lo = int(100 * f)
    len_hi = max(int(110 * f), len_lo + 1)
    ranges = []
    first_allowed = 1
    for lo, hi in TEMPORAL_ORDER_POSITIONS[n_symbols]:
        ranges.append(_closed(f, lo, hi, first_allowed))
        first_allowed = ranges[-1][1]
    if ranges[-1][1] - 1 >= len_lo - 1:
        raise ValueError(
            f"temporal_order: T={T} is too small: the last symbol (steps {ranges[-1]}) must come "
            f"before the end marker at step L-1 >= {len_lo - 1}"
        )
    B = batch_size
    lengths = generator.integers(len_lo, len_hi, size=B)
    n_steps, offsets, valid = _left_pad_layout(lengths)
    distractors = generator.integers(0, N_DISTRACTORS, size=(B, n_steps))
    symbols = generator.integers(0, 2, size=(B, n_symbols))  # 0: X, 1: Y
    positions = np.stack([generator.integers(lo, hi, size=B) for lo, hi in ranges], axis=1)

    rows = np.arange(B)
    channel = distractors.copy()
    channel[rows, offsets] = CH_START
    channel[rows, n_steps - 1] = CH_END
    for i in range(n_symbols):
        channel[rows, offsets + positions[:, i]] = CH_X + symbols[:, i]
    raw = np.zeros((B, n_steps, 8), dtype=np.float32)
    raw[np.arange(B)[:, None], np.arange(n_steps)[None, :], channel] = 1.0
    raw[~valid] = 0.0

    def counts(L: np.ndarray) -> np.ndarray:
        c = np.zeros((len(L), 8))
        c[:, :N_DISTRACTORS] = ((L - 2 - n_symbols) / N_DISTRACTORS)[:, None]
        c[:, CH_X] = c[:, CH_Y] = n_symbols / 2
        c[:, CH_END] = c[:, CH_START] = 1
        return c

    center = _one_hot_centering(np.arange(len_lo, len_hi), counts)
    inputs = np.where(valid[:, :, None], raw - center, np.float32(0.0)).astype(np.float32)
    weights = 2 ** np.arange(n_symbols - 1, -1, -1)
    raw_targets = np.zeros((B, n_steps), dtype=np.int64)
    raw_targets[:, -1] = symbols @ weights
    mask = np.zeros((B, n_steps), dtype=bool)
    mask[:, -1] = True
    return Batch(inputs, raw_targets.copy(), mask, raw, raw_targets, lengths.astype(np.int64))


def memorization(
    T: int,
    batch_size: int,
    generator: np.random.Generator,
    n_symbols: int = 5,
    alphabet: int = 2,
) -> Batch:
    """Noiseless memorization: mem-5 is (n_symbols=5, alphabet=2), mem-20 is (10, 5).

    Inputs (alphabet + 2 channels): data symbols 0..alphabet-1, blank (channel ``alphabet``),
    go (channel ``alphabet + 1``); blank and go never collide with a data symbol (the released
    code let them). Steps 0..k-1 show the k symbols, step T-k-1 shows go, every other step
    blank. Targets (alphabet + 1 classes, blank = class ``alphabet``) at every step: blank
    for the first T-k steps, then the k symbols in order. All sequences have length T.
    """
    _check_args("memorization", T, batch_size, generator)
    k, a = n_symbols, alphabet
    if k < 1 or a < 2:
        raise ValueError(
            f"memorization: need n_symbols >= 1 and alphabet >= 2, got {n_symbols}, {alphabet}"
        )
    if T < 2 * k + 1:
        raise ValueError(
            f"memorization: T must be >= 2 n_symbols + 1 = {2 * k + 1} so that go (step T-k-1) "
            f"follows the symbols, got T={T}"
        )
    B = batch_size
    blank, go = a, a + 1
    data = generator.integers(0, a, size=(B, k))
    channel = np.full((B, T), blank, dtype=np.int64)
    channel[:, :k] = data
    channel[:, T - k - 1] = go
    raw = np.zeros((B, T, a + 2), dtype=np.float32)
    raw[np.arange(B)[:, None], np.arange(T)[None, :], channel] = 1.0
    center = np.zeros(a + 2, dtype=np.float32)
    center[:a] = k / (a * T)
    center[blank] = (T - k - 1) / T
    center[go] = 1 / T
    raw_targets = np.full((B, T), blank, dtype=np.int64)
    raw_targets[:, T - k :] = data
    return Batch(
        inputs=(raw - center).astype(np.float32),
        targets=raw_targets.copy(),
        mask=np.ones((B, T), dtype=bool),
        raw_inputs=raw,
        raw_targets=raw_targets,
        lengths=np.full(B, T, dtype=np.int64),
    )


@dataclass(frozen=True)
class RNNTask:
    """A problem as a value: generator, output layer, loss, zero-one rule, Table 4 input scale.

    ``zero_one``: "fraction_wrong" (wrong target steps / target steps: add, mul, xor, temporal
    order) or "wrong_per_sequence" (wrong target steps per sequence: memorization, where a
    trained network predicts the blanks, so this counts wrongly recalled symbols).
    ``input_scale``: std of the input-to-hidden weights (Table 4: 0.001 add/mul, 0.1 mem;
    xor and temporal order are not in the paper: xor follows add/mul, temporal order mem).
    """

    name: str
    generate: Callable[..., Batch] = field(repr=False)
    output: OutputKind
    n_inputs: int
    n_outputs: int
    zero_one: ZeroOneKind
    input_scale: float
    tolerance: float | None = None

    @property
    def loss(self) -> str:
        return "squared_error" if self.output == "linear" else "cross_entropy"

    def __call__(self, T: int, batch_size: int, generator: np.random.Generator) -> Batch:
        return self.generate(T, batch_size, generator)


MEMORIZATION = {"mem5": (5, 2), "mem20": (10, 5)}  # (symbols to recall, alphabet)

TASKS: dict[str, RNNTask] = {
    "addition": RNNTask(
        "addition", addition, "linear", 2, 1, "fraction_wrong", 0.001, REGRESSION_TOLERANCE
    ),
    "addition_hs": RNNTask(
        "addition_hs", addition_hs, "linear", 2, 1, "fraction_wrong", 0.001, REGRESSION_TOLERANCE
    ),
    "multiplication": RNNTask(
        "multiplication", multiplication, "linear", 2, 1, "fraction_wrong", 0.001,
        REGRESSION_TOLERANCE,
    ),
    "xor": RNNTask("xor", xor, "logistic", 2, 1, "fraction_wrong", 0.001),
    "mem5": RNNTask(
        "mem5", partial(memorization, n_symbols=5, alphabet=2), "softmax", 4, 3,
        "wrong_per_sequence", 0.1,
    ),
    "mem20": RNNTask(
        "mem20", partial(memorization, n_symbols=10, alphabet=5), "softmax", 7, 6,
        "wrong_per_sequence", 0.1,
    ),
    "temporal_order2": RNNTask(
        "temporal_order2", partial(temporal_order, n_symbols=2), "softmax", 8, 4,
        "fraction_wrong", 0.1,
    ),
    "temporal_order3": RNNTask(
        "temporal_order3", partial(temporal_order, n_symbols=3), "softmax", 8, 8,
        "fraction_wrong", 0.1,
    ),
}  # fmt: skip


def _mean_predictor_wrong_hs_addition(tolerance: float) -> float:
    """P(|(a + b) / 4| > tol), a, b ~ U[-1, 1]: a + b has the triangular density
    (2 - |s|) / 4 on [-2, 2], so P(|a + b| <= u) = u - u^2 / 4 for u = 4 tol <= 2."""
    u = 4.0 * tolerance
    return 1.0 - (u - u * u / 4.0)


def _mean_predictor_wrong_addition(tolerance: float) -> float:
    """P(|a + b - 1| > tol), a, b ~ U[0, 1]: a + b has the triangular density 1 - |s - 1| on
    [0, 2], so P(|a + b - 1| <= u) = 2u - u^2."""
    return 1.0 - (2 * tolerance - tolerance * tolerance)


def _mean_predictor_wrong_multiplication(tolerance: float) -> float:
    """P(|a b - 1/4| > tol), a, b ~ U[0, 1]: a b has the density -ln p on (0, 1], whose
    integral is p - p ln p."""

    def cdf(p: float) -> float:
        return p - p * math.log(p)

    return 1.0 - (cdf(0.25 + tolerance) - cdf(0.25 - tolerance))


def chance_level(task: str | RNNTask) -> float:
    """The zero-one loss of the output-biases-only predictor (Table 5's "biases" column),
    exactly: a bias trained on squared error or cross-entropy predicts the mean target or
    the class frequencies, so a regression task scores P(|target - mean| > tolerance) and a
    class task 1 - (frequency of its most frequent class); memorization counts the k
    recalled symbols, each wrong with probability 1 - 1/alphabet. Independent of T."""
    spec = get_task(task)
    if spec.name == "addition":
        return _mean_predictor_wrong_addition(REGRESSION_TOLERANCE)
    if spec.name == "addition_hs":
        return _mean_predictor_wrong_hs_addition(REGRESSION_TOLERANCE)
    if spec.name == "multiplication":
        return _mean_predictor_wrong_multiplication(REGRESSION_TOLERANCE)
    if spec.name == "xor":
        return 0.5
    if spec.name in MEMORIZATION:
        k, alphabet = MEMORIZATION[spec.name]
        return k * (1.0 - 1.0 / alphabet)
    if spec.name.startswith("temporal_order"):
        return 1.0 - 1.0 / spec.n_outputs
    raise ValueError(f"chance_level: no chance level for task {spec.name!r}")


def get_task(task: str | RNNTask) -> RNNTask:
    """The registered task of that name (an ``RNNTask`` is returned as is)."""
    if isinstance(task, RNNTask):
        return task
    try:
        return TASKS[task]
    except KeyError:
        raise ValueError(f"unknown RNN task {task!r}; known: {sorted(TASKS)}") from None


def make_eval_set(task: str | RNNTask, T: int, n: int, seed: int) -> Batch:
    """A fixed evaluation set of ``n`` sequences, a function of (task, T, n, seed) only.

    Drawn from the seed's evaluation stream, never from its training stream.
    """
    generator = np.random.default_rng([EVAL_STREAM, seed])
    return get_task(task)(T, n, generator)


def training_generator(seed: int) -> np.random.Generator:
    """The seed's training stream (disjoint from its evaluation stream)."""
    return np.random.default_rng([TRAIN_STREAM, seed])


def training_stream(task: str | RNNTask, T: int, batch_size: int, seed: int) -> Iterator[Batch]:
    """Endless fresh training batches (a new batch for every update), seeded."""
    spec = get_task(task)
    generator = training_generator(seed)
    while True:
        yield spec(T, batch_size, generator)
