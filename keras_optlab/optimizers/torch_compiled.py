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

Known limit (benchmarks/RESULTS.md): every optimizer compiles the same
function, and TorchDynamo stops recompiling it after
`torch._dynamo.config.recompile_limit` (8) variants in one process; later
optimizers then run eagerly, with torch's log warning but no error.
"""

import warnings


class _Compiled:
    """The compiled step of one optimizer; a plain object, so Keras'
    attribute tracking leaves it out of saved models. `step` is None after
    a failed compilation."""

    def __init__(self, step):
        self.step = step
        self.tried = False


def update_step(optimizer, eager_step, grads, trainable_variables,
                learning_rate):
    """Runs `eager_step(grads, trainable_variables, learning_rate)` (Keras'
    per-variable loop) compiled, or eagerly where it cannot be compiled."""
    compiled = optimizer.__dict__.get("_torch_compiled")
    if compiled is None:
        import torch

        compiled = _Compiled(torch.compile(eager_step))
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
