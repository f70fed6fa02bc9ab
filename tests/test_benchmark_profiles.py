"""AlgoPerf's performance profiles and benchmark score
(keras_optlab/lab/benchmark/profiles.py) against cases computed by hand:
ratio r = t / fastest t, profile rho(tau) = fraction of workloads with
r <= tau, score = integral of rho from 1 to 4, divided by 3."""

import math

import pytest

from keras_optlab.lab.benchmark import profiles


def test_two_optimizers_each_fastest_once():
    times = {"a": {"w1": 10.0, "w2": 30.0}, "b": {"w1": 20.0, "w2": 15.0}}
    ratios = profiles.performance_ratios(times)
    assert ratios == {"a": {"w1": 1.0, "w2": 2.0},
                      "b": {"w1": 2.0, "w2": 1.0}}
    # a: rho = 1/2 on [1, 2), 1 on [2, 4] -> (1/2 * 1 + 1 * 2) / 3 = 5/6.
    scores = profiles.benchmark_scores(times)
    assert scores["a"] == pytest.approx(5 / 6, abs=1e-12)
    assert scores["b"] == pytest.approx(5 / 6, abs=1e-12)
    assert profiles.profile(ratios, 1.0) == {"a": 0.5, "b": 0.5}
    assert profiles.profile(ratios, 1.999) == {"a": 0.5, "b": 0.5}
    assert profiles.profile(ratios, 2.0) == {"a": 1.0, "b": 1.0}


def test_ties_share_ratio_one():
    times = {"a": {"w": 10.0}, "b": {"w": 10.0}, "c": {"w": 20.0}}
    scores = profiles.benchmark_scores(times)
    assert scores["a"] == scores["b"] == 1.0
    # c: ratio 2, rho = 1 on [2, 4]: 2 / 3.
    assert scores["c"] == pytest.approx(2 / 3, abs=1e-12)


def test_did_not_reach_anywhere_scores_zero():
    times = {"a": {"w1": None, "w2": math.inf},
             "b": {"w1": None, "w2": None}}
    ratios = profiles.performance_ratios(times)
    assert all(math.isinf(r) for row in ratios.values()
               for r in row.values())
    assert profiles.benchmark_scores(times) == {"a": 0.0, "b": 0.0}


def test_a_workload_nobody_reached_counts_in_the_denominator():
    times = {"a": {"w1": 5.0, "w2": None}, "b": {"w1": 10.0, "w2": None}}
    scores = profiles.benchmark_scores(times)
    assert scores["a"] == pytest.approx(0.5, abs=1e-12)  # (3 + 0) / 6
    assert scores["b"] == pytest.approx(1 / 3, abs=1e-12)  # (2 + 0) / 6


def test_single_submission():
    times = {"only": {"w1": 3.0, "w2": 7.0, "w3": None}}
    assert profiles.benchmark_scores(times) == {
        "only": pytest.approx(2 / 3, abs=1e-12)}
    assert profiles.profile_steps(
        profiles.performance_ratios(times)["only"]) == [(1.0, 2 / 3)]


def test_one_workload_ratio_beyond_r_max_scores_zero():
    times = {"a": {"w": 10.0}, "b": {"w": 25.0}, "c": {"w": 50.0}}
    scores = profiles.benchmark_scores(times)
    assert scores["a"] == 1.0
    assert scores["b"] == pytest.approx((4 - 2.5) / 3, abs=1e-12)
    assert scores["c"] == 0.0


def test_exact_integral_matches_a_fine_riemann_sum():
    times = {"a": {"w1": 1.0, "w2": 3.0, "w3": 2.0, "w4": None},
             "b": {"w1": 1.7, "w2": 1.0, "w3": 5.0, "w4": 4.0},
             "c": {"w1": 3.5, "w2": 2.2, "w3": 1.0, "w4": 9.0}}
    ratios = profiles.performance_ratios(times)
    n = 30000
    taus = [1.0 + 3.0 * (i + 0.5) / n for i in range(n)]
    for s, exact in profiles.benchmark_scores(times).items():
        sampled = sum(profiles.profile({s: ratios[s]}, t)[s]
                      for t in taus) / n
        assert exact == pytest.approx(sampled, abs=1e-3)
        steps = profiles.profile_steps(ratios[s])
        assert [rho for _, rho in steps] == sorted(rho for _, rho in steps)


@pytest.mark.parametrize("times, message", [
    ({}, "at least one submission"),
    ({"a": {}}, "at least one workload"),
    ({"a": {"w": 1.0}, "b": {"v": 1.0}}, "same workloads"),
    ({"a": {"w": 0.0}}, r"times\['a'\]\['w'\]=0.0"),
    ({"a": {"w": -1.0}}, "positive number"),
])
def test_bad_times_are_one_line_errors(times, message):
    with pytest.raises(ValueError, match=message):
        profiles.benchmark_scores(times)
