"""The lottery-ticket run: levels (trunk) and branches (controls), open_lth style.

RUN/
  run_config.yaml    the config of the run (a rerun must match it, except lth.levels)
  rewind.npz         every layer's weights at the rewind point (epoch lth.rewind_epoch of level 0)
  level_00/          the dense model trained in this run from the seeded initialisation
  level_NN/          model.keras (stripped), mask.npz, metrics.json, model_info.json, config.yaml
  branches/<name>/   controls, same files (reinit, oneshot)
  summary.json, lth.png, ticket.json, ticket/ (a copy of the chosen level: `compress quantize` input)
  .work/             trainer checkpoints of the level in progress
Every level dir appears whole (atomic_dir) and is never redone, so a killed run continues at the
first missing level. Masks are always derived from the SAVED previous level, so a resumed run
computes exactly the masks of an uninterrupted one.
"""

from __future__ import annotations

import dataclasses
import json
import math
import shutil
import sys
from pathlib import Path

import numpy as np

from acdeploy import artifacts, fileio
from acdeploy.compress.masks import Mask, granularity_plan, prune, prune_layerwise
from acdeploy.config import dump_yaml, to_dict
from acdeploy.errors import ConfigError, ModelError
from acdeploy.model_info import ModelInfo, Standardize
from acdeploy.schema import changed_keys
from acdeploy.train import distribute

REWIND = artifacts.REWIND_NPZ
RUN_CONFIG = artifacts.RUN_CONFIG
SUMMARY = artifacts.LTH_SUMMARY
PLOT = artifacts.LTH_PLOT
TICKET = artifacts.TICKET_DIR
TICKET_JSON = artifacts.TICKET_JSON
MASK = artifacts.MASK_NPZ
WORK = artifacts.LTH_WORK
# Keys a rerun may change: more levels continue the trunk; controls are independent branches.
_RESUMABLE = ("lth.levels", "train.verbose", "train.strategy")


def level_name(k: int) -> str:
    return f"level_{k:02d}"


def size_figures(model, mask: Mask | None = None) -> dict:
    """Parameters as deployed (BN folded), non-zero parameters, and their bytes at int8 weights +
    int32 biases (the DCASE 2021 rule: zeros are free)."""
    from acdeploy.train.complexity import deployed_params, leaf_layers

    params = deployed_params(model)
    weights = zeros = 0
    for _, layer in leaf_layers(model):
        kind = type(layer).__name__
        if kind in ("Conv2D", "DepthwiseConv2D", "Dense"):
            k = (layer.depthwise_kernel if kind == "DepthwiseConv2D" else layer.kernel).numpy()
            weights += k.size
            zeros += int(np.sum(k == 0))
    biases = params - weights
    out = {"params": params, "nonzero_params": params - zeros, "nonzero_bytes_int8": (weights - zeros) + 4 * biases,
           "weight_zeros": zeros}
    if mask is not None:
        out.update(prunable=mask.total, prunable_unpruned=mask.unpruned, sparsity=mask.sparsity,
                   layer_sparsity={k: v["sparsity"] for k, v in mask.report()["layers"].items()})
    return out


def layer_rates(names: list[str], lth) -> dict[str, float]:
    rates = {}
    if names:
        rates[names[0]] = lth.first_layer_rate
        rates[names[-1]] = lth.last_layer_rate if len(names) > 1 else lth.first_layer_rate
    return rates


def next_mask(kernels: dict[str, np.ndarray], mask: Mask, lth, fraction: float | None = None,
              rates: dict[str, float] | None = None) -> Mask:
    """The mask of the next level from the previous level's trained kernels (open_lth rule)."""
    return prune(kernels, mask, lth.prune_fraction if fraction is None else fraction, lth.scope,
                 layer_rates=rates if rates is not None else layer_rates(list(kernels), lth),
                 min_density=lth.min_layer_density, granularity=lth.mask_granularity())


def say_granularity(kernels: dict[str, np.ndarray], lth) -> None:
    """One line per tensor that cannot take the configured granularity (it is pruned unstructured)."""
    g = lth.mask_granularity()
    for name, why in granularity_plan(kernels, g)[1].items():
        say(f"granularity {g}: layer '{name}' pruned unstructured ({why})")


class Run:
    """One LTH run: its config, the dense model it starts from, and the training session (data,
    split, standardiser, teachers) every level and branch is fitted in."""

    def __init__(self, session, model_dir: Path, out: Path):
        self.session, self.cfg = session, session.cfg
        self.model_dir, self.out = Path(model_dir), Path(out)
        self.lth = self.cfg.lth
        self.epochs = self.cfg.lth.epochs or self.cfg.train.epochs
        self.dense_info = ModelInfo.read(self.model_dir / artifacts.MODEL_INFO)
        self._said_granularity = False
        if session.batches is None:
            session.prepare()

    def build(self, seed: int):
        return self.session.build(self.cfg.student, seed)

    def fit(self, student, work: str, callbacks=()):
        return self.session.fit(student, self.out / WORK / work, epochs=self.epochs, callbacks=callbacks)

    # -- saving and loading levels --

    def save(self, dest: Path, model, mask: Mask, extra: dict) -> dict:
        from acdeploy.train import modeldir as md

        s = self.session
        metrics = s.evaluate(model)
        metrics.update(size_figures(model, mask))
        metrics.update(extra)
        info = self.dense_info.with_(
            standardize=Standardize(float(s.std.mean), float(s.std.std)), role="lth", n_train=s.n_train,
            n_val=s.n_val, params=metrics["params"],
            lth={k: metrics[k] for k in ("level", "branch", "sparsity", "nonzero_params", "nonzero_bytes_int8")})
        with fileio.atomic_dir(self.writable(dest)) as tmp:
            model.save(str(tmp / md.MODEL))
            mask.save(tmp / MASK)
            fileio.write_json(tmp / md.INFO, info.to_dict())
            fileio.write_text(tmp / md.CONFIG, dump_yaml(self.cfg))
            fileio.write_json(tmp / md.METRICS, metrics)
        shutil.rmtree(self.writable(self.out / WORK / dest.name), ignore_errors=True)
        distribute.barrier(s.strategy)  # the chief's level is in place before any worker reads it
        return metrics

    def writable(self, path: Path) -> Path:
        """Where this process writes `path`: itself on the chief, a scratch copy on other workers."""
        return distribute.write_path(path, self.session.strategy)

    def load(self, k: int):
        from acdeploy.train import modeldir as md

        d = self.out / level_name(k)
        return md.load_logits_model(d), Mask.load(d / MASK)

    # -- the steps --

    def dense(self) -> None:
        """Level 0: the dense student from the seeded initialisation; saves the rewind weights."""
        from acdeploy.compress import tfmot_wrap as tw

        dest = self.out / level_name(0)
        if dest.is_dir():
            return
        model = self.build(self.lth.seed)
        rewind_path = self.out / REWIND
        callbacks = []
        if self.lth.rewind_epoch == 0:
            if not rewind_path.exists():
                _save_npz(self.writable(rewind_path), tw.layer_weights(model))
        else:
            callbacks.append(_rewind_callback(model, self.lth.rewind_epoch, rewind_path, self.writable(rewind_path)))
        say(f"{level_name(0)}: dense training, {self.epochs} epochs (rewind point: epoch {self.lth.rewind_epoch})")
        self.fit(model, level_name(0), callbacks)
        if not rewind_path.exists():
            raise ModelError(f"{rewind_path}: the rewind weights were not saved (training ended before epoch {self.lth.rewind_epoch})")
        self.save(dest, model, Mask.ones_like(tw.kernels(model)), {"level": 0, "branch": "trunk"})

    def train_masked(self, dest: Path, init: dict, fixed: Mask, target: Mask | None, extra: dict) -> dict:
        """Retrain from `init` weights with `fixed` held; with a ramp schedule TF-MOT prunes on to `target`."""
        from acdeploy.compress import tfmot_wrap as tw

        model = self.build(self.lth.seed)
        tw.set_layer_weights(model, init)
        kind = self.lth.schedule if target is not None else "fixed"
        schedules = None
        if kind != "fixed":
            steps = self.session.batches.steps * self.epochs
            cur, tgt = fixed.report()["layers"], target.report()["layers"]
            schedules = {k: tw.make_schedule(kind, cur[k]["sparsity"], tgt[k]["sparsity"], steps, self.lth.ramp_fraction)
                         for k in fixed}
        m_by_n = tuple(self.lth.m_by_n) if self.lth.m_by_n else None
        with self.session.strategy.scope():  # TF-MOT's mask variables live with the model's
            pruned = tw.wrap(model, schedules, m_by_n)
        tw.install_mask(pruned, fixed)
        self.fit(pruned, dest.name, tw.pruning_callbacks(pruned, fixed))
        mask = tw.current_mask(pruned) & fixed
        topped = False
        if target is not None and kind != "fixed" and mask.unpruned > target.unpruned:
            # The best epoch (by validation loss) came before the ramp ended: finish it by magnitude.
            frac = {k: max(0.0, 1.0 - int(target[k].sum()) / max(int(mask[k].sum()), 1)) for k in mask}
            mask = prune_layerwise(tw.kernels(pruned), mask, frac)
            topped = True
        with self.session.strategy.scope():  # cross-replica context for TF-MOT's mask updates
            tw.install_mask(pruned, mask)
            stripped = tw.strip(pruned)
        return self.save(dest, stripped, mask, dict(extra, topped_up=topped))

    def level(self, k: int) -> None:
        from acdeploy.compress import tfmot_wrap as tw

        dest = self.out / level_name(k)
        if dest.is_dir():
            return
        prev_model, prev_mask = self.load(k - 1)
        kernels = tw.kernels(prev_model)
        if not self._said_granularity:
            say_granularity(kernels, self.lth)
            self._said_granularity = True
        target = next_mask(kernels, prev_mask, self.lth)
        ramp = self.lth.schedule != "fixed"
        say(f"{level_name(k)}: target sparsity {target.sparsity:.3f} ({self.lth.schedule}), {self.epochs} epochs")
        self.train_masked(dest, load_npz(self.out / REWIND), prev_mask if ramp else target,
                          target if ramp else None, {"level": k, "branch": "trunk"})

    def control(self, name: str) -> None:
        """The control branch `name` (compress/branches.py) from the finished trunk."""
        from acdeploy.compress.branches import BRANCHES

        if name not in BRANCHES:
            raise ConfigError(f"unknown control '{name}'; choose one of: {', '.join(BRANCHES)}")
        BRANCHES[name](self).run()


def _rewind_callback(model, epoch: int, path: Path, write_to: Path):
    """A Keras callback saving every layer's weights to `write_to` once `epoch` epochs (1-based) have
    finished, unless `path` already held them when training started (a resumed run)."""
    import tf_keras as keras

    from acdeploy.compress import tfmot_wrap as tw

    needed = not path.exists()  # decided before training: every worker decides alike

    class RewindCallback(keras.callbacks.Callback):
        def on_epoch_end(self, e, logs=None):
            if e + 1 == epoch and needed:
                _save_npz(write_to, tw.layer_weights(model))

    return RewindCallback()


def _save_npz(path: Path, arrays: dict) -> None:
    with fileio.atomic_path(path) as tmp:
        with open(tmp, "wb") as f:
            np.savez(f, **arrays)


def load_npz(path: Path) -> dict:
    with np.load(path) as z:
        return {k: z[k] for k in z.files}


def say(msg: str) -> None:
    print(msg, file=sys.stderr)


# -- summary, ticket, plot -------------------------------------------------------------------------

def _row(name: str, m: dict) -> dict:
    return {
        "name": name, "level": m.get("level"), "branch": m.get("branch"), "sparsity": m.get("sparsity"),
        "nonzero_params": m.get("nonzero_params"), "nonzero_bytes_int8": m.get("nonzero_bytes_int8"),
        "params": m.get("params"), "accuracy": m.get("accuracy"), "macro_accuracy": m.get("macro_accuracy"),
        "log_loss": m.get("log_loss"), "unseen_accuracy": (m.get("unseen") or {}).get("accuracy"),
    }


def select_ticket(levels: list[dict], lth) -> tuple[dict | None, str]:
    """The sparsest pruned level within the byte budget and within max_drop points of dense."""
    dense = levels[0]
    floor = dense["accuracy"] - lth.max_drop / 100.0
    ok = [r for r in levels[1:] if r["nonzero_bytes_int8"] <= lth.budget_bytes and r["accuracy"] >= floor]
    if ok:
        return max(ok, key=lambda r: r["sparsity"]), (
            f"sparsest level with nonzero_bytes_int8 <= {lth.budget_bytes} and accuracy >= dense - {lth.max_drop} points")
    within = [r for r in levels if r["nonzero_bytes_int8"] <= lth.budget_bytes]
    if within:
        return max(within, key=lambda r: r["accuracy"]), (
            f"no level within {lth.max_drop} points of dense fits {lth.budget_bytes} bytes: most accurate level within the budget")
    return None, f"no level fits {lth.budget_bytes} non-zero bytes"


def summarize(out: Path, lth) -> dict:
    from acdeploy.train import modeldir as md

    levels = []
    for k in range(lth.levels + 1):
        p = out / level_name(k) / md.METRICS
        if p.is_file():
            levels.append(_row(level_name(k), json.loads(p.read_text())))
    branches = []
    bdir = out / "branches"
    for d in sorted(bdir.iterdir()) if bdir.is_dir() else []:
        if (d / md.METRICS).is_file():
            branches.append(_row(d.name, json.loads((d / md.METRICS).read_text())))
    ticket, rule = select_ticket(levels, lth) if levels else (None, "no levels")
    summary = {"levels": levels, "branches": branches, "ticket": ticket["name"] if ticket else None, "rule": rule,
               "prune_fraction": lth.prune_fraction, "scope": lth.scope, "schedule": lth.schedule,
               "granularity": lth.mask_granularity(),
               "rewind_epoch": lth.rewind_epoch}
    fileio.write_json(out / SUMMARY, summary)
    if ticket:
        with fileio.atomic_dir(out / TICKET) as tmp:
            shutil.copytree(out / ticket["name"], tmp, dirs_exist_ok=True)
        fileio.write_json(out / TICKET_JSON, {"level": ticket["name"], "rule": rule, **ticket})
    plot(summary, out / PLOT)
    return summary


def format_summary(s: dict) -> str:
    head = f"{'':<10}{'sparsity':>9}{'nonzero':>9}{'int8 B':>9}{'acc %':>8}{'macro %':>9}{'logloss':>9}{'unseen %':>10}"
    lines = [head]
    for r in s["levels"] + s["branches"]:
        un = r["unseen_accuracy"]
        lines.append(f"{r['name']:<10}{100 * r['sparsity']:>8.1f}%{r['nonzero_params']:>9}{r['nonzero_bytes_int8']:>9}"
                     f"{100 * r['accuracy']:>8.1f}{100 * r['macro_accuracy']:>9.1f}{r['log_loss']:>9.3f}"
                     f"{(100 * un if un is not None and not math.isnan(un) else float('nan')):>10.1f}")
    lines.append(f"ticket: {s['ticket']} ({s['rule']})")
    return "\n".join(lines)


def plot(s: dict, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axes = plt.subplots(1, 2, figsize=(10, 4))
    for ax, key, label in ((axes[0], "accuracy", "accuracy %"), (axes[1], "log_loss", "log loss")):
        xs = [r["nonzero_params"] for r in s["levels"]]
        ys = [r[key] * (100 if key == "accuracy" else 1) for r in s["levels"]]
        ax.plot(xs, ys, "o-", label="lottery ticket (levels)")
        for r in s["branches"]:
            ax.plot([r["nonzero_params"]], [r[key] * (100 if key == "accuracy" else 1)], "s", label=f"control: {r['name']}")
        ax.set_xscale("log")
        ax.set_xlabel("non-zero parameters")
        ax.set_ylabel(label)
        ax.grid(alpha=0.3)
    axes[0].legend(fontsize=8)
    fig.suptitle(f"LTH: p={s['prune_fraction']}, scope {s['scope']}, schedule {s['schedule']}, "
                 f"{s.get('granularity', 'unstructured')}")
    fig.tight_layout()
    with fileio.atomic_path(path) as tmp:
        fig.savefig(tmp, dpi=110, format="png")
    plt.close(fig)


# -- entry point ----------------------------------------------------------------------------------

def check_run_dir(out: Path, cfg) -> None:
    """A rerun must use the same config (lth.levels may grow); anything else is another run."""
    import yaml

    p = out / RUN_CONFIG
    if not out.exists() or not any(out.iterdir()):
        return
    if not p.is_file():
        raise ConfigError(f"{out}: exists and is not an LTH run of this tool; choose another --out")
    diff = changed_keys(yaml.safe_load(p.read_text()), to_dict(cfg), lambda k: k not in _RESUMABLE)
    if diff:
        raise ConfigError(f"{out}: holds an LTH run with another config ({', '.join(diff[:3])} differ); use another --out")


def lth_run(cfg, model_dir, data_dir, out, controls=()) -> dict:
    """Run (or resume) the trunk levels 0..lth.levels and the control branches; returns the summary."""
    from acdeploy.train import modeldir as md
    from acdeploy.train.session import TrainingSession

    model_dir, out = Path(model_dir), Path(out)
    md.read_info(model_dir)
    if not md.is_finished(model_dir):
        raise ModelError(f"{model_dir}: no finished dense model (metrics.json missing); finish 'acdeploy train student' first")
    epochs = cfg.lth.epochs or cfg.train.epochs
    if cfg.lth.rewind_epoch >= epochs:
        raise ConfigError(f"lth.rewind_epoch: {cfg.lth.rewind_epoch} is not before the end of training ({epochs} epochs)")
    from acdeploy.compress.branches import BRANCHES

    for c in controls:
        if c not in BRANCHES:
            raise ConfigError(f"--control {c}: unknown control; choose one of: {', '.join(BRANCHES)}")
    teacher_dirs = [str(Path(t).resolve()) for t in cfg.distill.teachers] if cfg.distill.enabled else []
    cfg = dataclasses.replace(cfg, distill=dataclasses.replace(cfg.distill, teachers=teacher_dirs))
    check_run_dir(out, cfg)
    session = TrainingSession.open(cfg, data_dir, teacher_dirs)
    strategy = distribute.make_strategy(cfg.train.strategy)  # train.strategy: every level trains under it
    session.prepare(strategy)
    distribute.barrier(strategy)  # every worker has checked the run dir before the chief writes

    fileio.write_text(distribute.write_path(out / RUN_CONFIG, strategy), dump_yaml(cfg))
    run = Run(session, model_dir, out)
    run.dense()
    for k in range(1, cfg.lth.levels + 1):
        run.level(k)
    for c in dict.fromkeys(controls):
        run.control(c)
    summary = summarize(out, cfg.lth) if distribute.is_chief(strategy) else None
    distribute.barrier(strategy)
    distribute.remove_scratch(out, strategy)
    return summary or json.loads((out / SUMMARY).read_text())
