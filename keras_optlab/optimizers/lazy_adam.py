"""LazyAdam: Adam that touches only the rows a sparse gradient names."""

import keras
from keras import ops

from keras_optlab.optimizers import spec
from keras_optlab.optimizers.adam import Adam
from keras_optlab.optimizers.base import maximum
from keras_optlab.optimizers.base import scalar
from keras_optlab.optimizers.registry import register


def _is_indexed_slices(gradient):
    if keras.backend.backend() != "tensorflow":
        return False
    import tensorflow as tf

    return isinstance(gradient, tf.IndexedSlices)


@register(
    "lazyadam",
    description="Adam that updates the moments and parameters only on the "
    "rows present in a sparse (embedding) gradient; Adam for dense ones.",
    reference="Kingma and Ba, 2015, Adam: A Method for Stochastic "
    "Optimization (lazy sparse update as in TensorFlow's LazyAdamOptimizer)",
    family="adam",
)
class LazyAdam(Adam):
    """Adam with lazy updates for sparse gradients.

    For a dense gradient this is `Adam` exactly. For a `tf.IndexedSlices`
    gradient (what an `Embedding` layer produces on TensorFlow), with rows
    I named in it (duplicates summed first):

    ```
    for t = 1, 2, ...
        for rows i in I only:
            m_t[i]     = beta_1 * m_{t-1}[i] + (1 - beta_1) * g_t[i]
            v_t[i]     = beta_2 * v_{t-1}[i] + (1 - beta_2) * g_t[i]^2
            if amsgrad: v_max_t[i] = max(v_max_{t-1}[i], v_t[i])
            theta_t[i] = Adam's step on m_t[i], v_t[i] at step t
        rows not in I: theta, m, v (and v_max) unchanged
    ```

    Adam would decay m and v of every row at every step and move rows whose
    gradient is zero, because of their momentum: on a large vocabulary that
    is most of the cost of a step. The lazy form costs in proportion to the
    rows in the batch; it is a different algorithm (a row's moments decay
    only when it is seen), which works well in practice for embeddings.
    The bias correction uses the global step t, as in TensorFlow's
    `LazyAdamOptimizer` and `tfa.optimizers.LazyAdam`.

    Args are those of `Adam` (default `epsilon_mode="hat"`, epsilon 1e-7, as
    `tfa.optimizers.LazyAdam`).

    Example:
    >>> model.compile(optimizer=LazyAdam(1e-3), loss="mse")  # with Embedding

    References:
        D. P. Kingma and J. Ba, "Adam: A Method for Stochastic Optimization",
        ICLR 2015, arXiv:1412.6980.
    """

    hyperparameters = spec.override(
        Adam.hyperparameters,
        spec.ADAPTIVE_LEARNING_RATE,
    )
    _sparse_update_touches_rows_only = True

    def update_step(self, gradient, variable, learning_rate):
        if not _is_indexed_slices(gradient):
            return super().update_step(gradient, variable, learning_rate)
        import tensorflow as tf

        dtype = variable.dtype
        lr = ops.cast(learning_rate, dtype)
        index = self._get_variable_index(variable)
        # OptlabOptimizer.apply has already summed repeated indices.
        indices = gradient.indices
        rows = ops.cast(gradient.values, dtype)
        shape = gradient.dense_shape
        if shape is None:
            shape = tf.shape(variable)

        def scatter(values):
            return tf.IndexedSlices(values, indices, shape)

        def moving_average(average, value, decay):
            old = ops.take(average, indices, axis=0)
            weight = scalar(1.0 - decay, dtype)
            new = ops.add(old, ops.multiply(ops.subtract(value, old), weight))
            self.assign(average, scatter(new))
            return new

        m_rows = moving_average(self._momentums[index], rows, self.beta_1)
        v_rows = moving_average(
            self._velocities[index], ops.square(rows), self.beta_2
        )
        if self.amsgrad:
            v_max = self._velocity_maxima[index]
            v_rows = maximum(ops.take(v_max, indices, axis=0), v_rows)
            self.assign(v_max, scatter(v_rows))
        step = self._adam_step(m_rows, v_rows, lr, dtype)
        self.assign_sub(variable, scatter(step))
