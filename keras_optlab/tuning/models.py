"""The bundled models a search can tune, each with dropout, each returning
an uncompiled model that ends in class logits:

* `"mlp"`: Dense-ReLU blocks on the flattened input. With `units=(100,
  100)` it is the MLP of MNIST-1D's paper (Greydanus 2020, "Scaling down
  deep learning with MNIST-1D", arXiv:2011.14439); the authors' later
  notebook code adds a residual connection around the second layer, which
  this model does not.
* `"conv"`: a small 2-D conv net for images.
* `"conv1d"`: the paper's 1-D CNN for sequences `(length, channels)`.
* `"gru"`: the paper's bidirectional GRU for sequences.

With `dropout_rate=0` the sequence models are the paper's exactly (its
PyTorch layers, written in Keras: same shapes, same parameter counts).
"""

import keras


def mlp(input_shape, num_classes, dropout_rate, units=(128, 64)):
    """Flatten, then Dense-ReLU-Dropout blocks, then a Dense logits layer."""
    inputs = keras.Input(shape=tuple(input_shape))
    x = keras.layers.Flatten()(inputs)
    for width in units:
        x = keras.layers.Dense(int(width), activation="relu")(x)
        x = keras.layers.Dropout(dropout_rate)(x)
    outputs = keras.layers.Dense(num_classes)(x)
    return keras.Model(inputs, outputs, name="mlp")


def conv_net(input_shape, num_classes, dropout_rate, filters=(16, 32),
             dense_units=64):
    """Conv-ReLU-MaxPool blocks, global average pooling, dropout, a Dense
    ReLU layer, dropout, and a Dense logits layer."""
    inputs = keras.Input(shape=tuple(input_shape))
    x = inputs
    for width in filters:
        x = keras.layers.Conv2D(int(width), 3, padding="same",
                                activation="relu")(x)
        if min(x.shape[1], x.shape[2]) >= 4:
            x = keras.layers.MaxPooling2D()(x)
    x = keras.layers.GlobalAveragePooling2D()(x)
    x = keras.layers.Dropout(dropout_rate)(x)
    x = keras.layers.Dense(int(dense_units), activation="relu")(x)
    x = keras.layers.Dropout(dropout_rate)(x)
    outputs = keras.layers.Dense(num_classes)(x)
    return keras.Model(inputs, outputs, name="conv_net")


def conv1d_net(input_shape, num_classes, dropout_rate, filters=(25, 25, 25)):
    """MNIST-1D's CNN: Conv1D(kernel 5, then 3, 3; stride 2; one zero on
    each side)-ReLU blocks, flatten, dropout, a Dense logits layer. On
    length 40 the three blocks give lengths 19, 10 and 5, so 125 features
    reach the classifier, as in the paper (its `ConvBase`, 5,210
    parameters with 10 classes)."""
    inputs = keras.Input(shape=tuple(input_shape))
    x = inputs
    for i, width in enumerate(filters):
        x = keras.layers.ZeroPadding1D(1)(x)
        x = keras.layers.Conv1D(int(width), 5 if i == 0 else 3, strides=2,
                                activation="relu")(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dropout(dropout_rate)(x)
    outputs = keras.layers.Dense(num_classes)(x)
    return keras.Model(inputs, outputs, name="conv1d_net")


def gru_net(input_shape, num_classes, dropout_rate, units=(6,)):
    """MNIST-1D's GRU: bidirectional GRU layers of `units` cells each way
    (the paper: one layer of 6), every time step's output flattened,
    dropout, a Dense logits layer. Keras' `reset_after=True` (its default)
    is PyTorch's GRU; the initial state is zero in both."""
    inputs = keras.Input(shape=tuple(input_shape))
    x = inputs
    for width in units:
        x = keras.layers.Bidirectional(
            keras.layers.GRU(int(width), return_sequences=True))(x)
    x = keras.layers.Flatten()(x)
    x = keras.layers.Dropout(dropout_rate)(x)
    outputs = keras.layers.Dense(num_classes)(x)
    return keras.Model(inputs, outputs, name="gru_net")


MODELS = {"mlp": mlp, "conv": conv_net, "conv1d": conv1d_net,
          "gru": gru_net}

#: The recipe's `[model]` options each model takes.
OPTIONS = {"mlp": ("units",), "conv": ("filters", "dense_units"),
           "conv1d": ("filters",), "gru": ("units",)}
