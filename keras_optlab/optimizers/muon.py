"""Muon: momentum orthogonalised by Newton-Schulz, with AdamW for the rest."""

import math
import re

from keras import ops

from keras_optlab.engine.sparse import densify
from keras_optlab.optimizers import spec
from keras_optlab.optimizers.base import OptlabOptimizer
from keras_optlab.optimizers.base import matmul
from keras_optlab.optimizers.base import scalar
from keras_optlab.optimizers.registry import register

# The published quintic (Jordan et al., 2024): the polynomial
# a x + b x^3 + c x^5 with the largest slope at 0 that still keeps the
# singular values in about [0.7, 1.2] after five iterations.
NS_COEFFICIENTS = (3.4445, -4.7750, 2.0315)

SHAPE_SCALINGS = ("original", "match_rms_adamw", "none")


def newton_schulz(x, steps, epsilon):
    """The quintic Newton-Schulz iteration of a 2-D tensor `x`: about
    U V^T where x = U S V^T, each singular value sent to roughly 1.

    Run on the wide orientation (rows <= columns, so X X^T is the smaller
    Gram matrix) after dividing by ||x||_F + epsilon, which puts every
    singular value in [0, 1].
    """
    a, b, c = (scalar(v, x.dtype) for v in NS_COEFFICIENTS)
    rows, cols = x.shape
    tall = rows > cols
    if tall:
        x = ops.transpose(x)
    x = ops.divide(x, ops.add(frobenius_norm(x), scalar(epsilon, x.dtype)))
    for _ in range(steps):
        gram = matmul(x, ops.transpose(x))
        poly = ops.add(ops.multiply(gram, b),
                       ops.multiply(matmul(gram, gram), c))
        x = ops.add(ops.multiply(x, a), matmul(poly, x))
    if tall:
        x = ops.transpose(x)
    return x


def frobenius_norm(x):
    """||x||_F, computed as m ||x / m||_F with m = max |x| so that neither
    tiny entries (whose squares underflow: the norm would read 0 and
    x / epsilon blow up in the iteration) nor huge ones (whose squares
    overflow) break it; 0 for x = 0."""
    largest = ops.max(ops.abs(x))
    safe = ops.where(ops.greater(largest, 0), largest, ops.ones_like(largest))
    return ops.multiply(
        ops.sqrt(ops.sum(ops.square(ops.divide(x, safe)))), largest)


def matrix_shape(shape):
    """(fan_in, fan_out) of a Keras kernel: the last axis is the output
    axis (Dense (in, out); ConvND (*window, in, out)), the others are
    flattened into the input axis."""
    return math.prod(shape[:-1]), shape[-1]


def shape_scale(fan_in, fan_out, scaling):
    """The factor on the orthogonalised update of a fan_in x fan_out
    kernel (see Muon's docstring)."""
    if scaling == "original":
        return max(1.0, fan_out / fan_in) ** 0.5
    if scaling == "match_rms_adamw":
        return 0.2 * max(fan_in, fan_out) ** 0.5
    return 1.0


@register(
    "muon",
    description="Nesterov momentum orthogonalised by a quintic "
    "Newton-Schulz iteration for matrices and convolution kernels; AdamW for "
    "scalars, vectors, embeddings and excluded layers.",
    reference="Jordan et al., 2024, Muon: An optimizer for hidden layers in "
    "neural networks",
    family="sgd",
)
class Muon(OptlabOptimizer):
    """Muon (Jordan et al., 2024), with AdamW for the variables it leaves.

    For a Muon variable W (a Keras kernel viewed as fan_in x fan_out,
    below), with mu = momentum:
    ```
    input: lr, mu, nesterov, ns_steps, epsilon;  B_0 = 0
    for t = 1, 2, ...
        G_t = grad f(W_{t-1})
        B_t = mu B_{t-1} + G_t
        U_t = G_t + mu B_t            if nesterov, else B_t
        X_0 = U_t / (||U_t||_F + epsilon)          (U_t^T if rows > cols)
        for k = 1 .. ns_steps:
            A   = X_{k-1} X_{k-1}^T
            X_k = a X_{k-1} + (b A + c A A) X_{k-1}
                  with (a, b, c) = (3.4445, -4.7750, 2.0315)
        O_t = X_{ns_steps}                          (transposed back)
        W_t = W_{t-1} - lr * s(fan_in, fan_out) * O_t
    ```
    and for every other variable x, AdamW at lr_a = lr * adam_lr_ratio:
    ```
        m_t = b1 m_{t-1} + (1 - b1) g_t;  v_t = b2 v_{t-1} + (1 - b2) g_t^2
        "outside": x_t = x_{t-1} - lr_a (m_t / (1 - b1^t))
                                  / (sqrt(v_t / (1 - b2^t)) + adam_epsilon)
        "hat":     x_t = x_{t-1} - lr_a sqrt(1 - b2^t) / (1 - b1^t)
                                  * m_t / (sqrt(v_t) + adam_epsilon)
    ```
    Weight decay is Keras' decoupled decay, W <- W - lr * weight_decay * W
    before the step, for every variable (both kinds) not named in
    `exclude_from_weight_decay`.

    Which variables Muon takes: every variable of rank 2, and of rank 3 or
    more while `flatten_kernels` (default True) holds, except those whose
    path contains "embedding" (case-insensitive) while
    `exclude_embeddings` holds, and those whose path matches one of the
    regular expressions in `exclude_layers`. Everything else (scalars,
    vectors: biases, norm scales) takes the AdamW step. The output layer
    cannot be recognised from its variable: name it in `exclude_layers`
    (e.g. `exclude_layers=["predictions"]`), as the authors ask. The choice
    is made once, in `build`.

    Kernels of rank >= 3 are orthogonalised as the matrix
    (prod(shape[:-1]), shape[-1]): right for convolution kernels, whose
    last axis is the output channels (Jordan's code views a PyTorch conv
    weight (out, in, kh, kw) as (out, in * kh * kw), the transpose of
    ours, which Newton-Schulz treats alike). It is not right for
    `EinsumDense` kernels with several output axes (the query, key and
    value kernels of `MultiHeadAttention`, (d_model, heads, head_dim)):
    exclude those, or set `flatten_kernels=False`, as Keras' Muon does, to
    send every rank-3+ variable to AdamW.

    The shape factor s (`shape_scaling`):
    - `"original"` (default): sqrt(max(1, fan_out / fan_in)), Jordan's
      max(1, rows / cols)^0.5 for a PyTorch weight (out, in). A Keras
      kernel is (in, out), the transpose, so for a 2-D variable (r, c)
      ours is sqrt(max(1, c / r)): it is the same factor for the same
      layer.
    - `"match_rms_adamw"`: 0.2 sqrt(max(fan_in, fan_out)) (Liu et al.,
      2025, Moonshot's Moonlight): the update's RMS is about AdamW's, so
      AdamW's learning rate and weight decay carry over. Keras' Muon
      (`rms_rate=0.2`) and torch.optim.Muon (`adjust_lr_fn=
      "match_rms_adamw"`) offer it too.
    - `"none"`: 1.

    The Newton-Schulz iteration runs in the variable's dtype, float32 at
    least (float16 or bfloat16 variables are orthogonalised in float32 and
    the step cast back); the authors and torch.optim.Muon run it in
    bfloat16 for speed. State: the momentum buffer B for Muon variables,
    m and v for AdamW ones. The momentum B_t is the sum form of the 2024
    modded-nanogpt code and the blog; the authors' current code keeps the
    average mu B + (1 - mu) G instead, which is (1 - mu) times ours, and
    its Nesterov U is then (1 - mu) times ours: both directions are the
    same after the Frobenius normalisation, and only the epsilon's weight
    differs (1e-7 against norms of order 1).

    Differences, measured on identical weights and gradients
    (benchmarks/muon_differences.py; tests/test_muon.py; the README's
    section "Muon against Keras' and torch's"):
    - `keras.optimizers.Muon` (Keras 3.15): same momentum, Newton-Schulz
      (epsilon 1e-7, fixed) and transposition. Its only shape factor is
      `rms_rate` (0.2 sqrt(max(rows, cols)), our `"match_rms_adamw"`; None
      is our `"none"`); every variable of rank other than 2 goes to its
      AdamW (our `flatten_kernels=False`); its AdamW places epsilon as
      "hat" (our `adam_epsilon_mode="hat"`, default 1e-7) with Adam's
      learning rate lr * adam_lr_ratio (default ratio 1); its decay of AdamW
      variables is a separate `adam_weight_decay`, both at the main
      learning rate. With those settings our trajectories are Keras' own
      (equivalence tests: float32, rtol 1e-5; 100 steps of Keras' defaults
      against ours with "match_rms_adamw" and weight_decay 0.004: 8.3e-7
      apart). Ours at its defaults and Keras' at its defaults, same
      learning rate, differ by the factor (and Keras' default decay 0.004):
      0.31 apart after 100 steps, where ours moved up to 0.78.
    - `torch.optim.Muon` (PyTorch 2.13): 2-D parameters only (it refuses
      others; the user adds an AdamW), "original" factor computed from the
      PyTorch layout (out, in), Newton-Schulz in bfloat16, epsilon as a
      floor on the norm (max(||X||, eps)) instead of added, the averaged
      momentum. On W^T (its layout) with the factor and the decay the same,
      its trajectory differs from ours by its bfloat16 rounding: 2.3e-3
      after 30 steps at lr 0.02 (ours moved up to 0.29), 3.5e-3 after
      100. With its iteration run in float64 it is ours: 4.6e-10 apart
      after 30 steps at epsilon 1e-7 (the floor against the sum), 9e-16 at
      epsilon 1e-30 (equivalence test, rtol 1e-9).

    Args:
        learning_rate: lr, the Muon step in units of the orthogonalised
            update (spectral norm about 1 per step for "original"). Defaults
            to 0.02 (the authors'). A `LearningRateSchedule` or a callable
            also works.
        momentum: mu in [0, 1). Defaults to 0.95.
        nesterov: use G_t + mu B_t instead of B_t. Defaults to True.
        ns_steps: Newton-Schulz iterations, an integer >= 1. Defaults to 5.
        epsilon: > 0, added to the Frobenius norm before dividing by it.
            Defaults to 1e-7 (the authors').
        shape_scaling: `"original"`, `"match_rms_adamw"` or `"none"` (see
            above). Defaults to "original".
        flatten_kernels: orthogonalise variables of rank >= 3 as (prod of
            all axes but the last, last). Defaults to True.
        exclude_embeddings: variables whose path contains "embedding" take
            the AdamW step. Defaults to True.
        exclude_layers: None or a list of regular expressions searched in
            each variable's path; matches take the AdamW step.
        adam_lr_ratio: AdamW's learning rate over Muon's, > 0. Defaults to
            0.015 (the authors' README: 3e-4 for AdamW beside 0.02).
        adam_beta_1, adam_beta_2: AdamW's decays. Default to 0.9 and 0.95
            (the authors' MuonWithAuxAdam).
        adam_epsilon: > 0. Defaults to 1e-10 (the authors').
        adam_epsilon_mode: where adam_epsilon goes, `"outside"` (default,
            the authors' and the Adam paper's) or `"hat"` (Keras').
        weight_decay: decoupled decay of every variable, >= 0, or None.
        name: the optimizer's name.
        **kwargs: the other options of `keras.optimizers.Optimizer`.

    Example:
    >>> model.compile(optimizer=Muon(0.02, exclude_layers=["predictions"]),
    ...               loss="sparse_categorical_crossentropy")

    References:
        K. Jordan, Y. Jin, V. Boza, J. You, F. Cesista, L. Newhouse and
        J. Bernstein, "Muon: An optimizer for hidden layers in neural
        networks", 2024, https://kellerjordan.github.io/posts/muon/ (code:
        github.com/KellerJordan/Muon, KellerJordan/modded-nanogpt).
        J. Liu et al., "Muon is Scalable for LLM Training",
        arXiv:2502.16982, 2025 (the "match_rms_adamw" factor).
    """

    hyperparameters = (
        spec.learning_rate(0.02, spec.FloatRange(1e-3, 1e-1, "log"),
                           doc="the Muon step; AdamW's is lr * "
                           "adam_lr_ratio"),
        spec.beta("momentum", 0.95, "mu, the decay of the momentum buffer",
                  search=spec.FloatRange(0.8, 0.99)),
        spec.Hyperparameter("nesterov", "bool", True,
                            doc="orthogonalise G + mu B instead of B"),
        spec.Hyperparameter("ns_steps", "int", 5, low=1,
                            doc="Newton-Schulz iterations"),
        spec.epsilon(1e-7, "added to the Frobenius norm before "
                     "Newton-Schulz"),
        spec.Hyperparameter("shape_scaling", "choice", "original",
                            choices=SHAPE_SCALINGS,
                            doc="the update's factor: sqrt(max(1, fan_out/"
                            "fan_in)), 0.2 sqrt(max(fan_in, fan_out)) or 1"),
        spec.Hyperparameter("flatten_kernels", "bool", True,
                            doc="orthogonalise rank-3+ kernels as (fan_in, "
                            "fan_out); else they take AdamW"),
        spec.Hyperparameter("exclude_embeddings", "bool", True,
                            doc="paths containing 'embedding' take AdamW"),
        spec.Hyperparameter("exclude_layers", "patterns", None,
                            doc="paths matching one take AdamW (name the "
                            "output layer here)"),
        spec.Hyperparameter("adam_lr_ratio", "float", 0.015, 0.0, None,
                            "()", doc="AdamW's learning rate over Muon's",
                            search=spec.FloatRange(1e-3, 1.0, "log")),
        spec.beta("adam_beta_1", 0.9, "AdamW's decay of the first moment"),
        spec.beta("adam_beta_2", 0.95, "AdamW's decay of the second moment",
                  search=spec.Choices((0.95, 0.99, 0.999))),
        spec.Hyperparameter("adam_epsilon", "float", 1e-10, 0.0, None, "()",
                            doc="AdamW's epsilon"),
        spec.Hyperparameter("adam_epsilon_mode", "choice", "outside",
                            choices=("outside", "hat"),
                            doc="AdamW's epsilon: sqrt(v_hat) + eps "
                            "(outside) or sqrt(v) + eps in the folded step "
                            "(hat, Keras')"),
        spec.weight_decay("decoupled, every variable: lr * wd * theta "
                          "subtracted before the step",
                          search=spec.WEIGHT_DECAY_SEARCH),
    )

    def __init__(
        self,
        learning_rate=0.02,
        momentum=0.95,
        nesterov=True,
        ns_steps=5,
        epsilon=1e-7,
        shape_scaling="original",
        flatten_kernels=True,
        exclude_embeddings=True,
        exclude_layers=None,
        adam_lr_ratio=0.015,
        adam_beta_1=0.9,
        adam_beta_2=0.95,
        adam_epsilon=1e-10,
        adam_epsilon_mode="outside",
        weight_decay=None,
        name=None,
        **kwargs,
    ):
        super().__init__(
            learning_rate=learning_rate,
            weight_decay=weight_decay,
            name=name,
            arguments=locals(),
            **kwargs,
        )

    def uses_muon(self, variable):
        """Whether `variable` (a Keras variable) takes the Muon step."""
        rank = len(variable.shape)
        if rank < 2 or (rank > 2 and not self.flatten_kernels):
            return False
        path = getattr(variable, "path", variable.name)
        if self.exclude_embeddings and "embedding" in path.lower():
            return False
        return not any(re.search(pattern, path)
                       for pattern in self.exclude_layers or ())

    def build(self, var_list):
        if self.built:
            return
        super().build(var_list)
        # Decided once from the Keras variables: on TensorFlow update_step
        # receives the underlying tf.Variable, whose name lacks the path.
        self._muon = [self.uses_muon(v) for v in var_list]
        # B for Muon variables, m for AdamW ones; v for AdamW ones only.
        self._momentums = self.add_optimizer_variables(var_list, "momentum")
        self._velocities = [
            None if muon else self.add_variable_from_reference(
                variable, name="velocity")
            for variable, muon in zip(var_list, self._muon)
        ]

    def update_step(self, gradient, variable, learning_rate):
        index = self._get_variable_index(variable)
        # Every element of B (or m, v) moves, so a sparse gradient is dense
        # here.
        gradient = ops.cast(densify(gradient), variable.dtype)
        if self._muon[index]:
            self._muon_step(gradient, variable, learning_rate, index)
        else:
            self._adamw_step(gradient, variable, learning_rate, index)

    def _muon_step(self, gradient, variable, learning_rate, index):
        dtype = variable.dtype
        buffer = self._momentums[index]
        mu = scalar(self.momentum, dtype)
        self.assign(buffer, ops.add(ops.multiply(buffer, mu), gradient))
        update = buffer
        if self.nesterov:
            update = ops.add(gradient, ops.multiply(buffer, mu))
        shape = tuple(variable.shape)
        fan_in, fan_out = matrix_shape(shape)
        exact = "float32" if dtype in ("float16", "bfloat16") else dtype
        matrix = ops.reshape(ops.cast(update, exact), (fan_in, fan_out))
        orthogonal = newton_schulz(matrix, self.ns_steps, self.epsilon)
        step = ops.cast(learning_rate, exact) * scalar(
            shape_scale(fan_in, fan_out, self.shape_scaling), exact)
        self.assign_sub(variable, ops.cast(
            ops.reshape(ops.multiply(orthogonal, step), shape), dtype))

    def _adamw_step(self, gradient, variable, learning_rate, index):
        dtype = variable.dtype
        m = self._momentums[index]
        v = self._velocities[index]
        lr = ops.cast(learning_rate, dtype) * scalar(self.adam_lr_ratio,
                                                     dtype)
        self.assign_moving_average(m, gradient, self.adam_beta_1)
        self.assign_moving_average(v, ops.square(gradient), self.adam_beta_2)
        correction_1 = self.bias_correction(self.adam_beta_1, dtype)
        correction_2 = self.bias_correction(self.adam_beta_2, dtype)
        epsilon = scalar(self.adam_epsilon, dtype)
        if self.adam_epsilon_mode == "hat":
            alpha = lr * ops.sqrt(correction_2) / correction_1
            step = ops.divide(ops.multiply(m, alpha),
                              ops.add(ops.sqrt(v), epsilon))
        else:
            step = ops.divide(
                ops.multiply(ops.divide(m, correction_1), lr),
                ops.add(ops.sqrt(ops.divide(v, correction_2)), epsilon))
        self.assign_sub(variable, step)
