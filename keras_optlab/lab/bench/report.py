"""A benchmark report as Markdown tables, and its files."""

from keras_optlab import atomic
from keras_optlab.lab.bench.memory import MEMORY_LABELS


def _ms(stats):
    if stats is None:
        return "-"
    return (f"{stats['median_ms']:.2f} "
            f"({stats['p10_ms']:.2f}-{stats['p90_ms']:.2f})")


def _ratio(a, b):
    if a is None or b is None:
        return "-"
    return f"{b['median_ms'] / a['median_ms']:.2f}"


_MEMORY_METHODS = {
    "vmhwm": "Linux resident-set high-water mark in a fresh process, "
             "oneDNN's pooling allocator off and every buffer of 16 KiB "
             "or more mapped on allocation, unmapped on free",
    "gpu_peak": "TensorFlow's GPU allocator peak",
}


def to_markdown(report):
    """Markdown tables of a `run_benchmark` report."""
    m = report["machine"]
    bw = report["bandwidth"]
    lines = [
        f"Machine: {m['cpu']}, {m['cores']} cores; Python {m['python']}, "
        f"TensorFlow {m['tensorflow']}, Keras {m['keras']}, NumPy "
        f"{m['numpy']}.",
        "",
        f"Copy bandwidth at the start (float32, read + write): TensorFlow "
        f"{bw['tensorflow_gb_s']:.1f} GB/s, NumPy {bw['numpy_gb_s']:.1f} "
        "GB/s. The bound of each row uses the copy timed in the same "
        "rotation (copy GB/s column).",
        "",
        f"Times: one `apply` in a `tf.function`, median (p10-p90) ms of "
        f"{report['repeats']} interleaved repeats after {report['warmup']} "
        "warm-up steps. `fused`: ours, fused=True (one compiled update for "
        "all variables); `per-variable`: one compiled update per "
        "variable; `plain`: ours, fused=False; `keras`: "
        "Keras' built-in with the same math; `+xla`: the step function "
        "compiled. B/param: bytes a step must move per parameter; "
        "bound: that traffic at the copy bandwidth (with the extra reads "
        "of the rules whose math needs a whole-variable value first, see "
        "bench.EXTRA_READS); auto: what the default fused=\"auto\" runs "
        "(the fused update, or plain where marked: updates that multiply "
        "matrices); x keras: keras time / fused time; x keras "
        "at most: keras time / bound, the most any step could gain over "
        "Keras.",
        "",
    ]
    for size in sorted({r["params"] for r in report["steps"]}):
        rows = [r for r in report["steps"] if r["params"] == size]
        lines += [
            f"### {size:,} parameters in {rows[0]['variables']} variables",
            "",
            "| optimizer | B/param | state B/param | copy GB/s | bound ms | "
            "fused | "
            "per-variable | plain | keras | x keras | x keras at most | "
            "fused / bound | "
            "auto / bound | "
            "fused+xla | keras+xla | xla ratio | first call s: fused, "
            "per-variable, plain |",
            "|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|"
            "---|---|",
        ]
        for r in rows:
            c = r["candidates"]
            keras_xla = c.get("keras+xla")
            xla_ratio = "-"
            if keras_xla is not None:
                ratio = c["fused+xla"]["median_ms"] / keras_xla["median_ms"]
                xla_ratio = f"{ratio:.2f}"
            lines.append(
                f"| {r['optimizer']} | {r['bytes_moved_per_param']:.0f} | "
                f"{r['state_bytes_per_param']:.1f} | {r['copy_gb_s']:.1f} | "
                f"{r['bound_ms']:.2f} | "
                f"{_ms(c['fused'])} | {_ms(c['per-variable'])} | "
                f"{_ms(c['plain'])} | {_ms(c.get('keras'))} | "
                f"{_ratio(c['fused'], c.get('keras'))} | "
                f"{_ratio({'median_ms': r['bound_ms']}, c.get('keras'))} | "
                f"{c['fused']['fraction_of_bound']:.2f} | "
                f"{r['default_fraction_of_bound']:.2f}"
                f"{' (plain)' if r['default_path'] == 'plain' else ''} | "
                f"{_ms(c['fused+xla'])} | {_ms(keras_xla)} | {xla_ratio} | "
                f"{c['fused']['first_call_s']:.1f}, "
                f"{c['per-variable']['first_call_s']:.1f}, "
                f"{c['plain']['first_call_s']:.1f} |")
        lines.append("")
        compiled = [r for r in rows if r.get("compiled")]
        if compiled:
            lines += [
                "What XLA compiled, read from the optimized HLO "
                "(keras_optlab.engine.hlo): bytes the compiled program "
                "moves per parameter (each loop's distinct operands read "
                "once, its result written), loops over the data, "
                "temporaries as a fraction of params + grads + state, and "
                "copies. B/param is what the rule itself must move.",
                "",
                "| optimizer | B/param | fused: B/param, loops, "
                "temporaries, copies | fused+xla B/param | keras+xla "
                "B/param |",
                "|---|---|---|---|---|",
            ]
            for r in compiled:
                c = r["compiled"]

                def moved(label):
                    if label not in c:
                        return "-"
                    return f"{c[label]['traffic_bytes_per_param']:.0f}"

                fused = c.get("fused")
                cell = "-" if fused is None else (
                    f"{fused['traffic_bytes_per_param']:.0f}, "
                    f"{fused['loops']}, {fused['temporary_fraction']:.2f}, "
                    f"{fused['copies']}")
                lines.append(
                    f"| {r['optimizer']} | {r['bytes_moved_per_param']:.0f} "
                    f"| {cell} | {moved('fused+xla')} | "
                    f"{moved('keras+xla')} |")
            lines.append("")
        peaks = [r for r in rows
                 if "step_peak_extra_fraction" in r["candidates"]["fused"]]
        if peaks:
            lines += [
                "Peak memory of a step beyond what the process held "
                "before it, as a fraction of params + grads + state "
                f"({_MEMORY_METHODS[rows[0].get('memory_method', 'vmhwm')]}"
                "):",
                "",
                "| optimizer | fused | plain | keras |",
                "|---|---|---|---|",
            ]
            for r in peaks:
                c = r["candidates"]
                cells = [
                    "-" if "step_peak_extra_fraction" not in c.get(k, {})
                    else f"{c[k]['step_peak_extra_fraction']:.2f} "
                    f"({c[k]['step_peak_extra_bytes'] / 1e6:.1f} MB)"
                    for k in MEMORY_LABELS]
                lines.append(f"| {r['optimizer']} | " + " | ".join(cells)
                             + " |")
            lines.append("")
    if "fit" in report:
        f = report["fit"]
        s = f["seconds_per_epoch"]
        lines += [
            f"### model.fit, Embedding ({f['embedding_params']:,}) + MLP, "
            f"{f['params']:,} parameters, {f['steps_per_epoch']} steps per "
            f"epoch, jit_compile={f['jit_compile']}",
            "",
            "| optimizer | s per epoch, median (p10-p90) |",
            "|---|---|",
        ]
        for label, stats in s.items():
            lines.append(
                f"| {label} | {stats['median_ms'] / 1e3:.3f} "
                f"({stats['p10_ms'] / 1e3:.3f}-{stats['p90_ms'] / 1e3:.3f}) |")
        lines += ["", f"Keras Adam / ours: {f['speedup']:.2f}x", ""]
    return "\n".join(lines)


def write(report, json_path=None, markdown_path=None):
    if json_path:
        atomic.write_json(json_path, report, indent=1)
    if markdown_path:
        atomic.write_text(markdown_path, to_markdown(report))
