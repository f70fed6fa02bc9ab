"""Shampoo: a Kronecker-factored preconditioner per dimension of a tensor."""

import itertools
import math

import keras
from keras import ops

from keras_optlab.optimizers import spec
from keras_optlab.optimizers.base import KroneckerFactored
from keras_optlab.optimizers.base import branch
from keras_optlab.optimizers.base import factor_dtype
from keras_optlab.optimizers.base import maximum
from keras_optlab.optimizers.base import mode_products
from keras_optlab.optimizers.base import scalar
from keras_optlab.optimizers.base import symmetric_eigh
from keras_optlab.optimizers.base import unfolded_gram
from keras_optlab.optimizers.base import variable_name
from keras_optlab.optimizers.registry import register

GRAFTINGS = ("adam", "adagrad", "sgd")


@register(
    "shampoo",
    description="Shampoo: per dimension of each (block of a) tensor an "
    "EMA or sum of G G^T, preconditioned by its inverse 2k-th root "
    "(eigh, every precondition_frequency steps), the step grafted to the "
    "norm of Adam's/Adagrad's/SGD's per block; diagonal for 1-D.",
    reference="Gupta, Koren and Singer, 2018, Shampoo: Preconditioned "
    "Stochastic Tensor Optimization; Anil et al., 2020; Shi et al., 2023",
    family="adaptive",
)
class Shampoo(KroneckerFactored):
    """Shampoo (Gupta, Koren and Singer 2018, Algorithm 2 for tensors) with
    the practical parts of Distributed Shampoo (Anil et al. 2020; Shi et al.
    2023).

    For a variable of order k >= 2 (a matrix k = 2, a convolution kernel
    k = 4), each dimension i whose size exceeds `block_size` is cut into
    blocks of `block_size` (the last one shorter); every block B of the
    grid has its own factors F_1..F_k (F_i of size n_i x n_i, zeros) and
    inverse roots H_1..H_k (identity). t = 1, 2, ...; s = the first
    preconditioned step (`start_preconditioning_step`, default
    `precondition_frequency`); G_(i) is the mode-i unfolding of G.

    ```
    input: lr, beta_1, beta_2 in [0, 1], epsilon, frequency f, start s,
           grafting (adam | adagrad | sgd | None), grafting_beta_2 b_g,
           grafting_epsilon e_g
    for t = 1, 2, ...
        G = grad f(theta_{t-1})
        M = beta_1 M + (1 - beta_1) G;  M_hat = M / (1 - beta_1^t)
                                             (beta_1 = 0: M_hat = G)
        grafting direction D:
            adam:    A = b_g A + (1 - b_g) G^2
                     D = M_hat / (sqrt(A / (1 - b_g^t)) + e_g)
            adagrad: A = A + G^2;  D = M_hat / (sqrt(A) + e_g)
            sgd:     D = M_hat
        order k <= 1 (vectors, scalars): the diagonal fallback
            grafting given: U = D
            None:  V = beta_2 V + (1 - beta_2) G^2  (beta_2 = 1: V = V + G^2)
                   U = M_hat / sqrt(V / c_t + epsilon)
        order k >= 2, for each block B (G_B, M_hat_B, D_B its parts):
            F_i = beta_2 F_i + (1 - beta_2) G_B(i) G_B(i)^T   (i = 1..k)
                                        (beta_2 = 1: F_i = F_i + G_B(i) G_B(i)^T)
            if t >= s and (t - s) mod f == 0:
                Q diag(lambda) Q^T = eigh(F_i / c_t)
                H_i = Q diag((max(lambda, 0) + epsilon)^(-1/(2k))) Q^T
                (kept, and counted in `preconditioner_failures`, where
                 F_i or the new H_i is not finite)
            if t < s:  U_B = D_B                 (None: U_B = M_hat_B)
            else:      P_B = M_hat_B x_1 H_1 x_2 H_2 ... x_k H_k
                       U_B = P_B * ||D_B|| / ||P_B||   (0 where P_B = 0)
                                                 (None: U_B = P_B)
        theta_t = theta_{t-1} - lr U
    c_t = 1 - beta_2^t (bias correction; 1 for beta_2 = 1)
    ```

    x_i is the mode-i product (for a matrix, P = H_1 M_hat H_2 =
    L^(-1/4) M_hat R^(-1/4), the paper's update). With beta_2 = 1 and
    beta_1 = 0, epsilon I is the paper's L_0 = R_0 = epsilon I, and with
    frequency 1, start 1 and grafting None this is the paper's algorithm
    exactly. Factors accumulate the raw gradient G; momentum (beta_1) is
    the "filtered gradient" of Shi et al. that the preconditioner and the
    grafting direction are applied to (with grafting="adam", a vector
    follows Adam with epsilon outside the bias-corrected root).

    Momentum: beta_1 = 0.9 by default (the paper has none: beta_1 = 0).
    Failures: each variable of order >= 2 has an int32 state variable
    `<name>_preconditioner_failures`; `preconditioner_failures` sums them.
    A failed root is never used: the previous one (the identity before the
    first success) stays, so an overflowed or NaN factor does not put a NaN
    in the weights (tests/test_shampoo.py). A NaN gradient still reaches
    them under `on_nonfinite="apply"`, as in every optimizer here; use
    "skip" to leave such steps out. State: per parameter, beta_1's M and
    the grafting accumulator A (two floats), plus per block sum_i 2 n_i^2
    for the factors and roots. Sparse gradients are densified.

    Recomputing the roots inside a compiled step: one branch per variable
    on the step counter (`branch`, keras_optlab/engine/xla.py), so the
    eigendecompositions run only on the steps that recompute (TF:
    `tf.cond`, JAX: `lax.cond` in a trace, a Python branch eagerly; torch: a
    Python branch). A where-select would compute them at
    every step and cost f times more eigendecompositions. The factors are
    symmetrised, (F + F^T) / 2, before `keras.ops.eigh`, and kept in
    float32 at least (float64 for float64 variables); a non-finite factor
    is replaced by the identity before `eigh` (torch's eigh raises on NaN)
    and its old root kept.

    Speed on TensorFlow CPU: XLA's `eigh` took 74-83 times the graph's
    (benchmarks/RESULTS.md), so the default `fused="auto"` runs this
    update uncompiled; `fused=True`, or a model compiled with
    `jit_compile=True`, pays that at every recomputation. JAX's `jit`
    hands `eigh` to LAPACK instead: there a 10-step period of one
    1000 x 500 variable took 266 ms, against 733 ms on TensorFlow's
    default path.

    Deliberate differences from the reference implementations:

    - facebookresearch/optimizers `DistributedShampoo` (Shi et al.): the
      same algorithm with `betas=(beta_1, beta_2)`, `epsilon`,
      `max_preconditioner_dim=block_size`, `precondition_frequency`,
      `start_preconditioning_step`, `grafting_config` and bias correction
      of the factors (`use_bias_correction=True`); here epsilon is added to
      the eigenvalues after clamping them at 0 (theirs: added to the
      factor before eigh, then shifted to be positive semi-definite), no
      `momentum`/`use_nesterov` on top of beta_1 (theirs: 0 by default), no
      decoupled/coupled weight-decay switch (Keras' `weight_decay` is
      decoupled), no `inv_root_override`, no QR or Newton roots, no merging
      of small dimensions, and their default epsilon 1e-12 is 1e-6 here
      (float32 eigh). Their grafting epsilon and beta_2 are separate
      arguments, as here. Their 1-D variables are preconditioned by one
      dense factor; here they take the diagonal fallback.
    - google-research scalable_shampoo (optax, Anil et al.): theirs adds
      epsilon relative to the largest eigenvalue, computes roots by coupled
      Newton iterations, merges small dimensions, uses "layer-wise"
      grafting and a momentum on the grafted step; block splitting,
      grafting per block and the skip-on-failure are the same ideas.
    - pytorch_optimizer `Shampoo` (the paper's basic algorithm, roots every
      step by SVD) equals grafting=None, beta_1=0, beta_2=1,
      precondition_frequency=1, start_preconditioning_step=1 here up to
      where epsilon goes (theirs: L_0 = epsilon I, as here).

    Args:
        learning_rate: a non-negative float, a `LearningRateSchedule`, or a
            callable with no arguments. Defaults to 0.001 (Adam grafting).
        beta_1: decay of the gradient EMA that is preconditioned, in
            [0, 1); 0 for none. Defaults to 0.9.
        beta_2: decay of the factors, in [0, 1]; 1 sums them (the paper).
            Defaults to 1.0.
        epsilon: > 0, added to the factors' eigenvalues. Defaults to 1e-6.
        precondition_frequency: recompute the roots every this many steps.
            Defaults to 10.
        start_preconditioning_step: the first preconditioned step (before
            it, the grafting direction), >= 1, or None for
            `precondition_frequency`. Defaults to None.
        block_size: the largest preconditioned dimension; larger ones are
            cut into blocks of this size. Defaults to 1024.
        grafting: "adam", "adagrad", "sgd" or None. Defaults to "adam".
        grafting_beta_2: the second-moment decay of Adam grafting, in
            [0, 1). Defaults to 0.999.
        grafting_epsilon: > 0, Adam/Adagrad grafting's epsilon. Defaults
            to 1e-8.
        name: the optimizer's name.
        **kwargs: the options of `keras.optimizers.Optimizer`.

    Example:
    >>> model.compile(optimizer=Shampoo(1e-3, precondition_frequency=20),
    ...               loss="mse")

    References:
        V. Gupta, T. Koren and Y. Singer, "Shampoo: Preconditioned
        Stochastic Tensor Optimization", ICML 2018, arXiv:1802.09568.
        R. Anil, V. Gupta, T. Koren, K. Regan and Y. Singer, "Scalable
        Second Order Optimization for Deep Learning", arXiv:2002.09018.
        H.-J. M. Shi, T.-H. Lee, S. Iwasaki, J. Gallego-Posada, Z. Li,
        K. Rangadurai, D. Mudigere and M. Rabbat, "A Distributed
        Data-Parallel PyTorch Implementation of the Distributed Shampoo
        Optimizer for Training Neural Networks At-Scale",
        arXiv:2309.06497, 2023.
    """

    hyperparameters = (
        spec.ADAPTIVE_LEARNING_RATE,
        spec.beta("beta_1", 0.9, "decay of the preconditioned gradient "
                  "EMA (0: none)", paper_default=0.0),
        spec.Hyperparameter("beta_2", "float", 1.0, 0.0, 1.0, "[]",
                            search=spec.Choices((0.99, 0.999, 1.0)),
                            doc="decay of the Kronecker factors (1: sums)"),
        spec.epsilon(1e-6, doc="added to the factors' eigenvalues",
                     search=spec.FloatRange(1e-12, 1e-2, "log")),
        spec.Hyperparameter("precondition_frequency", "int", 10, low=1,
                            paper_default=1,
                            doc="steps between root recomputations"),
        spec.Hyperparameter("start_preconditioning_step", "int", None,
                            low=1, optional=True, paper_default=1,
                            doc="first preconditioned step (None: "
                            "precondition_frequency)"),
        spec.Hyperparameter("block_size", "int", 1024, low=1,
                            doc="largest preconditioned dimension"),
        spec.Hyperparameter("grafting", "choice", "adam", choices=GRAFTINGS,
                            optional=True, paper_default=None,
                            doc="whose update norm each block takes (None: "
                            "no grafting)"),
        spec.beta("grafting_beta_2", 0.999, "Adam grafting's decay"),
        spec.Hyperparameter("grafting_epsilon", "float", 1e-8, 0.0, None,
                            "()", doc="Adam/Adagrad grafting's epsilon"),
    )

    def __init__(
        self,
        learning_rate=0.001,
        beta_1=0.9,
        beta_2=1.0,
        epsilon=1e-6,
        precondition_frequency=10,
        start_preconditioning_step=None,
        block_size=1024,
        grafting="adam",
        grafting_beta_2=0.999,
        grafting_epsilon=1e-8,
        name=None,
        **kwargs,
    ):
        super().__init__(
            learning_rate=learning_rate, name=name, arguments=locals(),
            **kwargs
        )

    @property
    def first_preconditioned_step(self):
        if self.start_preconditioning_step is None:
            return self.precondition_frequency
        return self.start_preconditioning_step

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._momentums = [None] * len(var_list)
        self._accumulators = [None] * len(var_list)
        self._blocks = [None] * len(var_list)
        self._failures = [None] * len(var_list)
        for index, variable in enumerate(var_list):
            # The same variables in the same order on every build.
            diagonal = len(variable.shape) <= 1
            if self.beta_1 > 0.0:
                self._momentums[index] = self.add_variable_from_reference(
                    variable, "momentum")
            if self.grafting in ("adam", "adagrad") or (
                    diagonal and self.grafting is None):
                self._accumulators[index] = self.add_variable_from_reference(
                    variable, "accumulator")
            if diagonal:
                continue
            self._blocks[index] = self._build_blocks(variable)
            self._failures[index] = self.add_failure_counter(variable)

    def _build_blocks(self, variable):
        shape = tuple(int(n) for n in variable.shape)
        dtype = factor_dtype(variable.dtype)
        splits = [_splits(n, self.block_size) for n in shape]
        blocks = []
        base = variable_name(variable)
        for number, ranges in enumerate(itertools.product(*splits)):
            factors, roots = [], []
            for axis, (begin, end) in enumerate(ranges):
                size = end - begin
                factors.append(self.add_variable(
                    shape=(size, size), initializer="zeros", dtype=dtype,
                    name=f"{base}_block{number}_factor{axis}"))
                roots.append(self.add_variable(
                    shape=(size, size),
                    initializer=keras.initializers.Identity(), dtype=dtype,
                    name=f"{base}_block{number}_root{axis}"))
            blocks.append((ranges, factors, roots))
        return (tuple(len(s) for s in splits), blocks)

    def update_step(self, gradient, variable, learning_rate):
        dtype = variable.dtype
        lr = ops.cast(learning_rate, dtype)
        gradient = ops.convert_to_tensor(ops.cast(gradient, dtype))
        index = self._get_variable_index(variable)

        m_hat = gradient
        if self.beta_1 > 0.0:
            m = self._momentums[index]
            self.assign_moving_average(m, gradient, self.beta_1)
            m_hat = ops.divide(m, self.bias_correction(self.beta_1, dtype))
        direction = self._grafting_direction(index, gradient, m_hat, dtype)

        if self._blocks[index] is None:
            if self.grafting is None:
                update = self._diagonal(index, gradient, m_hat, dtype)
            else:
                update = direction
        else:
            update = self._preconditioned(index, gradient, m_hat, direction,
                                          dtype)
        self.assign_sub(variable, ops.multiply(update, lr))

    def _grafting_direction(self, index, gradient, m_hat, dtype):
        """D: the grafting method's step direction (None without one)."""
        if self.grafting is None:
            return None
        if self.grafting == "sgd":
            return m_hat
        a = self._accumulators[index]
        eps = scalar(self.grafting_epsilon, dtype)
        if self.grafting == "adagrad":
            self.assign_add(a, ops.square(gradient))
            return ops.divide(m_hat, ops.add(ops.sqrt(a), eps))
        self._ema(a, ops.square(gradient), self.grafting_beta_2)
        a_hat = ops.divide(a, self.bias_correction(self.grafting_beta_2,
                                                   dtype))
        return ops.divide(m_hat, ops.add(ops.sqrt(a_hat), eps))

    def _accumulate(self, average, value):
        if self.beta_2 == 1.0:
            self.assign_add(average, value)
        else:
            self._ema(average, value, self.beta_2)

    def _factor_correction(self, dtype):
        if self.beta_2 == 1.0:
            return scalar(1.0, dtype)
        return self.bias_correction(self.beta_2, dtype)

    def _diagonal(self, index, gradient, m_hat, dtype):
        """Order <= 1 without grafting: Shampoo with a diagonal factor."""
        v = self._accumulators[index]
        self._accumulate(v, ops.square(gradient))
        v_hat = ops.divide(v, self._factor_correction(dtype))
        return ops.divide(
            m_hat, ops.sqrt(ops.add(v_hat, scalar(self.epsilon, dtype))))

    def _preconditioned(self, index, gradient, m_hat, direction, dtype):
        counts, blocks = self._blocks[index]
        order = len(counts)
        factor_dtype = blocks[0][1][0].dtype
        g = ops.cast(gradient, factor_dtype)
        for ranges, factors, _ in blocks:
            g_block = _block(g, ranges)
            for axis, factor in enumerate(factors):
                self._accumulate(factor, unfolded_gram(g_block, axis))

        t = self.iterations + 1
        start = self.first_preconditioned_step
        recompute = ops.logical_and(
            ops.greater_equal(t, start),
            ops.equal(ops.mod(t - start, self.precondition_frequency), 0))
        old_roots = [ops.convert_to_tensor(root)
                     for _, _, roots in blocks for root in roots]
        factors = [ops.convert_to_tensor(factor)
                   for _, factors, _ in blocks for factor in factors]
        correction = self._factor_correction(factor_dtype)

        def new_roots():
            roots, failed = [], ops.zeros((), "int32")
            for factor, old in zip(factors, old_roots):
                root, ok = _inverse_root(
                    ops.divide(factor, correction), old,
                    scalar(self.epsilon, factor_dtype), 2 * order)
                roots.append(root)
                failed = failed + ops.cast(ops.logical_not(ok), "int32")
            return roots, failed

        def kept():
            return old_roots, ops.zeros((), "int32")

        roots, failed = branch(recompute, new_roots, kept)
        for variable_root, root in zip(
                (r for _, _, rs in blocks for r in rs), roots):
            self.assign(variable_root, root)
        self.assign_add(self._failures[index], failed)

        preconditioning = ops.greater_equal(t, start)
        pieces = []
        position = 0
        for ranges, _, block_roots in blocks:
            m_block = _block(m_hat, ranges)
            p = mode_products(ops.cast(m_block, factor_dtype),
                              roots[position:position + order])
            position += order
            p = ops.cast(p, dtype)
            if direction is None:
                before = m_block
                after = p
            else:
                d_block = _block(direction, ranges)
                before = d_block
                after = _grafted(p, d_block, dtype)
            pieces.append(ops.where(preconditioning, after, before))
        return _assemble(pieces, counts)


def _splits(size, block_size):
    """[(begin, end), ...] cutting range(size) into blocks of block_size."""
    return [(begin, min(begin + block_size, size))
            for begin in range(0, size, block_size)] or [(0, 0)]


def _block(x, ranges):
    if all(begin == 0 and end == n
           for (begin, end), n in zip(ranges, x.shape)):
        return x
    return ops.slice(x, [begin for begin, _ in ranges],
                     [end - begin for begin, end in ranges])


def _inverse_root(factor, old, epsilon, p):
    """((F + F^T)/2 + eps I)^(-1/p) by eigh, the eigenvalues clamped at 0
    before eps is added; `old` where F or the result is not finite. Returns
    (root, ok)."""
    eigenvalues, eigenvectors, finite = symmetric_eigh(factor)
    powers = ops.power(
        ops.add(maximum(eigenvalues, ops.zeros_like(eigenvalues)), epsilon),
        scalar(-1.0 / p, factor.dtype))
    root = ops.einsum("ij,kj->ik",
                      ops.multiply(eigenvectors, powers[None, :]),
                      eigenvectors)
    ok = ops.logical_and(finite, ops.all(ops.isfinite(root)))
    return ops.where(ok, root, old), ok


def _grafted(p, d, dtype):
    """p rescaled to the norm of d (0 where p is 0)."""
    p_norm = ops.sqrt(ops.sum(ops.square(p)))
    d_norm = ops.sqrt(ops.sum(ops.square(d)))
    positive = ops.greater(p_norm, scalar(0.0, dtype))
    ratio = ops.where(positive, ops.divide(
        d_norm, ops.where(positive, p_norm, ops.ones_like(p_norm))),
        ops.zeros_like(p_norm))
    return ops.multiply(p, ratio)


def _assemble(pieces, counts, axis=0):
    """The blocks (in itertools.product order) concatenated back."""
    if len(pieces) == 1:
        return pieces[0]
    stride = math.prod(counts[axis + 1:])
    parts = [_assemble(pieces[i * stride:(i + 1) * stride], counts, axis + 1)
             for i in range(counts[axis])]
    return parts[0] if len(parts) == 1 else ops.concatenate(parts, axis=axis)
