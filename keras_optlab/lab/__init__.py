"""The lab's tools: `compare` (optimizers side by side on one model, each
with a small learning-rate search), `landscape` (test functions and
trajectory pictures), `bench` (the speed and memory harness of the
update steps) and `benchmark` (`optlab benchmark`: AlgoPerf's method, time
to a validation target on small workloads, performance profiles)."""
