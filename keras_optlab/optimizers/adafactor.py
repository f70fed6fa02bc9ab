"""Adafactor: a factored second moment, relative steps, update clipping."""

import math

from keras import ops

from keras_optlab.engine.sparse import densify
from keras_optlab.optimizers import spec
from keras_optlab.optimizers.base import OptlabOptimizer
from keras_optlab.optimizers.base import maximum
from keras_optlab.optimizers.base import minimum
from keras_optlab.optimizers.base import scalar
from keras_optlab.optimizers.registry import register


@register(
    "adafactor",
    description="RMS-normalised steps from a second moment kept as row and "
    "column means for matrices (O(n + m) state), clipped to RMS d, sized "
    "relative to the parameters' RMS; beta_2 grows as 1 - t^-0.8.",
    reference="Shazeer and Stern, 2018, Adafactor: Adaptive Learning Rates "
    "with Sublinear Memory Cost",
    family="adaptive",
)
class Adafactor(OptlabOptimizer):
    """Adafactor (Shazeer and Stern 2018, Algorithms 4 and 5).

    For a variable X of shape n x m (Algorithm 4), with c = beta_2_decay,
    d = clip_threshold and 1_k a vector of k ones:
    ```
    input: relative step sizes rho_t, beta_2_t = 1 - t^c (beta_2_1 = 0),
           epsilon_1, epsilon_2, d;  R_0 = 0 (n), C_0 = 0 (m)
    for t = 1, 2, ...
        G_t   = grad f(X_{t-1})
        E_t   = G_t^2 + epsilon_1 1_n 1_m^T
        R_t   = beta_2_t R_{t-1} + (1 - beta_2_t) E_t 1_m
        C_t   = beta_2_t C_{t-1} + (1 - beta_2_t) 1_n^T E_t
        V_t   = R_t C_t / (1_n^T R_t)
        U_t   = G_t / sqrt(V_t)
        Uh_t  = U_t / max(1, RMS(U_t) / d)
        alpha_t = max(epsilon_2, RMS(X_{t-1})) rho_t
        X_t   = X_{t-1} - alpha_t Uh_t
    ```
    and for a vector or scalar (Algorithm 5) the second moment is kept
    whole: V_t = beta_2_t V_{t-1} + (1 - beta_2_t) (G_t^2 + epsilon_1), the
    rest as above. RMS(A) = sqrt(mean(A^2)) over every element. The paper's
    choices, our defaults: rho_t = min(1e-2, 1 / sqrt(t)), c = -0.8,
    epsilon_1 = 1e-30, epsilon_2 = 1e-3, d = 1.

    Arguments and variants:
    - `relative_step=True` (default): rho_t = min(lr_t, 1 / sqrt(t)), lr_t
      the learning rate (a float, schedule or callable), so the default
      0.01 is the paper's rho_t; `False`: rho_t = lr_t.
    - `scale_parameter=True` (default): alpha_t = max(epsilon_2,
      RMS(X_{t-1})) rho_t, the step relative to the parameters' scale;
      `False`: alpha_t = rho_t (an absolute step, as Adam's).
    - `clip_threshold=None`: no update clipping (Uh_t = U_t).
    - `beta_1` (None by default, as in the paper's proposal): a first
      moment of the scaled step, as in the authors' code (tensor2tensor;
      the paper's boxes have none): M_t = beta_1 M_{t-1} + (1 - beta_1)
      alpha_t Uh_t, X_t = X_{t-1} - M_t, no bias correction. beta_1 = 0 is
      the same as None and keeps no M.

    The state of an n x m matrix is R and C, n + m numbers, kept as row and
    column means (the box's sums divided by m and n; V_t is the same): a
    1000 x 1000 kernel keeps 2000 numbers where Adam keeps 2 million (with
    beta_1, M adds n m). Variables of rank >= 3 are factored over their last
    two axes, a stack of matrices with one R and C each, as tensor2tensor,
    fairseq, Hugging Face and Keras do (the paper defines matrices only).
    V_t is never formed: U_t = G_t sqrt(mean(R_t)) / sqrt(R_t) / sqrt(C_t),
    the row and column factors apart as in the authors' code, and the row
    factor a quotient of square roots (theirs: 1 / sqrt(R_t / mean(R_t)))
    so that no product or quotient leaves float32's normal range where a
    row of tiny gradients meets huge ones elsewhere. Weight decay is Keras'
    decoupled decay, lr * weight_decay * X subtracted before the step
    (before RMS(X) is read); sparse gradients are applied densely (every
    R, C or V entry decays).

    Deliberate differences (benchmarks/adafactor_differences.py; the
    README's section "Adafactor against Keras' and torch's"):
    - `keras.optimizers.Adafactor` (Keras 3.15): the same arguments by the
      same names and order, the same placement of epsilon_1 (on G^2), the
      same factoring over the last two axes, and the same math where
      `relative_step` and `scale_parameter` are on and `beta_1` is None:
      identical trajectories at the same learning rate (equivalence test,
      float32, rtol 1e-5). Keras differs in: its default learning rate
      0.001 (the paper's cap is 1e-2; Keras' steps are 10x smaller up to
      t = 10^4, the same from t = 10^6); `relative_step=False` changes
      nothing in Keras 3.15 (it takes min(lr, 1/sqrt(t)) either way), ours
      then steps at lr; it has no `scale_parameter`, no `beta_1` and no
      `clip_threshold=None`; it keeps a full n x m second moment beside R
      and C, so its state is n m + n + m numbers per matrix; and its
      V = (R / mean(R)) C underflows to 0 in float32 where a row and a
      column of tiny gradients meet huge ones (G / sqrt(V) then NaN).
      Measured after 60 steps (a matrix, a vector, a rank-3 tensor;
      random gradients): at the same learning rate 6e-8 apart (float32);
      at the two defaults 0.16 apart where ours moved 0.18;
      `relative_step=False` at lr 0.2: 1.9 apart (ours moved 5.9), at lr
      0.05 the same (1/sqrt(t) > lr up to t = 400).
    - `torch.optim.Adafactor` (PyTorch 2.13, lr 1e-2): epsilon_1 is a
      floor on V and on mean(R) (default the dtype's eps) instead of
      added to G^2, RMS(X) is read before its weight decay (ours after
      Keras' decay), and it has no `relative_step`, `scale_parameter`,
      `beta_1` or clipping off. Measured in float64: 4e-9 apart after 60
      steps (Keras' float32 learning rate), zero gradient rows included;
      with weight decay 0.1, 1.7e-4 apart.
    - Hugging Face's (and fairseq's) `Adafactor(lr=None,
      relative_step=True, scale_parameter=True, warmup_init=False)`: its
      lr=None with relative_step is our default learning_rate 0.01; its
      `lr=x, relative_step=False` is ours with the same. Its `warmup_init`
      (rho_t = min(1e-6 t, 1/sqrt(t))) is not an argument here: pass a
      schedule with value 1e-6 (k + 1) at iteration k. Its weight decay
      subtracts weight_decay * alpha_t * X (the step size with the
      parameter scale); ours is Keras' (lr_t * weight_decay * X).
    - tensor2tensor (the authors'): `multiply_by_parameter_scale=False`
      without a learning rate multiplies its default rho_t by 0.05; ours
      takes the learning rate as given. Optax's `adafactor` factors only
      the two largest axes, and only when both have >= 128 entries
      (`min_dim_size_to_factor`); ours factors every variable of rank >= 2.

    Args:
        learning_rate: rho_t's cap under `relative_step` (rho_t = min(lr,
            1/sqrt(t))), else rho_t itself; a non-negative float, a
            `LearningRateSchedule`, or a callable with no arguments.
            Defaults to 0.01 (the paper's).
        beta_2_decay: c in beta_2_t = 1 - t^c, in [-1, 0]. Defaults to -0.8
            (Hugging Face calls it `decay_rate`).
        epsilon_1: > 0, added to G^2. Defaults to 1e-30.
        epsilon_2: > 0, the floor of RMS(X) in the step size. Defaults to
            1e-3.
        clip_threshold: d > 0, or None for no update clipping. Defaults to
            1.0.
        relative_step: rho_t = min(learning_rate, 1/sqrt(t)). Defaults to
            True.
        scale_parameter: multiply rho_t by max(epsilon_2, RMS(X_{t-1})).
            Defaults to True.
        beta_1: decay of the first moment of the step, in [0, 1), or None
            for none. Defaults to None.
        name: the optimizer's name.
        **kwargs: the other options of `keras.optimizers.Optimizer`.

    Example:
    >>> model.compile(optimizer=Adafactor(), loss="mse")
    >>> absolute = Adafactor(1e-3, relative_step=False,
    ...                      scale_parameter=False)

    References:
        N. Shazeer and M. Stern, "Adafactor: Adaptive Learning Rates with
        Sublinear Memory Cost", ICML 2018, arXiv:1804.04235, Algorithms 4
        and 5.
    """

    hyperparameters = (
        spec.learning_rate(
            0.01, spec.FloatRange(1e-4, 1e-1, "log"),
            doc="rho_t = min(lr, 1/sqrt(t)) under relative_step, else lr"),
        spec.Hyperparameter("beta_2_decay", "float", -0.8, -1.0, 0.0, "[]",
                            doc="c in beta_2_t = 1 - t^c"),
        spec.Hyperparameter("epsilon_1", "float", 1e-30, 0.0, None, "()",
                            doc="added to G^2"),
        spec.Hyperparameter("epsilon_2", "float", 1e-3, 0.0, None, "()",
                            doc="floor of RMS(X) in the step size"),
        spec.Hyperparameter("clip_threshold", "float", 1.0, 0.0, None, "()",
                            optional=True,
                            doc="d: U / max(1, RMS(U) / d); None: no "
                            "clipping"),
        spec.Hyperparameter("relative_step", "bool", True,
                            doc="rho_t = min(lr, 1/sqrt(t)) instead of lr"),
        spec.Hyperparameter("scale_parameter", "bool", True,
                            doc="step size rho_t max(epsilon_2, RMS(X))"),
        spec.beta("beta_1", None, "decay of the first moment of the "
                  "scaled step; None: none", optional=True),
    )

    def __init__(
        self,
        learning_rate=0.01,
        beta_2_decay=-0.8,
        epsilon_1=1e-30,
        epsilon_2=1e-3,
        clip_threshold=1.0,
        relative_step=True,
        scale_parameter=True,
        beta_1=None,
        name=None,
        **kwargs,
    ):
        super().__init__(
            learning_rate=learning_rate, name=name, arguments=locals(),
            **kwargs
        )

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        # Decided once from the shapes: R and C for rank >= 2, V otherwise;
        # M only with a first moment.
        self._factored = [len(v.shape) >= 2 for v in var_list]
        self._row_means, self._column_means, self._second_moments = [], [], []
        for variable, factored in zip(var_list, self._factored):
            shape = tuple(variable.shape)
            if factored:
                base = _base_name(variable)
                self._row_means.append(self.add_variable(
                    shape=shape[:-1], initializer="zeros",
                    dtype=variable.dtype, name=f"{base}_row_mean"))
                self._column_means.append(self.add_variable(
                    shape=shape[:-2] + shape[-1:], initializer="zeros",
                    dtype=variable.dtype, name=f"{base}_column_mean"))
                self._second_moments.append(None)
            else:
                self._row_means.append(None)
                self._column_means.append(None)
                self._second_moments.append(self.add_variable_from_reference(
                    variable, "second_moment"))
        self._momentums = [
            self.add_variable_from_reference(v, "momentum")
            if self.beta_1 else None
            for v in var_list
        ]

    def _schedule(self, learning_rate, dtype):
        """(beta_2_t, 1 - beta_2_t, rho_t) as tensors of `dtype`, computed
        in at least float32."""
        exact = "float64" if dtype == "float64" else "float32"
        t = self.step_count(exact)
        mixing = ops.power(t, scalar(self.beta_2_decay, exact))
        rho = ops.cast(learning_rate, exact)
        if self.relative_step:
            rho = minimum(rho, ops.divide(scalar(1.0, exact), ops.sqrt(t)))
        return (ops.cast(ops.subtract(scalar(1.0, exact), mixing), dtype),
                ops.cast(mixing, dtype), ops.cast(rho, dtype))

    def _average(self, average, value, beta, mixing):
        """average <- beta_2_t average + (1 - beta_2_t) value, as two terms:
        the increment form average + (1 - beta_2_t) (value - average)
        cancels to 0 where beta_2_t = 0 follows a large average (c = 0,
        found by tests/test_properties.py), and V = 0 divides by 0."""
        self.assign(average, ops.add(ops.multiply(average, beta),
                                     ops.multiply(value, mixing)))

    def _rms(self, x, size, dtype):
        return ops.sqrt(ops.divide(self.squared_norm(x),
                                   scalar(float(size), dtype)))

    def update_step(self, gradient, variable, learning_rate):
        dtype = variable.dtype
        # Every entry of R, C or V decays, so a sparse gradient is dense.
        gradient = ops.cast(densify(gradient), dtype)
        index = self._get_variable_index(variable)
        size = math.prod(int(n) for n in variable.shape)
        beta, mixing, rho = self._schedule(learning_rate, dtype)
        one = scalar(1.0, dtype)
        clipping = self.clip_threshold is not None

        squared = ops.add(ops.square(gradient), scalar(self.epsilon_1, dtype))
        if self._factored[index]:
            r = self._row_means[index]
            c = self._column_means[index]
            self._average(r, self.mean_over(squared, -1), beta, mixing)
            self._average(c, self.mean_over(squared, -2), beta, mixing)
            # 1 / sqrt(V) = sqrt(mean(R)) / sqrt(R) * 1 / sqrt(C).
            # mean(R) as a sum: Keras 3.15's ops.mean on torch computes a
            # float64 mean in float32.
            rows = scalar(float(variable.shape[-2]), dtype)
            row_factor = ops.divide(ops.sqrt(ops.divide(
                ops.sum(r, axis=-1, keepdims=True), rows)), ops.sqrt(r))
            column_factor = ops.divide(one, ops.sqrt(c))
            u = ops.multiply(
                ops.multiply(gradient, ops.expand_dims(row_factor, -1)),
                ops.expand_dims(column_factor, -2))
            if clipping:
                u_squares = self.squared_norm(u)
        else:
            v = self._second_moments[index]
            self._average(v, squared, beta, mixing)
            u = ops.divide(gradient, ops.sqrt(v))
            if clipping:
                # sum(U^2) as sum(G * G / V): the same, and U's divide is
                # then not shared by two loops (XLA on CPU would hold U).
                u_squares = self.dot(gradient, ops.divide(gradient, v))

        # alpha_t / max(1, RMS(U) / d), one scalar on U.
        alpha = rho
        if self.scale_parameter:
            alpha = ops.multiply(rho, maximum(
                scalar(self.epsilon_2, dtype), self._rms(variable, size,
                                                         dtype)))
        if clipping:
            rms_of_u = ops.sqrt(ops.divide(u_squares,
                                           scalar(float(size), dtype)))
            alpha = ops.divide(alpha, maximum(one, ops.divide(
                rms_of_u, scalar(self.clip_threshold, dtype))))
        step = ops.multiply(u, alpha)
        if self.beta_1:
            m = self._momentums[index]
            self.assign_moving_average(m, step, self.beta_1)
            step = m
        self.assign_sub(variable, step)


def _base_name(variable):
    return (getattr(variable, "path", None) or variable.name).replace(
        "/", "_").replace(":", "_")
