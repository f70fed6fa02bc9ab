"""What the step-timing scripts of benchmarks/ share: checked arguments, a
step traced once per candidate, and medians of interleaved repeats (each
repeat starts with the next candidate, so no candidate always runs first
or after the same neighbour)."""

import argparse
import statistics
import time


def positive_integer(name):
    """An argparse type that refuses anything but a positive integer,
    naming the argument and the value received."""
    def parse(text):
        try:
            value = int(text)
        except ValueError:
            value = 0
        if value < 1:
            raise argparse.ArgumentTypeError(
                f"{name} must be a positive integer. Received: {text!r}")
        return value
    return parse


def timing_arguments(doc, repeats, variables=None):
    """The parser of a step-timing script: its docstring's first line,
    `--repeats` (interleaved timed repeats, default `repeats`) and, where
    `variables` is given, `--variables` (how many, that default)."""
    parser = argparse.ArgumentParser(description=doc.splitlines()[0])
    parser.add_argument("--repeats", type=positive_integer("--repeats"),
                        default=repeats)
    if variables is not None:
        parser.add_argument("--variables",
                            type=positive_integer("--variables"),
                            default=variables)
    return parser


def compiled_step(optimizer, variables):
    """`optimizer.apply` on `variables` inside one `tf.function`, as a
    train step runs it."""
    import tensorflow as tf

    @tf.function(autograph=False)
    def step(gradients):
        optimizer.apply(gradients, variables)
    return step


def interleaved_seconds(candidates, repeats):
    """{label: [seconds per repeat]} for `candidates`, a list of (label,
    step, gradients), each step already traced and warmed up."""
    times = {label: [] for label, _, _ in candidates}
    for repeat in range(repeats):
        shift = repeat % len(candidates)
        for label, step, gradients in (candidates[shift:]
                                       + candidates[:shift]):
            start = time.perf_counter()
            step(gradients)
            times[label].append(time.perf_counter() - start)
    return times


def summary(seconds):
    """'median M ms  min m' of a list of seconds."""
    return (f"median {1e3 * statistics.median(seconds):7.2f} ms  "
            f"min {1e3 * min(seconds):7.2f}")
