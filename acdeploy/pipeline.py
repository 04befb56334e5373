"""`acdeploy pipeline`: every stage in order from one config, resumable.

Each stage runs the stage's own command (the same code a user runs by hand) and is recorded
in `RUN/pipeline.json` with a key: a hash of the config sections it reads chained with the key
of the stage before it. On a rerun a stage whose key is unchanged and whose outputs exist is
skipped; a changed key reruns that stage and, through the chain, every stage after it. A stage
that was killed keeps its key and resumes through its own command (training checkpoints,
finished lottery-ticket levels), so nothing finished is redone.
"""

from __future__ import annotations

import json
import shutil
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import click

from acdeploy import artifacts
from acdeploy.config import config_hash, keyed_dict
from acdeploy.errors import AcDeployError, ConfigError, OverBudget
from acdeploy.fileio import write_json

STATE_FILE = artifacts.PIPELINE_STATE


class StageFailed(AcDeployError):
    """A stage's command exited with an error (its own message was printed above)."""


@dataclass
class Run:
    root: Path
    config_path: Path | None
    sets: tuple[str, ...]
    cfg: object  # acdeploy.schema.Config
    over_budget: bool = False

    def args(self) -> list[str]:
        """The config arguments every stage command gets, so all stages read the same config."""
        out = ["--config", str(self.config_path)] if self.config_path else []
        for s in self.sets:
            out += ["--set", s]
        return out

    @property
    def teachers(self) -> list[Path]:
        return [self.root / artifacts.RUN_TEACHER.format(i) for i in range(self.cfg.pipeline.teachers)]

    @property
    def int8_model(self) -> Path:
        return self.root / artifacts.INT8_MODEL


def call(argv: list[str], ok_codes: tuple[int, ...] = (0,)) -> int:
    """Run one acdeploy command in this process; its own error line explains a failure."""
    from acdeploy.cli import main

    click.echo(click.style("  $ acdeploy " + " ".join(argv), dim=True), err=True)
    code = main(argv)
    if code not in ok_codes:
        raise StageFailed(f"'acdeploy {argv[0]} {argv[1] if len(argv) > 1 else ''}' failed with exit code {code}")
    return code


@dataclass
class Stage:
    name: str
    title: str
    sections: tuple[str, ...]  # config sections that decide this stage's result
    run: Callable[[Run], None]
    outputs: Callable[[Run], list[Path]]  # what must exist for the stage to count as done
    owned: Callable[[Run], list[Path]] = lambda r: []  # what a rerun with a new key deletes first


def _dataset(r: Run) -> Path:
    return Path(r.cfg.data.path) if r.cfg.data.path else r.root / artifacts.RUN_DATA


def _run_data(r: Run) -> None:
    if r.cfg.data.path:
        from acdeploy.data.dataset import read_dataset

        read_dataset(Path(r.cfg.data.path))  # validates the DCASE layout; errors name the file
        return
    call(["data", "synth", str(r.root / artifacts.RUN_DATA), *r.args()])


def _run_features(r: Run) -> None:
    call(["data", "features", str(_dataset(r)), *r.args()])


def _run_teachers(r: Run) -> None:
    for i, out in enumerate(r.teachers):
        call(["train", "teacher", "--data", str(_dataset(r)), "--out", str(out), *r.args(),
              "--set", f"train.seed={r.cfg.train.seed + i}"])


def _teacher_flag(r: Run) -> list[str]:
    return ["--teacher", ",".join(map(str, r.teachers))] if r.teachers else []


def _run_student(r: Run) -> None:
    kd = _teacher_flag(r) if r.teachers else ["--no-kd"]
    call(["train", "student", "--data", str(_dataset(r)), "--out", str(r.root / artifacts.RUN_STUDENT), *kd, *r.args()])


def _run_lth(r: Run) -> None:
    controls = [a for c in r.cfg.pipeline.controls for a in ("--control", c)]
    call(["compress", "lth", "--model", str(r.root / artifacts.RUN_STUDENT), *_teacher_flag(r), "--data", str(_dataset(r)),
          "--out", str(r.root / artifacts.RUN_LTH), *controls, *r.args()])


def _run_quantize(r: Run) -> None:
    call(["compress", "quantize", "--model", str(r.root / artifacts.RUN_LTH / artifacts.TICKET_DIR), "--data", str(_dataset(r)),
          "--out", str(r.int8_model), *r.args()])


def _run_eval(r: Run) -> None:
    for engine in r.cfg.pipeline.engines:
        call(["eval", str(r.int8_model), "--data", str(_dataset(r)), "--engine", engine,
              "--json", str(r.root / artifacts.RUN_EVAL / f"{engine}.json"), *r.args()])
    from acdeploy.pipeline_report import check_engines_agree

    check_engines_agree(r.root / artifacts.RUN_EVAL, r.cfg.pipeline.engines)


def _run_build(r: Run) -> None:
    budgets = [a for b in r.cfg.pipeline.budgets for a in ("--budget", b)]
    run = ["--run", *_audio_clip(r)] if r.cfg.pipeline.run_firmware else []
    code = call(["build", "--target", r.cfg.pipeline.target, "--model", str(r.int8_model), "--data", str(_dataset(r)),
                 "--out", str(r.root / artifacts.RUN_BUILD), *budgets, *run, *r.args()], ok_codes=(0, 3))
    r.over_budget = code == 3
    _run_dense_build(r)


def _audio_clip(r: Run) -> list[str]:
    """`--audio WAV`: the first evaluate-split clip, for the firmware to classify through its audio
    front end; nothing when the model has no feature config or the clip is not what a device hears."""
    from acdeploy.data.dataset import read_dataset
    from acdeploy.deploy.wav_pcm import read_pcm16
    from acdeploy.model_info import ModelInfo

    info_path = artifacts.sidecar_info(r.int8_model)
    info = ModelInfo.read(info_path) if info_path.is_file() else None
    index = read_dataset(_dataset(r))
    picks = [f for f, s in zip(index.filenames, index.split, strict=True) if s == "evaluate"]
    if info is None or not info.feature_config or not picks:
        return []
    try:
        read_pcm16(index.root / picks[0], int(info.feature_config["sample_rate"]))
    except AcDeployError:
        return []
    return ["--audio", str(index.root / picks[0])]


def _dense_dir(r: Run) -> Path:
    return r.root / artifacts.RUN_DENSE


def _run_dense_build(r: Run) -> None:
    """The dense student quantized and built exactly as the ticket (no budgets: they judge the ticket),
    so the summary sets the two side by side on the device."""
    dense = _dense_dir(r)
    call(["compress", "quantize", "--model", str(r.root / artifacts.RUN_STUDENT), "--data", str(_dataset(r)),
          "--out", str(dense / artifacts.INT8_MODEL), *r.args()])
    run = ["--run"] if r.cfg.pipeline.run_firmware else []
    call(["build", "--target", r.cfg.pipeline.target, "--model", str(dense / artifacts.INT8_MODEL), "--data", str(_dataset(r)),
          "--out", str(dense / artifacts.RUN_BUILD), *run, *r.args()], ok_codes=(0, 3))


def _run_report(r: Run) -> None:
    from acdeploy.pipeline_report import write_report

    write_report(r.root)


STAGES: list[Stage] = [
    Stage("data", "dataset (synthetic unless data.path is set)", ("data",), _run_data,
          lambda r: [_dataset(r) / artifacts.META_CSV], lambda r: [] if r.cfg.data.path else [r.root / artifacts.RUN_DATA]),
    Stage("features", "log-mel features (cached)", ("features",), _run_features, lambda r: []),
    Stage("teacher", "teacher model(s)", ("teacher", "train", "augment"), _run_teachers,
          lambda r: [t / artifacts.MODEL_KERAS for t in r.teachers], lambda r: list(r.root.glob(artifacts.RUN_TEACHER.format("*")))),
    Stage("student", "student with knowledge distillation", ("student", "train", "augment", "distill"), _run_student,
          lambda r: [r.root / artifacts.RUN_STUDENT / artifacts.MODEL_KERAS], lambda r: [r.root / artifacts.RUN_STUDENT]),
    Stage("lth", "lottery-ticket levels", ("lth",), _run_lth,
          lambda r: [r.root / artifacts.RUN_LTH / artifacts.LTH_SUMMARY], lambda r: [r.root / artifacts.RUN_LTH]),
    Stage("quantize", "full-integer int8 TFLite", ("quantize",), _run_quantize,
          lambda r: [r.int8_model], lambda r: [r.int8_model]),
    Stage("eval", "host evaluation (engines must agree)", (), _run_eval,
          lambda r: [r.root / artifacts.RUN_EVAL / f"{e}.json" for e in r.cfg.pipeline.engines], lambda r: [r.root / artifacts.RUN_EVAL]),
    Stage("build", "C array, C network, firmware in QEMU (ticket, and the dense student beside it)", ("deploy",), _run_build,
          lambda r: [r.root / artifacts.RUN_BUILD / artifacts.REPORT_JSON, _dense_dir(r) / artifacts.RUN_BUILD / artifacts.REPORT_JSON],
          lambda r: [r.root / artifacts.RUN_BUILD, _dense_dir(r)]),
    Stage("report", "summary report", (), _run_report,
          lambda r: [r.root / artifacts.REPORT_MD], lambda r: []),
]
STAGE_NAMES = [s.name for s in STAGES]


PIPELINE_FIELDS = {"teacher": ("teachers",), "lth": ("controls",), "eval": ("engines",),
                   "build": ("target", "budgets", "run_firmware")}


def stage_keys(cfg) -> dict[str, str]:
    keys, prev = {}, ""
    for st in STAGES:
        # A section whose fields are all key-neutral and at their defaults adds nothing, so keys
        # recorded before it existed stay valid; any non-default value in it changes the key.
        parts = [d for d in (keyed_dict(getattr(cfg, s)) for s in st.sections) if d]
        # Only the pipeline fields a stage reads: a new target or engine list must not retrain.
        if st.name in PIPELINE_FIELDS:
            parts.append({f: getattr(cfg.pipeline, f) for f in PIPELINE_FIELDS[st.name]})
        if st.name in ("features", "teacher"):
            parts.append(keyed_dict(cfg.features))
        prev = keys[st.name] = config_hash(prev, st.name, parts)
    return keys


def _load_state(root: Path) -> dict:
    p = root / STATE_FILE
    if not p.exists():
        return {}
    try:
        state = json.loads(p.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError):
        raise ConfigError(f"{p}: not a readable pipeline state file; remove it or use another --out") from None
    if not isinstance(state, dict) or not isinstance(state.get("stages", {}), dict) \
            or not isinstance(state.get("identity", {}), dict) \
            or not all(isinstance(rec, dict) for rec in state.get("stages", {}).values()):
        raise ConfigError(f"{p}: not a pipeline state file (expected a JSON object with 'identity' and "
                          f"'stages' objects); remove it or use another --out")
    return state


def _identity(run: Run) -> dict:
    return {
        "name": run.cfg.pipeline.name or (run.config_path.stem if run.config_path else "defaults"),
        "data": config_hash(run.cfg.data),
    }


def run_pipeline(root: Path, config_path: Path | None, sets: tuple[str, ...], cfg, *, force: bool = False,
                 until: str | None = None) -> int:
    run = Run(root=root, config_path=config_path, sets=sets, cfg=cfg)
    root.mkdir(parents=True, exist_ok=True)
    state = _load_state(root)
    ident = _identity(run)
    if state and state.get("identity") != ident and not force:
        old = state.get("identity", {})
        raise ConfigError(
            f"{root} holds a run of config '{old.get('name')}' with other data settings; "
            f"use --force to reuse it for '{ident['name']}', or choose another --out"
        )
    state = {"identity": ident, "stages": state.get("stages", {}) if state.get("identity") == ident else {}}
    keys = stage_keys(cfg)
    t_all = time.time()
    for i, st in enumerate(STAGES, 1):
        rec = state["stages"].get(st.name, {})
        header = f"[{i}/{len(STAGES)}] {st.name}: {st.title}"
        done = rec.get("key") == keys[st.name] and rec.get("status") == "done" and all(p.exists() for p in st.outputs(run))
        if done:
            click.echo(click.style(f"{header} (done, skipped)", fg="green"), err=True)
            if st.name == "build":
                run.over_budget = rec.get("over_budget", False)
        else:
            if rec.get("key") != keys[st.name]:
                for p in st.owned(run):  # a changed config: start this stage afresh
                    shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
            click.echo(click.style(header, bold=True), err=True)
            state["stages"][st.name] = {"key": keys[st.name], "status": "started"}
            write_json(root / STATE_FILE, state)
            t0 = time.time()
            st.run(run)
            state["stages"][st.name] = {"key": keys[st.name], "status": "done", "seconds": round(time.time() - t0, 1),
                                        "over_budget": run.over_budget if st.name == "build" else False}
            write_json(root / STATE_FILE, state)
        if st.name == until:
            break
    from acdeploy.pipeline_report import print_summary

    print_summary(root, wall_seconds=time.time() - t_all)
    if run.over_budget:
        raise OverBudget(f"{root / artifacts.RUN_BUILD / artifacts.REPORT_JSON}: the model is over a budget (see the verdicts above)")
    return 0
