"""The fused update path on Keras' torch backend: `fused=True` only.

Keras runs an optimizer step on torch eagerly, one small kernel per
`keras.ops` call and variable, each reading and writing whole tensors, with
Python and dispatch overhead per call. Here the optimizer's own update loop
(Keras' `_backend_update_step`, which calls each variable's `update_step`;
nothing rewritten) is compiled once with `torch.compile`, whose Inductor
backend generates one fused C++ loop per variable.

Only `fused=True` compiles: the first step then pays the compilation
(15 to 27 s for Adam over 20 variables on the 2-core development machine,
benchmarks/RESULTS.md), far more than small runs gain, and it needs a C++
compiler. `fused="auto"` and `fused=False` keep Keras' eager path. Where
compilation fails (no compiler, an op TorchDynamo cannot trace), a warning
says so once and the step runs eagerly from then on.

Each optimizer compiles its own copy of the loop's code: TorchDynamo keeps
its compiled variants per code object and stops recompiling one after
`torch._dynamo.config.recompile_limit` (8) variants, so with one shared
function every optimizer after the eighth in a process (a tuning search,
the benchmark harness) silently ran eagerly (benchmarks/RESULTS.md).
"""

import types
import warnings


class _Compiled:
    """The compiled step of one optimizer; a plain object, so Keras'
    attribute tracking leaves it out of saved models. `step` is None after
    a failed compilation."""

    def __init__(self, step):
        self.step = step
        self.tried = False


def _own_copy(method):
    """`method` bound to a function with a code object of its own, so that
    TorchDynamo's cache and recompile limit apply to this optimizer alone."""
    function = method.__func__
    copy = types.FunctionType(
        function.__code__.replace(),
        function.__globals__,
        function.__name__,
        function.__defaults__,
        function.__closure__,
    )
    return types.MethodType(copy, method.__self__)


def update_step(optimizer, eager_step, grads, trainable_variables,
                learning_rate):
    """Runs `eager_step(grads, trainable_variables, learning_rate)` (Keras'
    per-variable loop) compiled, or eagerly where it cannot be compiled."""
    compiled = optimizer.__dict__.get("_torch_compiled")
    if compiled is None:
        import torch

        compiled = _Compiled(torch.compile(_own_copy(eager_step)))
        object.__setattr__(optimizer, "_torch_compiled", compiled)
    if compiled.step is None:
        return eager_step(grads, trainable_variables, learning_rate)
    if compiled.tried:
        return compiled.step(grads, trainable_variables, learning_rate)
    compiled.tried = True
    try:
        return compiled.step(grads, trainable_variables, learning_rate)
    except Exception as error:  # the compiler's own error, reported once
        compiled.step = None
        warnings.warn(
            f"fused=True could not compile the update step with "
            f"torch.compile; it runs eagerly. torch said: "
            f"{str(error).splitlines()[0][:300] if str(error) else error!r}",
            stacklevel=4,
        )
        return eager_step(grads, trainable_variables, learning_rate)
