"""Speed of the optimizers' update steps, side by side with Keras' own.

For each registered optimizer and model size (parameters split over
`VARIABLES` float32 variables) one `apply_gradients` inside a `tf.function`
is timed for these candidates:

- `fused`: ours with `fused=True` (one XLA-compiled update for all
  variables, the default), the step function itself not compiled;
- `per-variable`: the same with one compiled update per variable (what a
  multi-replica strategy runs);
- `plain`: ours with `fused=False` (Keras' per-variable loop of kernels);
- `keras`: Keras' built-in with the same math, where one exists;
- `fused+xla`, `keras+xla`: the step function compiled (`jit_compile=True`).

The candidates of one optimizer share the parameters and gradients and are
run in rotation, one step each per repeat, so that drift on a shared
machine hits them all alike; medians and p10/p90 over the repeats, after
warm-up steps. The first call of each (trace and XLA compilation) is timed
separately.

The memory-bandwidth bound: a step must read the parameter, the gradient
and each per-element state slot once and write the parameter and each slot
once, `itemsize * (3 + 2 * slots + extra reads)` bytes per parameter
(Adam, 2 slots: 28 bytes), slots counted from the optimizer's own
variables. The extra reads are the passes that reductions over a whole
variable need by the rule's math (LARS' norms, NovoGrad's layer-wise
moment, Prodigy's sum of |s|), declared with their reasons in
`EXTRA_READS`. The bandwidth is
measured in the same rotation as the candidates: a float32 copy of as many
elements as the model has parameters, by TensorFlow (`dst.assign(-src)`,
one read and one write of each element), timed between the candidates of
every repeat, so the bound sees the same load they do. A copy of
`COPY_ELEMENTS` elements by TensorFlow and by NumPy (`np.copyto`) at the
start of the run is reported too.

The package, by job: setup.py (what is compared: sizes, settings,
candidates), hardware.py (CPU, bandwidth, statistics), processes.py (a
function in a fresh process), timing.py (steps against the bound),
memory.py (peak memory of a step), fit.py (`model.fit` per epoch),
run.py (`run_benchmark`, the whole run, a JSON-serialisable dict) and
report.py (`to_markdown`, `write`)."""

from keras_optlab.lab.bench.fit import time_fit  # noqa: F401
from keras_optlab.lab.bench.hardware import machine  # noqa: F401
from keras_optlab.lab.bench.hardware import memory_bandwidth  # noqa: F401
from keras_optlab.lab.bench.memory import MEMORY_ENV  # noqa: F401
from keras_optlab.lab.bench.memory import MEMORY_LABELS  # noqa: F401
from keras_optlab.lab.bench.memory import step_memory  # noqa: F401
from keras_optlab.lab.bench.memory import step_memory_child  # noqa: F401
from keras_optlab.lab.bench.report import to_markdown  # noqa: F401
from keras_optlab.lab.bench.report import write  # noqa: F401
from keras_optlab.lab.bench.run import run_benchmark  # noqa: F401
from keras_optlab.lab.bench.setup import EXTRA_READS  # noqa: F401
from keras_optlab.lab.bench.setup import QUICK_SIZES  # noqa: F401
from keras_optlab.lab.bench.setup import QUICK_VARIABLES  # noqa: F401
from keras_optlab.lab.bench.setup import SETTINGS  # noqa: F401
from keras_optlab.lab.bench.setup import SIZES  # noqa: F401
from keras_optlab.lab.bench.setup import VARIABLES  # noqa: F401
from keras_optlab.lab.bench.timing import time_optimizer  # noqa: F401
from keras_optlab.lab.bench.timing import time_optimizer_isolated  # noqa: F401
