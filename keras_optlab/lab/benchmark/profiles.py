"""Performance profiles and AlgoPerf's benchmark score.

From Dahl et al. 2023, "Benchmarking Neural Network Training Algorithms"
(arXiv:2306.07179), section "Scoring", after Dolan and Moré 2002:

* `t[s, w]`: the time submission `s` (here: an optimizer) needs to reach
  workload `w`'s validation target; infinite when it did not reach it.
* performance ratio `r[s, w] = t[s, w] / min_s' t[s', w]`: 1 for the
  fastest submission on `w`, infinite for one that did not reach.
* performance profile `rho_s(tau) = |{w : r[s, w] <= tau}| / n_workloads`:
  the fraction of workloads `s` reaches within a factor `tau` of the
  fastest; a step function of `tau`, non-decreasing, between 0 and 1.
* benchmark score `B_s = 1 / (r_max - 1) * integral from 1 to r_max of
  rho_s(tau) d tau`, with `r_max = 4` (AlgoPerf's value): 1 when `s` is the
  fastest on every workload, 0 when it never comes within a factor
  `r_max`.

Differences from a sampled implementation: the integral is computed
exactly, as the sum of the rectangles of the step function (each workload
with `r <= r_max` contributes `(r_max - r) / ((r_max - 1) * n)`), so no
grid of `tau` values decides a score. A workload no submission reached
counts in `n` and gives every submission 0 on it (all its ratios are
infinite), so a score stays comparable across runs with the same
workloads. Ties share the ratio 1.
"""

import math

#: AlgoPerf's upper end of the integral.
R_MAX = 4.0


def _check_times(times):
    """`times`: `{submission: {workload: seconds or None/inf}}`, every
    submission over the same workloads; returns the workloads, sorted."""
    if not times:
        raise ValueError("Performance profiles need at least one "
                         "submission. Received: times={}")
    workloads = None
    for submission, row in times.items():
        keys = sorted(row)
        if workloads is None:
            workloads = keys
        elif keys != workloads:
            raise ValueError(
                f"Every submission needs a time on the same workloads; "
                f"submission {submission!r} has {keys}, another has "
                f"{workloads}. Received: times={times!r}")
        for workload, value in row.items():
            if value is not None and not (
                    isinstance(value, (int, float)) and
                    (value > 0 or math.isinf(value))):
                raise ValueError(
                    "A time to target is a positive number, inf or None "
                    f"(did not reach). Received: times[{submission!r}]"
                    f"[{workload!r}]={value!r}")
    if not workloads:
        raise ValueError("Performance profiles need at least one "
                         f"workload. Received: times={times!r}")
    return workloads


def _time(value):
    return math.inf if value is None else float(value)


def performance_ratios(times):
    """`{submission: {workload: r}}`, `r = t / min over submissions of t`;
    infinite where the submission (or every submission) did not reach."""
    workloads = _check_times(times)
    ratios = {s: {} for s in times}
    for workload in workloads:
        best = min(_time(row[workload]) for row in times.values())
        for submission, row in times.items():
            t = _time(row[workload])
            ratios[submission][workload] = (
                math.inf if math.isinf(t) else t / best)
    return ratios


def profile(ratios, tau):
    """`rho_s(tau)` of every submission: `{submission: fraction}`."""
    return {s: sum(r <= tau for r in row.values()) / len(row)
            for s, row in ratios.items()}


def profile_steps(row, r_max=R_MAX):
    """One submission's profile as a step function on `[1, r_max]`:
    `[(tau, rho)]`, `rho` holding from `tau` to the next `tau`."""
    n = len(row)
    points = [(1.0, sum(r <= 1.0 for r in row.values()) / n)]
    for r in sorted(r for r in row.values() if 1.0 < r <= r_max):
        points.append((r, sum(x <= r for x in row.values()) / n))
    return points


def benchmark_scores(times, r_max=R_MAX):
    """AlgoPerf's score of every submission: `{submission: B}`, the exact
    integral of its profile from 1 to `r_max`, divided by `r_max - 1`."""
    if not r_max > 1:
        raise ValueError(f"r_max must be > 1. Received: r_max={r_max!r}")
    ratios = performance_ratios(times)
    scores = {}
    for submission, row in ratios.items():
        area = sum(r_max - r for r in row.values() if r <= r_max)
        scores[submission] = area / ((r_max - 1.0) * len(row))
    return scores
