"""Training on several machines with TensorFlow's own engine (tf.distribute).

`train.strategy` picks the strategy: `default` (one device), `mirrored` (every GPU of one
machine) or `multi_worker` (`MultiWorkerMirroredStrategy`: one process per machine, collective
all-reduce over gRPC). A multi-worker cluster is described by the `TF_CONFIG` environment
variable, or by `--cluster HOST:PORT,HOST:PORT --task I`, which writes TF_CONFIG before the
strategy is created (TensorFlow reads it only then). Every worker runs the same command.

Who writes what: the chief (the `chief` task, else worker 0) writes the artifacts and the commit
point (state.json, checkpoints, best weights, level dirs). The other workers run exactly the same
code, because saving reads variables through collective ops that need every worker, but their
writes go to a scratch mirror of the path (`write_path`), deleted when the command ends. Resuming
reads the chief's commit point, so the run dir must be on a filesystem every worker sees (as
Keras' BackupAndRestore requires). Every decision taken from a computed number (best epoch, early
stopping) uses the chief's number (`chief_values`), so the workers never take different branches.

No TensorFlow at import: the CLI calls `cluster_from_cli` and `set_tf_config`.
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from acdeploy.errors import ConfigError

TASK_TYPES = ("chief", "worker")
SCRATCH_ENV = "ACDEPLOY_SCRATCH"  # scratch root of non-chief workers (default: the system temp dir)


@dataclass(frozen=True)
class Cluster:
    """The training tasks of a multi-worker run and which one this process is."""

    chief: tuple[str, ...]
    workers: tuple[str, ...]
    task_type: str
    task_index: int

    @property
    def num_workers(self) -> int:
        return len(self.chief) + len(self.workers)

    @property
    def is_chief(self) -> bool:
        return self.task_type == "chief" or (not self.chief and self.task_index == 0)

    def tf_config(self) -> str:
        spec = {"worker": list(self.workers)}
        if self.chief:
            spec["chief"] = list(self.chief)
        return json.dumps({"cluster": spec, "task": {"type": self.task_type, "index": self.task_index}})


def _address(text: str, where: str) -> str:
    host, sep, port = text.strip().rpartition(":")
    if not sep or not host or not port.isdigit() or not 0 < int(port) < 65536:
        raise ConfigError(f"{where}: '{text}' is not HOST:PORT")
    return f"{host}:{port}"


def cluster_from_cli(cluster: str, task: int | None) -> Cluster:
    """--cluster HOST:PORT,HOST:PORT,... --task I: worker I of these workers (worker 0 is the chief)."""
    workers = tuple(_address(a, "--cluster") for a in cluster.split(",") if a.strip())
    if not workers:
        raise ConfigError("--cluster: give the workers as HOST:PORT,HOST:PORT")
    if len(set(workers)) != len(workers):
        raise ConfigError(f"--cluster: an address appears twice ({cluster})")
    if task is None:
        raise ConfigError("--cluster: give this process's --task (0 .. number of workers - 1)")
    if not 0 <= task < len(workers):
        raise ConfigError(f"--task: {task} is not one of the {len(workers)} workers (0 .. {len(workers) - 1})")
    return Cluster((), workers, "worker", task)


def parse_tf_config(text: str, where: str = "TF_CONFIG") -> Cluster:
    """The cluster of a TF_CONFIG value ({"cluster": {"worker": [...], "chief": [...]}, "task": ...})."""
    try:
        cfg = json.loads(text)
    except json.JSONDecodeError as e:
        raise ConfigError(f"{where}: not valid JSON ({e.msg} at character {e.pos})") from None
    spec, task = (cfg.get("cluster"), cfg.get("task")) if isinstance(cfg, dict) else (None, None)
    if not isinstance(spec, dict) or not isinstance(task, dict):
        raise ConfigError(f"{where}: expected an object with 'cluster' and 'task'")
    other = sorted(set(spec) - set(TASK_TYPES))
    if other:
        raise ConfigError(f"{where}: cluster.{other[0]}: only 'chief' and 'worker' tasks train (no parameter servers)")
    lists = {}
    for kind in TASK_TYPES:
        addrs = spec.get(kind, [])
        if not isinstance(addrs, list):
            raise ConfigError(f"{where}: cluster.{kind}: expected a list of HOST:PORT")
        lists[kind] = tuple(_address(str(a), f"{where}: cluster.{kind}") for a in addrs)
    if len(lists["chief"]) > 1:
        raise ConfigError(f"{where}: cluster.chief: at most one chief, got {len(lists['chief'])}")
    kind, index = task.get("type"), task.get("index", 0)
    if kind not in TASK_TYPES:
        raise ConfigError(f"{where}: task.type: expected 'chief' or 'worker', got {kind!r}")
    if not isinstance(index, int) or not 0 <= index < len(lists[kind]):
        raise ConfigError(f"{where}: task.index: {index!r} is not one of the {len(lists[kind])} {kind} tasks")
    return Cluster(lists["chief"], lists["worker"], kind, index)


def current_cluster() -> Cluster | None:
    """The cluster TF_CONFIG describes (validated), or None when it is unset."""
    text = os.environ.get("TF_CONFIG", "").strip()
    return parse_tf_config(text) if text else None


def set_tf_config(cluster: Cluster) -> None:
    """Describe `cluster` in TF_CONFIG for this process; must run before the strategy exists."""
    os.environ["TF_CONFIG"] = cluster.tf_config()


def cli_overrides(cluster: str | None, task: int | None) -> dict:
    """Config overrides for --cluster/--task (train.strategy = multi_worker); sets TF_CONFIG."""
    if cluster is None:
        if task is not None:
            raise ConfigError("--task: only with --cluster")
        return {}
    set_tf_config(cluster_from_cli(cluster, task))
    return {"train.strategy": "multi_worker"}


def make_strategy(name: str):
    """The tf.distribute strategy of `train.strategy`; 'default' is TensorFlow's one-device strategy.

    multi_worker reads TF_CONFIG (checked here first, so a bad value is one line, not a TensorFlow
    traceback); without it the process is a one-worker cluster.
    """
    import tensorflow as tf

    if name == "mirrored":
        return tf.distribute.MirroredStrategy()
    if name == "multi_worker":
        current_cluster()
        return tf.distribute.MultiWorkerMirroredStrategy()
    return tf.distribute.get_strategy()


def _strategy(strategy):
    if strategy is not None:
        return strategy
    import tensorflow as tf

    return tf.distribute.get_strategy()


def num_workers(strategy=None) -> int:
    """Processes that train together (1 unless multi-worker)."""
    resolver = getattr(_strategy(strategy), "cluster_resolver", None)
    if resolver is None:
        return 1
    spec = resolver.cluster_spec().as_dict()
    return max(1, sum(len(spec.get(k, [])) for k in TASK_TYPES))


def is_chief(strategy=None) -> bool:
    """True for the process that writes the artifacts (always, outside multi-worker training)."""
    return bool(getattr(_strategy(strategy).extended, "should_checkpoint", True))


def task_name(strategy=None) -> str:
    resolver = getattr(_strategy(strategy), "cluster_resolver", None)
    if resolver is None or not resolver.task_type:
        return "chief"
    return f"{resolver.task_type}_{resolver.task_id}"


def scratch_root(strategy=None) -> Path:
    """Where a non-chief worker writes: `$ACDEPLOY_SCRATCH` (default: the system temp dir)
    / acdeploy-scratch-<task>-<uid>."""
    base = os.environ.get(SCRATCH_ENV) or tempfile.gettempdir()
    uid = os.getuid() if hasattr(os, "getuid") else 0
    return Path(base) / f"acdeploy-scratch-{task_name(strategy)}-{uid}"


def write_path(path: str | Path, strategy=None) -> Path:
    """`path` on the chief; on another worker the same absolute path under its scratch root."""
    path = Path(path)
    if is_chief(strategy):
        return path
    return scratch_root(strategy) / str(path.resolve()).lstrip(os.sep)


def remove_scratch(path: str | Path, strategy=None) -> None:
    """Delete a non-chief worker's scratch copy of `path` (nothing on the chief)."""
    if is_chief(strategy):
        return
    root, p = scratch_root(strategy), write_path(path, strategy)
    if p.is_dir() and not p.is_symlink():
        shutil.rmtree(p, ignore_errors=True)
    else:
        p.unlink(missing_ok=True)
    for parent in p.parents:  # and the directories that only held it
        if parent == root.parent:
            break
        try:
            parent.rmdir()
        except OSError:
            break


def chief_values(values, strategy=None) -> np.ndarray:
    """The chief's `values` (float64) on every worker: one all-reduce in which the other workers
    add zeros, so every worker takes the decision the chief takes. Identity with one worker."""
    values = np.asarray(values, dtype=np.float64)
    strategy = _strategy(strategy)
    if num_workers(strategy) == 1:
        return values
    import tensorflow as tf

    mine = values if is_chief(strategy) else np.zeros_like(values)
    local = strategy.num_replicas_in_sync // num_workers(strategy)  # replicas in this process

    def value(ctx):
        first = ctx.replica_id_in_sync_group % max(local, 1) == 0
        return tf.constant(mine if first else np.zeros_like(mine), tf.float64)

    per_replica = strategy.experimental_distribute_values_from_function(value)
    return strategy.reduce(tf.distribute.ReduceOp.SUM, per_replica, axis=None).numpy()


def barrier(strategy=None) -> None:
    """Wait until every worker gets here (after the chief commits, before others read it)."""
    chief_values([0.0], strategy)
