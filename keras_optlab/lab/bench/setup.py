"""What is benchmarked: model sizes, settings, the candidates of each
optimizer (ours fused, per variable, plain; Keras' built-in with the same
math, `keras_optlab.optimizers.keras_builtins.same_math`; each with the step
compiled) and the traffic model's extra reads."""

import numpy as np

VARIABLES = 20

QUICK_VARIABLES = 4

SIZES = (1_000_000, 10_000_000, 50_000_000)

QUICK_SIZES = (20_000,)

COLUMNS = 500

# Settings shared by ours and Keras' built-in (same math); others default.
SETTINGS = {
    "gradient_descent": {"learning_rate": 1e-3},
    "momentum": {"learning_rate": 1e-3, "momentum": 0.9},
    "nesterov": {"learning_rate": 1e-3, "momentum": 0.9},
    "nadam": {"learning_rate": 1e-3, "momentum_decay": 1.0},
    # Keras' Muon's shape factor (rms_rate 0.2) and AdamW epsilon, so that
    # keras.optimizers.Muon runs the same update beside ours; the cost of a
    # step does not depend on either.
    "muon": {"learning_rate": 0.02, "shape_scaling": "match_rms_adamw",
             "flatten_kernels": False, "adam_epsilon_mode": "hat",
             "adam_epsilon": 1e-7},
}


# The traffic model: a step reads the parameter, the gradient and each
# per-element state slot and writes the parameter and each slot, once each,
# `3 + 2 * slots` elements per parameter. Rules whose update needs a value
# that depends on a whole variable before (or after) the element-wise update
# must read some tensors once more; these extra reads per parameter (at the
# benchmark's settings, SETTINGS) and the reason, by the update rule's math:
EXTRA_READS = {
    "lars": (2, "the trust ratio needs ||w|| and ||g|| before any element "
                "can be updated: one pass reads w and g"),
    "novograd": (1, "the layer-wise second moment needs ||g||^2 before any "
                    "element can be updated: one pass reads g"),
    "prodigy": (1, "d_{k+1} needs sum |s| over every variable after all "
                   "updates (the inner product <g, x0 - x> can share the "
                   "update's pass): one pass reads s"),
}
# Issue 14 (dadapt): D-Adaptation.
EXTRA_READS.update({
    "dadaptadam": (1, "d_{k+1} needs sum |s| over every variable after all "
                      "updates (<g, s / A> shares the update's pass): one "
                      "pass reads s"),
    "dadaptsgd": (2, "||g_0|| reads every gradient before any update (each "
                     "step, kept from the first non-zero), and d_{k+1} "
                     "needs ||s|| over every variable after all updates: "
                     "one pass reads g, one reads s"),
})
# Issue 14: LAMB's and MARS' whole-variable norms.
EXTRA_READS.update({
    "lamb": (3, "the trust ratio needs ||w|| and ||r|| (r from the new m "
                "and v) before any element of w can move: one pass reads "
                "g, m, v and w and writes m and v, the update's pass reads "
                "m, v and w again"),
    "mars": (2, "the clipping of c = g + k (g - g_prev) needs ||c|| before "
                "any element is updated: one pass reads g and g_prev"),
})
# Issue 14: Adafactor at its defaults (factored, relative step, parameter
# scale, update clipping, no first moment) has no per-element slot but three
# whole-variable sums.
EXTRA_READS.update({
    "adafactor": (3, "the row and column sums of G^2 and the parameter "
                     "scale RMS(x) need all of g and x before U exists: one "
                     "pass reads g and x; the clipping needs RMS(U), U from "
                     "the new R and C, before any element moves: one pass "
                     "reads g"),
})
# Adan's previous gradient and Prodigy's x0 are per-element slots, counted
# (read and written) by the slot rule; RAdam's rectification is a scalar.


def variable_shapes(total, count=VARIABLES):
    rows = max(1, round(total / count / COLUMNS))
    return [(rows, COLUMNS)] * count


def parameter_count(size, variables=VARIABLES):
    return sum(int(np.prod(s)) for s in variable_shapes(size, variables))


class Candidate:
    def __init__(self, label, optimizer, variables, jit_compile):
        import tensorflow as tf

        self.label = label
        self.optimizer = optimizer
        self.times = []

        def apply(gradients):
            optimizer.apply(gradients, variables)

        self.step = tf.function(apply, jit_compile=jit_compile)


def candidates_for(name, variables):
    import keras_optlab
    from keras_optlab.engine import fused
    from keras_optlab.optimizers import keras_builtins

    setting = SETTINGS.get(name, {"learning_rate": 1e-3})
    ours = keras_optlab.optimizers.get(name, **setting)
    config = ours.get_config()
    made = []

    def add(label, optimizer, jit):
        made.append(Candidate(label, optimizer, variables, jit))

    add("fused", keras_optlab.optimizers.get(name, fused=True, **setting),
        False)
    per_variable = keras_optlab.optimizers.get(name, fused=True, **setting)
    fused.compile_per_variable(per_variable)
    add("per-variable", per_variable, False)
    add("plain", keras_optlab.optimizers.get(name, fused=False, **setting),
        False)
    builtin = keras_builtins.same_math(name, config)
    if builtin is not None:
        add("keras", builtin, False)
    add("fused+xla", keras_optlab.optimizers.get(name, fused=True, **setting),
        True)
    builtin = keras_builtins.same_math(name, config)
    if builtin is not None:
        add("keras+xla", builtin, True)
    return made
