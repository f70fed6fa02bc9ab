"""What an XLA-compiled update costs, read from its optimized HLO text.

An update step is bound by memory traffic, and XLA decides that traffic:
which loops it fuses, which values it keeps as whole temporaries, which
state buffers it copies before writing them in place. Reading the optimized
HLO (TensorFlow: `compiler_ir` below; JAX: `jax.jit(f).lower(...).compile()
.as_text()`) gives both numbers without timing anything, so tests can hold
them and the benchmark can print them beside its timings.

Only the entry computation is read: on CPU every loop there is one pass over
its operands (a `fusion`, a `copy`, a `reduce`...), and the instructions
inside a fusion run in registers.
"""

import re
import warnings


def _device_name(variables):
    """Where a compiled update runs, named for `experimental_get_compiler_ir`.

    Left to itself that method finds the device by creating a
    `random_normal` op in the current graph: inside a train step's trace
    that op would stay in the user's graph and, compiled, advance XLA's
    random state every step.
    """
    import keras
    import tensorflow as tf

    for variable in variables:
        if isinstance(variable, keras.Variable):
            variable = variable.value
        if variable.device:
            return variable.device
    with tf.init_scope():
        return tf.identity(tf.constant(0.0)).device


def compiler_ir(function, specs, variables, stage="optimized_hlo"):
    """The compiler IR of `tf.function` `function` for arguments `specs`,
    at `stage`, on the device of `variables`. Passing the device keeps TF
    from probing for it (see `_device_name`); TF 2.21 calls that argument
    deprecated but still probes when given only its replacement."""
    with warnings.catch_warnings():
        warnings.filterwarnings("ignore", "device_name is being deprecated")
        return function.experimental_get_compiler_ir(*specs)(
            stage=stage, device_name=_device_name(variables))


_BYTES = {"pred": 1, "s8": 1, "u8": 1, "bf16": 2, "f16": 2, "s16": 2,
          "u16": 2, "f32": 4, "s32": 4, "u32": 4, "f64": 8, "s64": 8,
          "u64": 8, "c64": 8, "c128": 16}
_INSTRUCTION = re.compile(
    r"^\s*(ROOT\s+)?%(\S+)\s*=\s*(\w+)\[([\d,]*)\]\S*\s+([\w-]+)\((.*)")
_ROOT_TUPLE = re.compile(r"^\s*ROOT\s+%\S+\s*=\s*\(.*\)\s+tuple\((.*)\)")
_ALIAS = re.compile(r"\{(\d*)\}:\s*\((\d+),")
_NAME = re.compile(r"%([\w.-]+)")
# Instructions that neither allocate nor move data: views and constants.
_NO_BUFFER = {"parameter", "tuple", "get-tuple-element", "bitcast"}
_NO_TRAFFIC = _NO_BUFFER | {"constant"}


def _operands(rest):
    """The operand names of an instruction, from the text after its `(`."""
    depth = 1
    for end, char in enumerate(rest):
        depth += {"(": 1, ")": -1}.get(char, 0)
        if depth == 0:
            return set(_NAME.findall(rest[:end]))
    return set(_NAME.findall(rest))


def analyze(hlo):
    """Memory and traffic of one compiled module.

    - `argument_bytes`: its parameters (variables, gradients, state,
      scalars);
    - `temporary_bytes`: every array the entry computation makes that is
      neither an argument, a view of one, nor an output XLA writes in place
      over its variable (`input_output_alias`). A `copy` of a state buffer
      counts here, and so does a temporary XLA keeps because an expensive
      value (a square root, a quotient) feeds several loops. The sum bounds
      the peak from above (buffer assignment may reuse some);
    - `copies`: `copy` instructions of arrays (a copy of a scalar, such as
      the step counter a whole compiled train step increments, moves a few
      bytes and is left out);
    - `traffic_bytes`: bytes every loop reads (each distinct operand once)
      and writes;
    - `loops`: how many such loops run.
    """
    header = hlo.split("\n", 1)[0]
    aliased_outputs = {int(output or 0)
                       for output, _ in _ALIAS.findall(header)}
    entry = hlo[hlo.index("\nENTRY "):]
    sizes, kinds, outputs = {}, {}, []
    traffic = loops = array_copies = 0
    for line in entry.splitlines()[1:]:
        tuple_match = _ROOT_TUPLE.match(line)
        if tuple_match:
            outputs = _NAME.findall(tuple_match.group(1))
            continue
        match = _INSTRUCTION.match(line)
        if not match:
            continue
        root, name, dtype, dims, opcode, rest = match.groups()
        size = _BYTES.get(dtype, 4)
        for dim in filter(None, dims.split(",")):
            size *= int(dim)
        sizes[name], kinds[name] = size, opcode
        if opcode == "copy" and dims:
            array_copies += 1
        if root:
            outputs = [name]
        if opcode not in _NO_TRAFFIC:
            loops += 1
            traffic += size + sum(sizes.get(operand, 0)
                                  for operand in _operands(rest))
    in_place = {name for index, name in enumerate(outputs)
                if index in aliased_outputs}
    return {
        "argument_bytes": sum(size for name, size in sizes.items()
                              if kinds[name] == "parameter"),
        "temporary_bytes": sum(
            size for name, size in sizes.items()
            if kinds[name] not in _NO_BUFFER and name not in in_place),
        "copies": array_copies,
        "traffic_bytes": traffic,
        "loops": loops,
    }
