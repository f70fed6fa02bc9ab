"""AdamW: Adam with decoupled weight decay."""

from keras_optlab.optimizers import spec
from keras_optlab.optimizers.adam import Adam
from keras_optlab.optimizers.registry import register


@register(
    "adamw",
    description="Adam with weight decay decoupled from the gradient step.",
    reference="Loshchilov and Hutter, 2019, Decoupled Weight Decay "
    "Regularization",
    family="adam",
)
class AdamW(Adam):
    """AdamW (Loshchilov and Hutter, Algorithm 2, "Adam with decoupled weight
    decay").

    ```
    input: lr, weight_decay w, beta_1, beta_2, epsilon;  m_0 = v_0 = 0
    for t = 1, 2, ...
        g_t     = grad f(theta_{t-1})          (no w * theta term in g_t)
        theta'  = theta_{t-1} - lr_t * w * theta_{t-1}
        theta_t = Adam step of `Adam` (either epsilon_mode) applied to theta'
    ```

    The decay is applied before the Adam step, to the parameters only, never
    through m_t or v_t: that is the decoupling. The paper writes the decay as
    eta_t * lambda * theta with eta_t the schedule multiplier; here (as in
    Keras and PyTorch) it is lr_t * w * theta, the same rule with lambda =
    lr * w, and it follows a learning-rate schedule as the paper's eta_t does.
    Keras' base class carries the decay, so `exclude_from_weight_decay`
    works as usual.

    Args:
        learning_rate: as for `Adam`. Defaults to 0.001.
        weight_decay: w, >= 0. Defaults to 0.004 (Keras' default).
        beta_1, beta_2, epsilon, epsilon_mode, amsgrad: as for `Adam`.
        name: the optimizer's name.
        **kwargs: the other options of `keras.optimizers.Optimizer`.

    Example:
    >>> model.compile(optimizer=AdamW(1e-3, weight_decay=0.01), loss="mse")

    Reference:
        I. Loshchilov and F. Hutter, "Decoupled Weight Decay Regularization",
        ICLR 2019, arXiv:1711.05101.
    """

    hyperparameters = spec.override(
        Adam.hyperparameters,
        spec.ADAPTIVE_LEARNING_RATE,
        spec.weight_decay(
            "w, decoupled: lr * w * theta subtracted before the step",
            search=spec.WEIGHT_DECAY_SEARCH, default=0.004, optional=False,
            none_hint="use Adam for none",
        ),
    )

    def __init__(self, learning_rate=0.001, weight_decay=0.004, **kwargs):
        super().__init__(
            learning_rate=learning_rate, weight_decay=weight_decay, **kwargs
        )
