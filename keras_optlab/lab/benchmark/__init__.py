"""`optlab benchmark`: AlgoPerf's method (Dahl et al. 2023, arXiv:2306.07179)
on workloads a laptop can run: time and steps to a validation target under
the self-tuning and external-tuning rulesets, performance profiles and the
benchmark score.

* `workloads`: the `Workload` object and the bundled workloads.
* `candidates`: what a candidate names: an optimizer, a wrapper, a schedule.
* `run`: one trial, the rulesets, the records (`records.jsonl`) and resuming.
* `distributed`: the trials in several processes, through Keras Tuner's
  chief/worker oracle.
* `profiles`: performance ratios, profiles and the benchmark score.
* `report`: the per-workload table, the scores, the winners, JSON and a
  picture of the profiles.
"""
