"""Sparse gradients on the TensorFlow backend.

An `Embedding` looked up with repeated ids in one batch yields a
`tf.IndexedSlices` whose indices repeat. Linear updates do not care (a
scatter-add sums the repeats), but g^2, |g|, a norm or a clip would treat the
repeats as separate gradients: the dense gradient row is their sum.
"""

import keras


def sum_duplicate_indices(gradient):
    """The same gradient with each row index appearing once."""
    if keras.backend.backend() != "tensorflow":
        return gradient
    import tensorflow as tf

    if not isinstance(gradient, tf.IndexedSlices):
        return gradient
    rows, positions = tf.unique(gradient.indices)
    values = tf.math.unsorted_segment_sum(
        gradient.values, positions, tf.shape(rows)[0]
    )
    return tf.IndexedSlices(values, rows, gradient.dense_shape)


def densify(gradient):
    """A dense tensor for a sparse or dense gradient: for update rules whose
    state depends on every row (e.g. Adan's previous gradient, which must be
    zero on rows absent from this step's gradient)."""
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        if isinstance(gradient, tf.IndexedSlices):
            return tf.convert_to_tensor(gradient)
    return gradient


def stored_values(gradient):
    """The values of a sparse gradient, or the dense gradient itself.

    After `sum_duplicate_indices` each row of a sparse gradient is stored
    once and the absent rows are zero, so a sum over all elements of g^2
    (a norm) is that sum over the stored values.
    """
    if keras.backend.backend() == "tensorflow":
        import tensorflow as tf

        if isinstance(gradient, tf.IndexedSlices):
            return gradient.values
    return gradient
