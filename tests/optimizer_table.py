"""The one table of optimizers that drives the generic tests.

Adding an optimizer means adding a row here: it then gets the reference,
base-option, serialisation, save-and-reload, sparse, jit, distribution and
digits tests. `test_table_covers_registry` fails while a registered optimizer
has no row.
"""

import dataclasses

import keras

from keras_optlab.optimizers import keras_builtins
from tests import references as refs


@dataclasses.dataclass
class Row:
    name: str  # short name in keras_optlab.optimizers
    reference: type  # NumPy reference class from tests/references.py
    # Hyperparameter settings for the step-by-step tests; each also passed
    # to the reference. Several per optimizer, edge cases included.
    settings: list
    # A learning rate at which a small MLP learns the digits data.
    digits_learning_rate: float
    # True where a sparse gradient only scatters into the rows it names
    # (no dense write of the parameters), checked in the compiled graph.
    sparse_writes: bool = False
    # True where sparse gradients are applied lazily (state of rows not in
    # the gradient is not decayed), so sparse and dense runs differ by design.
    lazy_sparse: bool = False
    # Learning rates at which tests/test_convergence.py reaches the minimum
    # of each of its problems ({"parabola": lr, "rosenbrock": lr}); None
    # while not yet chosen, and the row is then left out of that test.
    convergence_learning_rates: dict = None
    # The shapes of the variables in tests/test_references.py's
    # step-by-step test (None: helpers.SHAPES); matrix methods name the
    # shapes their preconditioners need (MATRIX_SHAPES).
    reference_shapes: list = None
    # False for a matrix method (Muon, Shampoo): its update multiplies
    # matrices (Newton-Schulz products, eigendecompositions of Kronecker
    # factors, blocks sliced out and concatenated back), whose workspaces
    # are temporaries of the size of the variables, so the elementwise
    # bound of tests/test_xla_forms.py (temporaries within MEMORY_SLACK of
    # the arguments) cannot hold; that test then checks for copies only,
    # and the row's own test bounds the temporaries by what its matrix
    # work needs (tests/test_muon.py, tests/test_shampoo.py).
    elementwise: bool = True
    # Where a compiled (XLA) update cannot avoid parameter-sized buffers:
    # (copies, temporaries) per variable, each temporary the size of the
    # variable, and why (tests/test_xla_forms.py holds the row to exactly
    # those copies and at most those temporaries beyond its 10% slack).
    # None: no copy, temporaries within the slack.
    xla_buffers: tuple = None

    def keras_builtin(self, config):
        """Keras' built-in optimizer with the same math, built from our
        optimizer's full config (every hyperparameter explicit), or None
        where the setting (or the optimizer) has no Keras equivalent: the
        package's own `keras_builtins.same_math`, which the speed harness
        also times."""
        return keras_builtins.same_math(self.name, config)


TABLE = [
    Row("gradient_descent", refs.GradientDescentRef,
        [{"learning_rate": 0.1}, {"learning_rate": 0.01}],
        digits_learning_rate=0.1, sparse_writes=True,
        convergence_learning_rates={"parabola": 0.1, "rosenbrock": 0.002}),
    Row("momentum", refs.MomentumRef,
        [{"learning_rate": 0.05, "momentum": 0.9},
         {"learning_rate": 0.1, "momentum": 0.0},
         {"learning_rate": 0.01, "momentum": 0.99}],
        digits_learning_rate=0.02,
        convergence_learning_rates={"parabola": 0.1, "rosenbrock": 0.001}),
    Row("nesterov", refs.NesterovRef,
        [{"learning_rate": 0.05, "momentum": 0.9},
         {"learning_rate": 0.1, "momentum": 0.0},
         {"learning_rate": 0.01, "momentum": 0.5}],
        digits_learning_rate=0.02,
        convergence_learning_rates={"parabola": 0.1, "rosenbrock": 0.001}),
    Row("adagrad", refs.AdagradRef,
        [{"learning_rate": 0.1},
         {"learning_rate": 0.05, "initial_accumulator_value": 0.1,
          "epsilon": 1e-8},
         {"learning_rate": 0.05, "initial_accumulator_value": 0.125},
         {"learning_rate": 0.1, "epsilon_mode": "outside", "epsilon": 1.0},
         {"learning_rate": 0.1, "epsilon_mode": "outside", "epsilon": 1e-8}],
        digits_learning_rate=0.05, sparse_writes=True,
        convergence_learning_rates={"parabola": 1.0, "rosenbrock": 0.5}),
    Row("adadelta", refs.AdadeltaRef,
        [{"learning_rate": 1.0},
         {"learning_rate": 0.5, "rho": 0.9, "epsilon": 1e-8},
         {"learning_rate": 1.0, "rho": 0.0, "epsilon": 1.0}],
        digits_learning_rate=1.0,
        convergence_learning_rates={"parabola": {"learning_rate": 1.0, "epsilon": 1e-4}}),
    Row("rmsprop", refs.RMSpropRef,
        [{"learning_rate": 0.01},
         {"learning_rate": 0.01, "momentum": 0.9, "rho": 0.95},
         {"learning_rate": 0.01, "centered": True, "epsilon": 1e-8},
         {"learning_rate": 0.005, "centered": True, "momentum": 0.5,
          "epsilon": 1.0}],
        digits_learning_rate=0.002,
        convergence_learning_rates={"parabola": 0.03, "rosenbrock": 0.001}),
    Row("adam", refs.AdamRef,
        [{"learning_rate": 0.01},
         {"learning_rate": 0.01, "epsilon": 1e-8, "epsilon_mode": "outside"},
         {"learning_rate": 0.01, "epsilon": 1.0, "epsilon_mode": "hat"},
         {"learning_rate": 0.01, "epsilon": 1.0, "epsilon_mode": "outside"},
         {"learning_rate": 0.01, "epsilon": 0.1, "epsilon_mode": "hat"},
         {"learning_rate": 0.01, "amsgrad": True, "beta_1": 0.5,
          "beta_2": 0.9},
         {"learning_rate": 0.01, "amsgrad": True, "epsilon": 1e-8,
          "epsilon_mode": "outside"},
         {"learning_rate": 0.01, "beta_1": 0.0, "epsilon": 1e-8}],
        digits_learning_rate=0.003,
        convergence_learning_rates={"parabola": 0.1, "rosenbrock": 0.01}),
    Row("adamw", refs.AdamWRef,
        [{"learning_rate": 0.01, "weight_decay": 0.1},
         {"learning_rate": 0.01, "weight_decay": 0.004, "amsgrad": True},
         {"learning_rate": 0.01, "weight_decay": 0.05, "epsilon": 1.0,
          "epsilon_mode": "outside"}],
        digits_learning_rate=0.003,
        convergence_learning_rates={"parabola": {"learning_rate": 0.1, "weight_decay": 1e-5},
                                    "rosenbrock": {"learning_rate": 0.01, "weight_decay": 1e-5}}),
    Row("adamax", refs.AdamaxRef,
        [{"learning_rate": 0.01},
         {"learning_rate": 0.02, "beta_1": 0.5, "beta_2": 0.9,
          "epsilon": 1e-8},
         {"learning_rate": 0.01, "epsilon": 1.0}],
        digits_learning_rate=0.005,
        convergence_learning_rates={"parabola": 0.1, "rosenbrock": 0.01}),
    Row("nadam", refs.NadamRef,
        [{"learning_rate": 0.01},
         {"learning_rate": 0.01, "momentum_decay": 1.0},
         {"learning_rate": 0.01, "epsilon_mode": "hat", "epsilon": 1.0},
         {"learning_rate": 0.01, "epsilon_mode": "outside", "epsilon": 1.0,
          "beta_2": 0.99},
         {"learning_rate": 0.01, "momentum_decay": 1.0, "epsilon": 1e-8,
          "beta_1": 0.8}],
        digits_learning_rate=0.003,
        convergence_learning_rates={"parabola": 0.1, "rosenbrock": 0.003}),
    Row("radam", refs.RAdamRef,
        # beta_2 0.999: momentum steps t <= 4 (threshold 4) or t <= 5
        # (threshold 5), adaptive after; beta_2 0.9 with threshold 15 first
        # adapts at t = 25.
        [{"learning_rate": 0.01},
         {"learning_rate": 0.01, "sma_threshold": 5.0, "epsilon_mode": "hat",
          "epsilon": 1e-8},
         {"learning_rate": 0.01, "beta_1": 0.5, "beta_2": 0.99,
          "epsilon": 1.0},
         {"learning_rate": 0.01, "beta_2": 0.9, "sma_threshold": 15.0},
         {"learning_rate": 0.01, "beta_2": 0.9999, "epsilon_mode": "hat"}],
        digits_learning_rate=0.003,
        convergence_learning_rates={"parabola": 0.1, "rosenbrock": 0.003}),
    Row("yogi", refs.YogiRef,
        [{"learning_rate": 0.01},
         # v_0 above the early g^2 and a fast beta_2: v goes down and up.
         {"learning_rate": 0.05, "beta_1": 0.0, "beta_2": 0.5,
          "initial_accumulator_value": 4.0, "epsilon": 1e-8},
         {"learning_rate": 0.01, "debias": True},
         {"learning_rate": 0.01, "beta_2": 0.9, "epsilon": 1.0,
          "initial_accumulator_value": 0.0}],
        digits_learning_rate=0.01,
        convergence_learning_rates={"parabola": 0.1, "rosenbrock": 0.03}),
    Row("adabelief", refs.AdaBeliefRef,
        [{"learning_rate": 0.01},
         {"learning_rate": 0.01, "epsilon": 1e-8},
         {"learning_rate": 0.01, "amsgrad": True, "beta_2": 0.9,
          "epsilon": 1e-8},
         # beta_1 = 0: g - m = 0, s_t is epsilon accumulated alone.
         {"learning_rate": 0.01, "beta_1": 0.0, "epsilon": 0.1}],
        digits_learning_rate=0.003,
        convergence_learning_rates={"parabola": 0.1, "rosenbrock": 0.01}),
    Row("novograd", refs.NovoGradRef,
        [{"learning_rate": 0.01},
         {"learning_rate": 0.01, "weight_decay": 0.01, "grad_averaging": True,
          "beta_1": 0.95, "beta_2": 0.98},
         {"learning_rate": 0.005, "weight_decay": 0.1, "epsilon": 1.0},
         {"learning_rate": 0.01, "beta_2": 0.0}],
        digits_learning_rate=0.01,
        convergence_learning_rates={"parabola": 0.1, "rosenbrock": 0.003}),
    # Dense gradients: LazyAdam is Adam (sparse ones: test_rule_mechanisms).
    Row("lazyadam", refs.AdamRef,
        [{"learning_rate": 0.01},
         {"learning_rate": 0.01, "amsgrad": True, "epsilon": 1e-8,
          "epsilon_mode": "outside"}],
        digits_learning_rate=0.003,
        convergence_learning_rates={"parabola": 0.1, "rosenbrock": 0.01},
        sparse_writes=True, lazy_sparse=True),
    Row("qhadam", refs.QHAdamRef,
        [{"learning_rate": 0.01},
         {"learning_rate": 0.01, "nu_1": 1.0, "nu_2": 1.0, "beta_1": 0.9},
         {"learning_rate": 0.01, "nu_1": 0.0, "nu_2": 0.0, "epsilon": 1.0},
         {"learning_rate": 0.02, "nu_2": 0.5, "beta_1": 0.0,
          "beta_2": 0.9}],
        digits_learning_rate=0.003,
        convergence_learning_rates={"parabola": 0.3, "rosenbrock": 0.002}),
    Row("adabound", refs.AdaBoundRef,
        [{"learning_rate": 0.01},
         {"learning_rate": 0.01, "final_lr": 0.05, "gamma": 0.5,
          "amsbound": True},
         {"learning_rate": 0.01, "final_lr": 0.01, "gamma": 10.0,
          "epsilon": 1.0},
         {"learning_rate": 0.01, "final_lr": 0.0, "weight_decay": 0.1,
          "beta_1": 0.0}],
        digits_learning_rate=0.003,
        convergence_learning_rates={"parabola": {"learning_rate": 0.1, "final_lr": 0.01},
                                    "rosenbrock": {"learning_rate": 0.01, "final_lr": 0.01}}),
    Row("adan", refs.AdanRef,
        [{"learning_rate": 0.01},
         {"learning_rate": 0.01, "weight_decay": 0.05},
         {"learning_rate": 0.01, "epsilon_mode": "outside",
          "weight_decay": 0.05},
         {"learning_rate": 0.01, "beta_1": 0.0, "beta_2": 0.0,
          "beta_3": 0.0},
         {"learning_rate": 0.02, "beta_1": 0.9, "beta_2": 0.7,
          "beta_3": 0.8, "epsilon": 1.0, "weight_decay": 0.5}],
        digits_learning_rate=0.01,
        convergence_learning_rates={"parabola": 1.0, "rosenbrock": 0.003}),
    Row("lars", refs.LARSRef,
        [{"learning_rate": 1.0},
         {"learning_rate": 0.5, "weight_decay": 0.01, "momentum": 0.5,
          "eta": 0.01},
         {"learning_rate": 0.1, "weight_decay": 0.1,
          "exclude_from_adaptation": ["v1"]},
         {"learning_rate": 2.0, "momentum": 0.0, "eta": 0.02}],
        digits_learning_rate=3.0,
        convergence_learning_rates={"parabola": 0.7, "rosenbrock": 0.3}),
    Row("prodigy", refs.ProdigyRef,
        [{"learning_rate": 1.0},
         {"learning_rate": 1.0, "weight_decay": 0.1,
          "use_bias_correction": True},
         {"learning_rate": 0.5, "safeguard_warmup": True, "beta_3": 0.9,
          "growth_rate": 2.0},
         {"learning_rate": 1.0, "d0": 1e-3, "beta_1": 0.0,
          "epsilon": 1e-6}],
        digits_learning_rate=1.0,
        convergence_learning_rates={"parabola": 1.0, "rosenbrock": 0.03}),
    # Issue 14 (opt-b): MADGRAD, AdEMAMix.
    Row("madgrad", refs.MADGRADRef,
        [{"learning_rate": 0.01},
         {"learning_rate": 0.01, "momentum": 0.0},
         {"learning_rate": 0.05, "momentum": 0.5, "weight_decay": 0.05,
          "epsilon": 1e-3},
         # epsilon above the cube root of nu early on.
         {"learning_rate": 0.002, "momentum": 0.99, "epsilon": 1.0}],
        digits_learning_rate=0.01,
        convergence_learning_rates={"parabola": 0.03, "rosenbrock": 0.003}),
    Row("ademamix", refs.AdEMAMixRef,
        [{"learning_rate": 0.01},
         # Both schedulers run for 20 of the 60 steps, then stay.
         {"learning_rate": 0.01, "warmup_steps": 20},
         {"learning_rate": 0.01, "warmup_steps": 100, "beta_3": 0.999,
          "alpha": 8.0, "epsilon": 1e-3},
         # beta_1 > beta_3: the min of f_beta3 holds beta_3 throughout.
         {"learning_rate": 0.01, "warmup_steps": 30, "beta_1": 0.95,
          "beta_3": 0.5, "alpha": 2.0},
         {"learning_rate": 0.01, "warmup_steps": 1, "beta_3": 0.99},
         {"learning_rate": 0.01, "beta_1": 0.0, "beta_2": 0.9,
          "alpha": 0.0, "epsilon": 1.0}],
        digits_learning_rate=0.003,
        # beta_3 0.99: at 0.9999 the slow EMA (half-life ~6900 steps) still
        # holds the first gradients when the budgets end (test_convergence).
        convergence_learning_rates={
            "parabola": {"learning_rate": 0.1, "beta_3": 0.99},
            "rosenbrock": {"learning_rate": 0.01, "beta_3": 0.99}}),
]

# Issue 14 (opt-a): ADOPT, Lion, LAMB.


def _decaying(initial, decay_steps, decay_rate):
    """A learning rate that shrinks to the tolerance: Lion's sign step and
    LAMB's step of length lr * ||x|| keep their size at a constant rate."""
    return keras.optimizers.schedules.ExponentialDecay(
        initial, decay_steps=decay_steps, decay_rate=decay_rate)


TABLE += [
    Row("adopt", refs.ADOPTRef,
        # Random gradients: |g_t| / sqrt(v_{t-1}) is often above c_t, so
        # the clip acts; beta_2 = 0 with clip_exponent 0 clips at 1 the
        # ratio of two random gradients.
        [{"learning_rate": 0.01},
         {"learning_rate": 0.01, "clip_exponent": None},
         {"learning_rate": 0.02, "beta_2": 0.0, "clip_exponent": 0.0},
         {"learning_rate": 0.01, "beta_1": 0.5, "beta_2": 0.9,
          "epsilon": 1.0},
         {"learning_rate": 0.01, "beta_1": 0.0, "weight_decay": 0.05}],
        digits_learning_rate=0.003,
        # v keeps the large early Rosenbrock gradients for ~1/(1 - beta_2)
        # = 10^4 steps, so the step near the minimum is small: lr 0.3 (1.0
        # also passes, 0.1 ends 0.012 away).
        convergence_learning_rates={"parabola": 0.1, "rosenbrock": 0.3}),
    Row("lion", refs.LionRef,
        [{"learning_rate": 0.01},
         {"learning_rate": 0.01, "beta_1": 0.5, "beta_2": 0.9,
          "weight_decay": 0.1},
         {"learning_rate": 0.003, "beta_1": 0.0},
         # c_t = m_{t-1}: no move at t = 1 (sign(0) = 0).
         {"learning_rate": 0.01, "beta_1": 1.0, "beta_2": 0.0}],
        digits_learning_rate=0.0003,
        convergence_learning_rates={
            "parabola": {"learning_rate": _decaying(0.3, 50, 0.3)},
            "rosenbrock": {"learning_rate": _decaying(0.01, 1000, 0.5)}}),
    Row("lamb", refs.LAMBRef,
        [{"learning_rate": 0.01},
         {"learning_rate": 0.01, "weight_decay": 0.1},
         {"learning_rate": 0.02, "beta_1": 0.0, "beta_2": 0.9,
          "epsilon": 1.0, "weight_decay": 0.01},
         {"learning_rate": 0.01, "beta_1": 0.5, "beta_2": 0.99,
          "epsilon": 1e-8}],
        digits_learning_rate=0.01,
        convergence_learning_rates={
            "parabola": {"learning_rate": _decaying(0.3, 50, 0.3)},
            "rosenbrock": {"learning_rate": _decaying(0.03, 1000, 0.3)}}),
]

# Issue 14 (muon): Muon.


TABLE += [
    # SHAPES (3, 4), (5,), (2, 2, 3): a wide matrix (no transpose, factor
    # sqrt(4/3) under "original"), a vector (AdamW), a conv-like kernel
    # viewed as (4, 3) (transposed, factor 1). Larger and 4-D shapes:
    # tests/test_muon.py.
    Row("muon", refs.MuonRef,
        [{"learning_rate": 0.02},
         {"learning_rate": 0.02, "nesterov": False, "ns_steps": 1},
         # Keras' Muon's rule (keras_builtin): its factor, its AdamW.
         {"learning_rate": 0.01, "momentum": 0.9, "ns_steps": 10,
          "shape_scaling": "match_rms_adamw", "flatten_kernels": False,
          "adam_epsilon_mode": "hat", "adam_epsilon": 1e-7,
          "adam_lr_ratio": 1.0, "adam_beta_2": 0.999},
         {"learning_rate": 0.05, "exclude_layers": ["v0"],
          "shape_scaling": "none", "weight_decay": 0.1, "adam_beta_1": 0.0,
          "adam_beta_2": 0.9, "adam_lr_ratio": 0.5},
         # momentum 0 (plain orthogonalised gradient), epsilon above the
         # norm of small gradients.
         {"learning_rate": 0.02, "momentum": 0.0, "epsilon": 1.0,
          "ns_steps": 3, "adam_epsilon": 1.0}],
        digits_learning_rate=0.02,
        # On the two problems' vectors Muon is its AdamW (lr *
        # adam_lr_ratio); the Muon step on matrices converges in
        # tests/test_muon.py. Parabola: with beta_2 0.95 the step circles
        # 0.004 away at lr 0.1 (0.002 at 0.03); 0.999 ends within 1e-10.
        convergence_learning_rates={
            "parabola": {"learning_rate": 0.1, "adam_lr_ratio": 1.0,
                         "adam_beta_2": 0.999},
            "rosenbrock": {"learning_rate": 0.01, "adam_lr_ratio": 1.0}},
        elementwise=False),
]


# Issue 14 (sf): the Schedule-Free family.


TABLE += [
    Row("schedule_free_sgd", refs.ScheduleFreeSGDRef,
        [{"learning_rate": 0.1},
         # Warm-up over 20 of the 60 steps: c follows lr_max^2.
         {"learning_rate": 0.1, "warmup_steps": 20, "momentum": 0.5},
         {"learning_rate": 0.05, "warmup_steps": 10, "r": 1.0,
          "weight_lr_power": 0.0, "weight_decay": 0.1},
         {"learning_rate": 0.2, "momentum": 0.99, "r": 0.5}],
        digits_learning_rate=0.3,
        # x, where y ends up, is the average of the z's since the start: on
        # these deterministic problems the far first iterates keep weight
        # 1/t with r = 0; r = 4 weights the last ones (3.7e-4 from the
        # Rosenbrock minimum in the NumPy reference; r = 0 ends 0.05 away).
        convergence_learning_rates={
            "parabola": 0.5,
            "rosenbrock": {"learning_rate": 0.002, "r": 4.0}}),
    Row("schedule_free_adamw", refs.ScheduleFreeAdamWRef,
        [{"learning_rate": 0.01},
         {"learning_rate": 0.01, "warmup_steps": 20},
         # No lr weighting: c = 1/t during warm-up too (Keras' rule).
         {"learning_rate": 0.01, "warmup_steps": 20, "weight_lr_power": 0.0},
         {"learning_rate": 0.02, "weight_decay": 0.1, "r": 2.0,
          "beta_1": 0.5, "beta_2": 0.9},
         {"learning_rate": 0.01, "beta_2": 0.0, "epsilon": 1.0,
          "beta_1": 0.99}],
        digits_learning_rate=0.003,
        # Rosenbrock (NumPy reference): r = 0 at lr 0.03 ends 3.7e-3 away,
        # the lr-sized normalised steps across the valley averaged with
        # weight 1/t; beta_2 0.99, beta_1 0.95 and r = 2 end 1.9e-4 away.
        convergence_learning_rates={
            "parabola": 0.3,
            "rosenbrock": {"learning_rate": 0.005, "beta_1": 0.95,
                           "beta_2": 0.99, "r": 2.0}}),
    Row("schedule_free_radam", refs.ScheduleFreeRAdamRef,
        # beta_2 = 0.999: silent for t <= 5, then rectified steps.
        # First: SGD steps for t <= 5 (a silent first setting would not
        # move in test_fused's 3 steps).
        [{"learning_rate": 0.01, "silent_sgd_phase": False},
         {"learning_rate": 0.01},
         # beta_2 = 0.9: rho_inf = 19, Adam from t = 6 on as well.
         {"learning_rate": 0.02, "beta_2": 0.9, "weight_decay": 0.1,
          "r": 1.0, "silent_sgd_phase": False},
         # beta_2 = 0.5: rho_inf = 3, SGD phase throughout.
         {"learning_rate": 0.01, "beta_2": 0.5, "silent_sgd_phase": False,
          "beta_1": 0.5, "weight_lr_power": 0.0}],
        digits_learning_rate=0.003,
        # The rectified step grows slowly from 0: the parabola needs lr 1.0
        # (r = 1: 6e-5 from the minimum; lr 0.1 ends 0.32 away in 500 steps).
        convergence_learning_rates={
            "parabola": {"learning_rate": 1.0, "r": 1.0},
            "rosenbrock": {"learning_rate": 0.005, "beta_1": 0.95,
                           "beta_2": 0.99, "r": 2.0}}),
]


# Issue 14 (mars): MARS. The random gradients of the step tests have norms
# above 1, so c_t is clipped there; tests/test_rule_mechanisms.py follows
# the reference with small gradients too, where it is not.
TABLE += [
    Row("mars", refs.MARSRef,
        [{"learning_rate": 0.01},
         # No correction: AdamW on the gradient clipped to norm 1.
         {"learning_rate": 0.01, "gamma": 0.0},
         # A large correction, k = gamma b1 / (1 - b1) = 9, with decay.
         {"learning_rate": 0.01, "gamma": 1.0, "beta_1": 0.9,
          "weight_decay": 0.1},
         # beta_1 = 0: k = 0 whatever gamma.
         {"learning_rate": 0.01, "beta_1": 0.0, "beta_2": 0.9,
          "epsilon": 1.0},
         {"learning_rate": 0.005, "gamma": 0.5, "beta_1": 0.99,
          "beta_2": 0.999, "epsilon": 1e-3}],
        digits_learning_rate=0.003,
        convergence_learning_rates={"parabola": 0.1, "rosenbrock": 0.01}),
]


# Issue 14 (dadapt): D-Adaptation.

TABLE += [
    Row("dadaptadam", refs.DAdaptAdamRef,
        [{"learning_rate": 1.0},
         {"learning_rate": 1.0, "weight_decay": 0.1,
          "use_bias_correction": True},
         {"learning_rate": 0.5, "weight_decay": 0.05, "decouple": False,
          "growth_rate": 1.05},
         {"learning_rate": 1.0, "d0": 1e-3, "beta_1": 0.0, "beta_2": 0.9,
          "epsilon": 1e-6}],
        digits_learning_rate=1.0,
        convergence_learning_rates={"parabola": 1.0, "rosenbrock": 0.03},
        xla_buffers=(0, 2, "sqrt(v_{k+1}) + epsilon is read by the sum "
                     "<s_k, g_k / (sqrt(v_{k+1}) + epsilon)> and by the "
                     "step, in two loops: XLA holds it; measured: 1 "
                     "variable-sized temporary on TensorFlow, 2 on JAX. "
                     "(s_{k+1} is written after that sum, which reads s_k: "
                     "no copy of s_k since the engine orders the write, "
                     "stop 28; before, 1 copy and 2 temporaries on "
                     "TensorFlow, 3 on JAX.)")),
    Row("dadaptsgd", refs.DAdaptSGDRef,
        # First a d0 from which d grows within the few steps of the
        # generic tests (from 1e-6 the parameters move by ~1e-5 in 60).
        [{"learning_rate": 1.0, "d0": 1e-2},
         {"learning_rate": 1.0},
         {"learning_rate": 1.0, "momentum": 0.0, "d0": 1e-3},
         {"learning_rate": 0.5, "weight_decay": 0.05, "growth_rate": 1.05},
         {"learning_rate": 2.0, "momentum": 0.5, "d0": 1e-2}],
        digits_learning_rate=1.0,
        # Rosenbrock at the default 1.0 ends 6e-15 away (0.3: 3e-5; 0.1:
        # 0.06 after the 10000 steps).
        convergence_learning_rates={"parabola": 1.0, "rosenbrock": 1.0}),
]


# Issue 14 (shampoo): Shampoo.

# A scalar, vectors (the diagonal fallback), two matrices and a
# convolution kernel (order 4: four factors, roots ^(-1/8)).
MATRIX_SHAPES = [(), (1,), (7,), (16, 9), (64, 33), (3, 3, 4, 8)]

TABLE += [
    Row("shampoo", refs.ShampooRef,
        # 60 steps each: the defaults recompute the roots at t = 10, 20,
        # ..., 60; block_size 32 cuts (64, 33) into 2 x 2 blocks (two of
        # them 32 x 1), block_size 40 into 40 x 33 and 24 x 33 (a conv
        # kernel cut in blocks: tests/test_references.py).
        [{"learning_rate": 0.01},
         # The 32 x 1 blocks' left factors have rank t < 32: their zero
         # eigenvalues come out of any eigh as +-1e-16 lambda_max, which
         # moves (lambda + epsilon)^(-1/4) by 1e-16 lambda_max / (4
         # epsilon) relative: epsilon 1e-3 keeps that under the test's
         # rtol 1e-9 (at 1e-6 one entry in 2112 differs by 1.8e-9).
         {"learning_rate": 0.01, "block_size": 32, "beta_2": 0.9,
          "precondition_frequency": 7, "start_preconditioning_step": 3,
          "grafting": "adagrad", "epsilon": 1e-3},
         # The paper's algorithm: sums, roots every step, no grafting,
         # no momentum.
         {"learning_rate": 0.01, "grafting": None, "beta_1": 0.0,
          "precondition_frequency": 1, "start_preconditioning_step": 1,
          "epsilon": 1e-2},
         {"learning_rate": 0.01, "grafting": "sgd", "block_size": 40,
          "beta_2": 0.99, "beta_1": 0.5, "precondition_frequency": 15,
          "weight_decay": 0.05},
         {"learning_rate": 0.003, "grafting": None, "beta_2": 0.5,
          "epsilon": 1.0, "precondition_frequency": 20,
          "start_preconditioning_step": 1}],
        digits_learning_rate=0.003,
        convergence_learning_rates={"parabola": 0.1, "rosenbrock": 0.01},
        reference_shapes=MATRIX_SHAPES, elementwise=False),
]

# Issue 14 (adafactor): Adafactor.


TABLE += [
    # SHAPES (3, 4), (5,), (2, 2, 3): a factored matrix, a vector (V whole),
    # a stack of two 2 x 3 matrices factored over the last two axes.
    Row("adafactor", refs.AdafactorRef,
        # rho_t = min(0.2, 1/sqrt(t)) leaves 0.2 at t = 26 (Keras' rule).
        [{"learning_rate": 0.2, "beta_2_decay": -0.65},
         # A first moment; the floor epsilon_2 above RMS(X); clipping at
         # 0.5, which acts on most steps.
         {"learning_rate": 0.05, "beta_1": 0.9, "beta_2_decay": -0.5,
          "clip_threshold": 0.5, "epsilon_2": 2.0},
         # An absolute step: rho_t = lr, no parameter scale, no clipping;
         # beta_2_t = 1 - 1/t, the mean of all G^2 + epsilon_1.
         {"learning_rate": 0.01, "relative_step": False,
          "scale_parameter": False, "clip_threshold": None,
          "beta_2_decay": -1.0, "epsilon_1": 1e-3}],
        digits_learning_rate=0.01,
        # Rosenbrock (NumPy reference): without a first moment the
        # RMS-normalised step keeps crossing the valley, 0.02 to 0.04 away
        # at lr 0.003 to 1; beta_1 0.9 ends 9e-6 (lr 0.01) to 2e-15 (0.1)
        # away. Parabola: lr 0.03 ends 7e-4 away, 0.3 at the minimum.
        convergence_learning_rates={
            "parabola": 0.1,
            "rosenbrock": {"learning_rate": 0.03, "beta_1": 0.9}},
        xla_buffers=(0, 2, "JAX's CPU XLA (jax 0.10) computes G^2 once "
                     "for the row and the column sums of a matrix and "
                     "holds it, and holds U = G * row * column factors "
                     "for sum(U^2) (its sums do not take a broadcast "
                     "product in): 290,548 B of temporaries against "
                     "330,160 B of arguments in the whole step; "
                     "TensorFlow holds G^2 of the matrix: 143,868 B in "
                     "the whole step, 134,216 B in the fused update of a "
                     "256 x 128 matrix and a vector (summed in blocks, "
                     "1,608 B, but slower than unfused: "
                     "benchmarks/RESULTS.md)")),
]

# Issue 14 (soap): SOAP.

TABLE += [
    Row("soap", refs.SOAPRef,
        # 60 steps each on MATRIX_SHAPES: the scalar and vectors are Adam;
        # the first eigh comes at t = f (10: after 10 gradients every
        # factor has full rank, so no eigenvector is arbitrary), power
        # iterations and QR at 20, ..., 60.
        [{"learning_rate": 0.003},
         # max_precondition_dim 12: (64, 33) is Adam, (16, 9) rotated
         # along its 9 only, the kernel along every dimension; refreshes
         # at 7 (eigh), 14, ..., 56.
         {"learning_rate": 0.003, "max_precondition_dim": 12,
          "precondition_frequency": 7, "beta_1": 0.9, "beta_2": 0.99,
          "shampoo_beta": 0.8, "weight_decay": 0.05},
         # 29 power iterations, no momentum, a large epsilon.
         {"learning_rate": 0.01, "precondition_frequency": 2,
          "beta_1": 0.0, "epsilon": 1e-3}],
        digits_learning_rate=0.003,
        # The two problems' variables are vectors: SOAP is Adam there, at
        # Adam's rates and betas (with beta_2 0.95 the parabola's step
        # circles the minimum, as Muon's AdamW does).
        convergence_learning_rates={
            "parabola": {"learning_rate": 0.1, "beta_1": 0.9,
                         "beta_2": 0.999},
            "rosenbrock": {"learning_rate": 0.01, "beta_1": 0.9,
                           "beta_2": 0.999}},
        reference_shapes=MATRIX_SHAPES, elementwise=False),
]

BY_NAME = {row.name: row for row in TABLE}


def settings_params():
    """(row, setting) pairs with readable ids, for pytest.mark.parametrize."""
    import pytest

    return [
        pytest.param(row, setting, id=f"{row.name}-{i}")
        for row in TABLE
        for i, setting in enumerate(row.settings)
    ]


def rows_params():
    import pytest

    return [pytest.param(row, id=row.name) for row in TABLE]
