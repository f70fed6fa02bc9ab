"""One benchmark in several processes, on one machine or many, through
Keras Tuner's chief/worker oracle (the engine `optlab tune --chief/--worker`
uses).

How it runs:

1. The chief builds the `run.Benchmark` (plan checked, finished records
   read) and puts its unfinished trials in a `PlanOracle`: a Keras Tuner
   `Oracle` whose one hyperparameter is a trial's index in the plan, handed
   out in plan order, one per request. Keras Tuner's own gRPC service
   (`OracleServicer`) serves it (`serving`).
2. Each worker builds the same `Benchmark` from the same arguments and asks
   the chief for a trial through Keras Tuner's `OracleClient`, trains it,
   writes its record to its own `<out>/records-<worker>.jsonl` and the
   trial's TensorBoard run, tells the chief the trial ended, and asks again
   until the chief says stop (`run_worker`).
3. The chief serves until every trial it handed out has ended and every
   worker that asked has been told to stop (`PlanOracle.finished`); the
   next reader merges the workers' files into `records.jsonl`
   (`run.merge_records`).

Only a trial's index travels between processes; records go to files. So
workers on other machines need `out` on a file system the chief's machine
also reads, or their `records-<worker>.jsonl` copied into one folder
afterwards: a rerun there finds every trial done and writes the report.

Surviving kills: every finished record is in a file before the chief hears
of it, so a rerun, in one process or several, trains only what is missing;
a trial cut short on a worker trains again from its start. A chief whose
worker died holding a trial waits for it: stop the chief and rerun.

`run_in_processes` does all of it on one machine: the chief in this
process on 127.0.0.1 (a free port), N worker processes, which die with it.
"""

import contextlib
import os
import re
import shutil
import subprocess
import threading
import time
import traceback

import keras_tuner as kt

from keras_optlab.lab.benchmark import report
from keras_optlab.lab.benchmark import run as run_module

#: The plan oracle's one hyperparameter: the trial's index in the plan.
INDEX = "index"
#: Keras Tuner's record of which trial went where, under `out`.
ORACLE_DIR = "oracle"
_WORKER_ID = re.compile(r"^[A-Za-z0-9_.-]+$")


def check_worker(worker):
    """A worker's ID names its records file: letters, digits, `_`, `.` and
    `-`, without "chief" (Keras Tuner's name for the chief)."""
    if not (isinstance(worker, str) and _WORKER_ID.match(worker)) or \
            "chief" in worker:
        raise ValueError("A worker ID is letters, digits, '_', '.' and '-', "
                         f"without 'chief'. Received: worker={worker!r}")
    return worker


class PlanOracle(kt.Oracle):
    """Hands out the indices `indices` (a benchmark's unfinished trials),
    in order, one per `create_trial`; then tells every worker to stop.

    Failed trials are neither retried nor counted toward Keras Tuner's
    consecutive-failure limit: the worker that failed exits with its error,
    and a rerun trains the trial again.
    """

    def __init__(self, indices, directory):
        hyperparameters = kt.HyperParameters()
        hyperparameters.Int(INDEX, 0, max(list(indices) + [1]))
        super().__init__(objective=kt.Objective("reached", "max"),
                         hyperparameters=hyperparameters,
                         max_consecutive_failed_trials=None)
        self.verbose = 0
        self.indices = list(indices)
        self.handed_out = 0
        shutil.rmtree(os.path.join(directory, ORACLE_DIR),
                      ignore_errors=True)
        self._set_project_dir(directory, ORACLE_DIR)

    def populate_space(self, trial_id):
        if self.handed_out >= len(self.indices):
            return {"status": "STOPPED", "values": None}
        index = self.indices[self.handed_out]
        self.handed_out += 1
        return {"status": "RUNNING", "values": {INDEX: index}}

    def finished(self):
        """Every index handed out, every trial ended, every worker that
        asked told to stop."""
        return (self.handed_out >= len(self.indices) and
                not self.ongoing_trials and not self.tuner_ids)

    def failed(self):
        """The plan indices of the trials that ended failed."""
        return [t.hyperparameters.get(INDEX) for t in self.trials.values()
                if t.status == "FAILED"]


@contextlib.contextmanager
def serving(oracle, host, port):
    """Keras Tuner's gRPC oracle service for `oracle` at `host:port` (port
    0: a free one) while the block runs; yields the port."""
    from concurrent import futures

    import grpc
    from keras_tuner.src import protos
    from keras_tuner.src.distribute.oracle_chief import OracleServicer

    # One thread, as Keras Tuner's own chief: requests are served in turn.
    # gRPC reuses ports by default: two chiefs on one port would share
    # its workers unnoticed; without, the second fails to listen.
    server = grpc.server(futures.ThreadPoolExecutor(max_workers=1),
                         options=[("grpc.so_reuseport", 0)])
    protos.get_service_grpc().add_OracleServicer_to_server(
        OracleServicer(oracle), server)
    try:
        bound = server.add_insecure_port(f"{host}:{port}")
    except RuntimeError:
        bound = 0
    if not bound:
        raise OSError(f"The chief cannot listen at {host}:{port} (in use, or "
                      f"not this machine's address). Received: "
                      f"oracle='{host}:{port}'")
    server.start()
    try:
        yield bound
    finally:
        server.stop(grace=None)


def run_chief(benchmark, host, port, progress=print, poll_seconds=0.5):
    """Serves `benchmark`'s unfinished trials at `host:port` to workers
    until `PlanOracle.finished`; returns the plan indices that failed on a
    worker (empty when all went well)."""
    say = progress or (lambda line: None)
    oracle = PlanOracle(benchmark.pending(), benchmark.out)
    with serving(oracle, host, port) as bound:
        os.makedirs(benchmark.out, exist_ok=True)
        say(f"chief: serving {len(oracle.indices)} of "
            f"{len(benchmark.entries)} trials at {host}:{bound}; workers "
            "train them")
        while not oracle.finished():
            time.sleep(poll_seconds)
    return oracle.failed()


@contextlib.contextmanager
def _environment(**variables):
    previous = {k: os.environ.get(k) for k in variables}
    os.environ.update(variables)
    try:
        yield
    finally:
        for name, value in previous.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value


def run_worker(benchmark, host, port, worker, progress=print,
               callbacks=None):
    """Trains the trials the chief at `host:port` hands out, until it says
    stop; returns the records this worker trained.

    Each record goes to `<out>/records-<worker>.jsonl` (rewritten
    atomically) and its TensorBoard run, before the chief hears the trial
    ended. A trial that raises is reported failed, and the error raised.
    """
    from keras_tuner.src.distribute.oracle_client import OracleClient

    check_worker(worker)
    _die_with_local_chief()
    # Keras Tuner's client reads the chief's address from its variables.
    with _environment(KERASTUNER_ORACLE_IP=host,
                      KERASTUNER_ORACLE_PORT=str(port),
                      KERASTUNER_TUNER_ID=worker):
        client = OracleClient(None)
    if progress is not None:
        progress(f"worker {worker}: asking the chief at {host}:{port} for "
                 "trials")
    name = run_module.shard_name(worker)
    records = run_module.read_records_file(os.path.join(benchmark.out, name))
    mine = []
    os.makedirs(benchmark.out, exist_ok=True)
    while True:
        trial = client.create_trial(worker)
        if trial.status == "STOPPED":
            return mine
        if trial.status != "RUNNING":  # the chief is busy
            time.sleep(0.2)
            continue
        index = int(trial.hyperparameters.get(INDEX))
        # (Done already when another process's record appeared since the
        # chief read `out`: reported, not trained again.)
        record = benchmark.done.get(benchmark.key(index))
        if record is None:
            try:
                record = benchmark.train(index, callbacks)
            except BaseException:
                trial.status = "FAILED"
                trial.message = traceback.format_exc()
                client.end_trial(trial)
                raise
            records.append(record)
            run_module.write_records(benchmark.out, records, name)
            report.write_tensorboard_run(benchmark.out, record)
            mine.append(record)
            if progress is not None:
                progress(f"[{index + 1}/{len(benchmark.entries)}] "
                         f"{run_module.describe(record)}")
        client.update_trial(trial.trial_id,
                            {"reached": float(record["reached"])})
        trial.status = "COMPLETED"
        client.end_trial(trial)


#: Set by `run_in_processes` in its workers' environment: the chief's pid.
CHIEF_PID = "KERAS_OPTLAB_CHIEF_PID"


def _die_with_local_chief():
    """In a worker started by `run_in_processes` (Linux): SIGTERM when the
    chief's process dies, so a killed chief leaves no worker waiting for it
    (Keras Tuner's client waits an hour for an answer)."""
    chief = os.environ.get(CHIEF_PID)
    if not chief:
        return
    try:
        import ctypes
        import signal

        ctypes.CDLL("libc.so.6").prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG
    except (OSError, AttributeError):
        return
    if os.getppid() != int(chief):  # it died before prctl took effect
        raise SystemExit("the chief that started this worker has exited")


def run_in_processes(benchmark, processes, worker_command, progress=print):
    """Trains `benchmark`'s unfinished trials in `processes` worker
    processes on this machine, the chief in this process on 127.0.0.1.

    Args:
        benchmark: a `run.Benchmark`.
        processes: how many workers.
        worker_command: `worker_command(worker, "127.0.0.1:PORT")`, the
            argv of one worker process (`optlab benchmark ... --worker ID
            --oracle ADDRESS` with the same plan).
        progress: called with each line a worker prints, prefixed by its
            ID, and the chief's own lines.

    Returns the plan's records, every worker's merged into `records.jsonl`.
    Raises RuntimeError naming each worker that failed and its last lines;
    the trials that finished are kept, and a rerun trains the rest.
    """
    say = progress or (lambda line: None)
    lock = threading.Lock()
    os.makedirs(benchmark.out, exist_ok=True)
    oracle = PlanOracle(benchmark.pending(), benchmark.out)
    workers, tails = {}, {}

    def relay(worker, stream):
        for line in stream:
            tails[worker] = (tails[worker] + [line.rstrip()])[-5:]
            with lock:
                say(f"[{worker}] {line.rstrip()}")

    if not oracle.indices:
        say(f"chief: all {len(benchmark.entries)} trials have their record")
        run_module.merge_records(benchmark.out)
        return benchmark.records()
    with serving(oracle, "127.0.0.1", 0) as port:
        with lock:
            say(f"chief: {len(oracle.indices)} of {len(benchmark.entries)} "
                f"trials to train in {processes} processes (127.0.0.1:"
                f"{port})")
        relays = []
        for k in range(processes):
            worker = f"local{k}"
            tails[worker] = []
            workers[worker] = subprocess.Popen(
                worker_command(worker, f"127.0.0.1:{port}"),
                stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                env=dict(os.environ, **{CHIEF_PID: str(os.getpid())}))
            relays.append(threading.Thread(
                target=relay, args=(worker, workers[worker].stdout),
                daemon=True))
            relays[-1].start()
        for process in workers.values():
            process.wait()
        for thread in relays:
            thread.join()
    run_module.merge_records(benchmark.out)
    benchmark.read_records()
    failed = {w: p.returncode for w, p in workers.items() if p.returncode}
    if failed:
        raise RuntimeError(
            "; ".join(f"worker {w} exited with status {status}: "
                      + " | ".join(tails[w]) for w, status in failed.items())
            + f". The trials that finished are in {benchmark.out}; rerun "
            "to train the rest.")
    return benchmark.records()
