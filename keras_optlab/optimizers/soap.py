"""SOAP: Adam run in the eigenbasis of Shampoo's preconditioner."""

import keras
from keras import ops

from keras_optlab.optimizers import spec
from keras_optlab.optimizers.base import KroneckerFactored
from keras_optlab.optimizers.base import branch
from keras_optlab.optimizers.base import factor_dtype
from keras_optlab.optimizers.base import matmul
from keras_optlab.optimizers.base import mode_products
from keras_optlab.optimizers.base import scalar
from keras_optlab.optimizers.base import symmetric_eigh
from keras_optlab.optimizers.base import unfolded_gram
from keras_optlab.optimizers.base import variable_name
from keras_optlab.optimizers.registry import register


@register(
    "soap",
    description="SOAP: Adam in the eigenbasis of Shampoo's Kronecker "
    "factors (one per dimension up to max_precondition_dim, EMAs of "
    "G G^T), the basis refreshed every precondition_frequency steps (eigh "
    "first, then a power iteration and QR); Adam for 1-D.",
    reference="Vyas et al., 2024, SOAP: Improving and Stabilizing Shampoo "
    "using Adam",
    family="adaptive",
)
class SOAP(KroneckerFactored):
    """SOAP (Vyas, Morwani, Zhao, Kwun, Shapira, Brandfonbrener, Janson and
    Kakade 2024, Algorithm 1 for an m x n layer, generalised to tensors as
    in the authors' code).

    For a variable of order k >= 1, each dimension i of size n_i <=
    `max_precondition_dim` has a factor F_i (n_i x n_i, zeros) and an
    eigenbasis Q_i (identity); a larger dimension, and every dimension of
    a vector or scalar, has none (Q_i = I: Adam along it). G_(i) is the
    mode-i unfolding of G; x_i is the mode-i product, so for a matrix
    X x_1 Q_L^T x_2 Q_R^T = Q_L^T X Q_R, the paper's rotation.

    ```
    input: lr, beta_1, beta_2 in [0, 1), epsilon, frequency f,
           shampoo_beta b_s (None: beta_2);  M = V = 0, F_i = 0, Q_i = I
    for t = 1, 2, ...
        G  = grad f(theta_{t-1})
        G' = G x_1 Q_1^T ... x_k Q_k^T             (into the eigenbasis)
        M  = beta_1 M + (1 - beta_1) G              (the original basis)
        M' = M x_1 Q_1^T ... x_k Q_k^T
        V  = beta_2 V + (1 - beta_2) G' * G'        (the eigenbasis)
        N' = M' / (sqrt(V) + epsilon)
        N  = N' x_1 Q_1 ... x_k Q_k                 (back)
        theta_t = theta_{t-1} - lr sqrt(1 - beta_2^t) / (1 - beta_1^t) N
        F_i = b_s F_i + (1 - b_s) G_(i) G_(i)^T     (every dimension with one)
        if t == f:          Q_i = eigenvectors of F_i by eigh, in order of
                            decreasing eigenvalue
        elif t mod f == 0:  d = diag(Q_i^T F_i Q_i);  o = argsort(-d)
                            Q_i = QR(F_i Q_i[:, o]);  V = V with its axis i
                            taken in the order o
        (a decomposition that is not finite, or of a factor that is not,
         keeps the previous Q_i and V and is counted in
         `preconditioner_failures`)
    ```

    The update is Adam's, with epsilon where Keras' `Adam` puts it (outside
    the root, before the bias correction is folded into the step), in the
    rotated coordinates; with every dimension above `max_precondition_dim`
    (or a vector) SOAP is Keras' `Adam`. The first moment lives in the
    variable's own coordinates and is rotated each step (the paper's M and
    M'); V is never rotated, only permuted to follow its eigenvectors (the
    sort above, from the authors' code) and carried over unchanged when
    the basis moves.

    Deliberate differences from the paper's Algorithm 1 and the authors'
    code (github.com/nikhilvyas/SOAP, soap.py; pytorch_optimizer's `SOAP`
    follows it, except that its step count includes the skipped first
    step, so its bias correction uses t + 1 and its refreshes come at
    calls f, 2f, ... where theirs come at f + 1, 2f + 1, ...):

    - First steps: the authors' code spends the first gradient on the
      factors and an eigh of them, and leaves the parameters unchanged at
      that step; Adam's step counter starts at the second gradient. Here
      every step moves the parameters: the basis starts at the identity
      (steps 1..f are Adam's), the first eigh is the scheduled one at
      t = f, and t counts from the first step. An eigh after one gradient
      decomposes a factor of rank min(n_i, size / n_i), whose null space
      gets an arbitrary basis from the LAPACK in use; at t = f >= 2 the
      factors of ordinary layers have full rank. So the basis is refreshed
      at t = f, 2f, ... (theirs one gradient later), and V holds the
      first f steps' statistics in the identity basis when the eigenbasis
      takes over (theirs starts in the eigenbasis).
    - Refreshes after the first: one power iteration and QR, with the sort
      and V's permutation, as in their code (the paper's Algorithm 4 is the
      power iteration and QR); a failed first eigh is followed by power
      iterations from the identity. Their eigh falls back to float64 and
      raises where that fails too; here a failure keeps the previous basis
      and is counted (never a NaN from the basis in the weights).
    - Epsilon and bias correction: as theirs with `correct_bias=True` (no
      `correct_bias` or `normalize_grads` switch here). A later revision
      of their soap.py (commit 01df676) folds the bias correction into
      the EMA weights and takes max(sqrt(V), epsilon); this is the form of
      their release of 2024 (commit a1e5535).
    - Weight decay: Keras' decoupled decay, lr * weight_decay * theta
      subtracted before the step (theirs: after it, default 0.01; here
      None).
    - Not here: `merge_dims` (small dimensions merged before factoring),
      `precondition_1d` (a dense factor for vectors), `data_format`.
    - Factors, bases and the rotations are float32 at least (float64 for
      float64 variables), as their promotion of half precision to float32.

    State: per parameter M and V (two floats, in the variable's dtype),
    per preconditioned dimension 2 n_i^2 (F_i and Q_i), and an int32
    failure counter per variable with a factor. Recomputing: one branch
    per variable on the step counter (`branch`, keras_optlab/engine/xla.py),
    so eigh and QR run only on the refreshing steps, also in a compiled
    step. Sparse gradients are densified. On TensorFlow CPU the default
    `fused="auto"` runs this update uncompiled: compiled by XLA, its
    first step took 53 s against 1.2 s for one 1000 x 500 variable
    (benchmarks/RESULTS.md). On JAX, whose `jit` hands `eigh` to LAPACK,
    a 10-step period of that variable took 384 ms against 776 ms on
    TensorFlow's default path.

    Args:
        learning_rate: a non-negative float, a `LearningRateSchedule`, or a
            callable with no arguments. Defaults to 0.003.
        beta_1: decay of the first moment, in [0, 1). Defaults to 0.95.
        beta_2: decay of the second moment in the eigenbasis, in [0, 1).
            Defaults to 0.95.
        epsilon: > 0, added to sqrt(V). Defaults to 1e-8.
        precondition_frequency: refresh the eigenbases every this many
            steps (the first at this step). Defaults to 10.
        max_precondition_dim: the largest dimension given a factor;
            larger ones keep the identity basis. Defaults to 10000.
        shampoo_beta: decay of the factors, in [0, 1), or None for
            `beta_2` (the paper's choice). Defaults to None.
        weight_decay: Keras' decoupled weight decay, >= 0, or None.
        name: the optimizer's name.
        **kwargs: the options of `keras.optimizers.Optimizer`.

    Example:
    >>> model.compile(optimizer=SOAP(3e-3, precondition_frequency=10),
    ...               loss="mse")

    References:
        N. Vyas, D. Morwani, R. Zhao, M. Kwun, I. Shapira, D.
        Brandfonbrener, L. Janson and S. Kakade, "SOAP: Improving and
        Stabilizing Shampoo using Adam", ICLR 2025, arXiv:2409.11321.
    """

    hyperparameters = (
        spec.learning_rate(0.003, spec.FloatRange(1e-5, 1e-2, "log")),
        spec.beta("beta_1", 0.95, "decay of the first moment"),
        spec.beta("beta_2", 0.95, "decay of the second moment (in the "
                  "eigenbasis)", search=spec.Choices((0.95, 0.99, 0.999))),
        spec.epsilon(1e-8, doc="added to sqrt(v) (the step folds the bias "
                     "correction)", search=spec.EPSILON_SEARCH),
        spec.Hyperparameter("precondition_frequency", "int", 10, low=1,
                            doc="steps between eigenbasis refreshes"),
        spec.Hyperparameter("max_precondition_dim", "int", 10000, low=1,
                            doc="largest dimension given a factor (larger: "
                            "identity basis)"),
        spec.Hyperparameter("shampoo_beta", "float", None, 0.0, 1.0, "[)",
                            optional=True,
                            doc="decay of the factors (None: beta_2)"),
        spec.weight_decay("decoupled: lr * wd * theta subtracted before the "
                          "step", search=spec.WEIGHT_DECAY_SEARCH),
    )

    def __init__(
        self,
        learning_rate=0.003,
        beta_1=0.95,
        beta_2=0.95,
        epsilon=1e-8,
        precondition_frequency=10,
        max_precondition_dim=10000,
        shampoo_beta=None,
        weight_decay=None,
        name=None,
        **kwargs,
    ):
        super().__init__(
            learning_rate=learning_rate, weight_decay=weight_decay,
            name=name, arguments=locals(), **kwargs
        )

    @property
    def factor_beta(self):
        return self.beta_2 if self.shampoo_beta is None else self.shampoo_beta

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        self._momentums = [None] * len(var_list)
        self._velocities = [None] * len(var_list)
        self._factors = [None] * len(var_list)
        self._bases = [None] * len(var_list)
        self._failures = [None] * len(var_list)
        for index, variable in enumerate(var_list):
            # The same variables in the same order on every build.
            self._momentums[index] = self.add_variable_from_reference(
                variable, "momentum")
            self._velocities[index] = self.add_variable_from_reference(
                variable, "velocity")
            sizes = [int(n) for n in variable.shape]
            if len(sizes) < 2 or all(n > self.max_precondition_dim
                                     for n in sizes):
                continue
            dtype = factor_dtype(variable.dtype)
            base = variable_name(variable)
            factors, bases = [], []
            for axis, n in enumerate(sizes):
                if n > self.max_precondition_dim:
                    factors.append(None)
                    bases.append(None)
                    continue
                factors.append(self.add_variable(
                    shape=(n, n), initializer="zeros", dtype=dtype,
                    name=f"{base}_factor{axis}"))
                bases.append(self.add_variable(
                    shape=(n, n),
                    initializer=keras.initializers.Identity(), dtype=dtype,
                    name=f"{base}_basis{axis}"))
            self._factors[index] = factors
            self._bases[index] = bases
            self._failures[index] = self.add_failure_counter(variable)

    def update_step(self, gradient, variable, learning_rate):
        dtype = variable.dtype
        lr = ops.cast(learning_rate, dtype)
        gradient = ops.convert_to_tensor(ops.cast(gradient, dtype))
        index = self._get_variable_index(variable)
        m, v = self._momentums[index], self._velocities[index]
        bases = self._bases[index]

        self.assign_moving_average(m, gradient, self.beta_1)
        if bases is None:
            g_rotated, m_rotated = gradient, ops.convert_to_tensor(m)
        else:
            q = [None if b is None else ops.convert_to_tensor(b)
                 for b in bases]
            g_rotated = _rotated(gradient, q)
            m_rotated = _rotated(m, q)
        self.assign_moving_average(v, ops.square(g_rotated), self.beta_2)
        n = ops.divide(m_rotated, ops.add(ops.sqrt(v),
                                          scalar(self.epsilon, dtype)))
        if bases is not None:
            n = _rotated(n, q, back=True)
        self.assign_sub(variable, ops.multiply(
            n, ops.multiply(lr, self.adam_bias_correction(dtype))))
        if bases is not None:
            self._refresh(index, gradient, q)

    def _refresh(self, index, gradient, q):
        """The factors' EMA, and on the schedule the new eigenbases."""
        factors, bases = self._factors[index], self._bases[index]
        v = self._velocities[index]
        axes = [axis for axis, f in enumerate(factors) if f is not None]
        dtype = factors[axes[0]].dtype
        g = ops.cast(gradient, dtype)
        decay = self.factor_beta
        for axis in axes:
            self._ema(factors[axis], unfolded_gram(g, axis), decay)

        t = self.iterations + 1
        frequency = self.precondition_frequency
        refresh = ops.equal(ops.mod(t, frequency), 0)
        first = ops.equal(t, frequency)
        f = [ops.convert_to_tensor(factors[axis]) for axis in axes]
        old = [q[axis] for axis in axes]
        v_old = ops.convert_to_tensor(v)

        def eigenbases():
            new, failed = [], ops.zeros((), "int32")
            for factor, q_old in zip(f, old):
                q, ok = _eigenbasis(factor)
                new.append(ops.where(ok, q, q_old))
                failed = failed + ops.cast(ops.logical_not(ok), "int32")
            return new, v_old, failed

        def power_iterations():
            new, failed, v_new = [], ops.zeros((), "int32"), v_old
            for axis, factor, q_old in zip(axes, f, old):
                q, order, ok = _power_iteration(factor, q_old)
                new.append(ops.where(ok, q, q_old))
                v_new = ops.where(ok, ops.take(v_new, order, axis=axis),
                                  v_new)
                failed = failed + ops.cast(ops.logical_not(ok), "int32")
            return new, v_new, failed

        def kept():
            return old, v_old, ops.zeros((), "int32")

        new, v_new, failed = branch(
            refresh, lambda: branch(first, eigenbases, power_iterations),
            kept)
        for axis, q in zip(axes, new):
            self.assign(bases[axis], q)
        self.assign(v, v_new)
        self.assign_add(self._failures[index], failed)


def _rotated(x, bases, back=False):
    """x in the eigenbases (back=True: from them), computed in the bases'
    dtype and returned in x's."""
    dtype = x.dtype
    dtype_q = next(b.dtype for b in bases if b is not None)
    y = mode_products(ops.cast(x, dtype_q), bases, transpose=back)
    return ops.cast(y, dtype)


def _eigenbasis(factor):
    """The eigenvectors of F in order of decreasing eigenvalue, and whether
    they are usable (F and they finite)."""
    _, eigenvectors, finite = symmetric_eigh(factor)
    q = ops.flip(eigenvectors, axis=1)
    return q, ops.logical_and(finite, ops.all(ops.isfinite(q)))


def _power_iteration(factor, q):
    """One power iteration from the basis q, its columns sorted by the
    estimated eigenvalues diag(q^T F q) (decreasing), orthonormalised by
    QR. Returns (new basis, the order, whether usable)."""
    finite = ops.all(ops.isfinite(factor))
    safe = ops.where(finite, factor,
                     ops.eye(factor.shape[-1], dtype=factor.dtype))
    product = matmul(safe, q)
    estimates = ops.sum(ops.multiply(q, product), axis=0)
    order = ops.argsort(ops.negative(estimates))
    q_new, _ = ops.qr(ops.take(product, order, axis=1))
    return q_new, order, ops.logical_and(finite,
                                         ops.all(ops.isfinite(q_new)))
