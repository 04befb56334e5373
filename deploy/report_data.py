"""The deploy report (report.json) as typed data: `Report` and its sections.

deploy/report.py fills the model's figures (`analyze`); each build step that adds figures returns
its own section (`NetworkSection`, `FirmwareSection`) and deploy/build.py assembles the report
from them. `to_dict()` gives exactly the JSON that report.json holds (same keys, same order);
`from_dict()` / `read()` validate a report.json with one-line errors naming the file and the key.
Budget verdicts keep the shape deploy/budgets.py gives them (name, note, ok, checks).
"""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from dataclasses import dataclass, fields
from pathlib import Path

from acdeploy import artifacts
from acdeploy.errors import ModelError

_MISSING = object()


def _type_ok(value, tp) -> bool:
    """`value` (parsed JSON) fits the annotation `tp` (int, float, str, bool, dict, list, X | None)."""
    if tp is typing.Any:
        return True
    origin = typing.get_origin(tp)
    if origin in (typing.Union, types.UnionType):
        return any(_type_ok(value, a) for a in typing.get_args(tp))
    if tp is type(None):
        return value is None
    if tp is bool:
        return isinstance(value, bool)
    if tp is int:
        return isinstance(value, int) and not isinstance(value, bool)
    if tp is float:
        return isinstance(value, int | float) and not isinstance(value, bool)
    if tp is str:
        return isinstance(value, str)
    if origin is list or tp is list:
        args = typing.get_args(tp)
        return isinstance(value, list) and (not args or all(_type_ok(v, args[0]) for v in value))
    if origin is dict or tp is dict:
        return isinstance(value, dict)
    return False


def _type_name(tp) -> str:
    """`int`, `int or null`, `list[int]`: the annotation as an error message says it."""
    if typing.get_origin(tp) in (typing.Union, types.UnionType):
        return " or ".join(_type_name(a) for a in typing.get_args(tp))
    if tp is type(None):
        return "null"
    return tp.__name__ if isinstance(tp, type) else str(tp)


def _flat(cls, d, source: str, where: str, optional: tuple[str, ...] = ()):
    """A flat dataclass from a JSON object; every field present (those in `optional` may be
    missing) and of its annotated type, else a one-line ModelError naming `where.key`."""
    if not isinstance(d, dict):
        raise ModelError(f"{source}: {where} is not a JSON object")
    hints = typing.get_type_hints(cls)
    kw = {}
    for f in fields(cls):
        v = d.get(f.name, _MISSING)
        if v is _MISSING:
            if f.name in optional:
                continue
            raise ModelError(f"{source}: missing key '{where}.{f.name}'")
        if not _type_ok(v, hints[f.name]):
            raise ModelError(f"{source}: {where}.{f.name} is {v!r:.60}, not of type {_type_name(hints[f.name])}")
        kw[f.name] = v
    return cls(**kw)


def _dict(obj) -> dict:
    return {f.name: getattr(obj, f.name) for f in fields(obj)}


@dataclass(frozen=True)
class ModelFile:
    path: str
    bytes: int
    description: str | None

    def to_dict(self) -> dict:
        return _dict(self)


@dataclass(frozen=True)
class TargetInfo:
    name: str
    board: str | None
    flash_bytes: int | None
    ram_bytes: int | None

    def to_dict(self) -> dict:
        return _dict(self)


@dataclass(frozen=True)
class TensorIO:
    name: str
    shape: list[int]
    dtype: str
    scale: float | None
    zero_point: int | None

    def to_dict(self) -> dict:
        return _dict(self)


@dataclass(frozen=True)
class LayerRow:
    index: int
    name: str
    op: str
    output_shape: list[int]
    params: int
    nonzero_params: int
    param_bytes: int
    nonzero_param_bytes: int
    macs: int
    nessi_macs: int
    activation_bytes: int

    def to_dict(self) -> dict:
        return _dict(self)


@dataclass(frozen=True)
class Totals:
    params: int
    nonzero_params: int
    param_bytes: int
    nonzero_param_bytes: int
    macs: int
    nessi_macs: int
    macs_per_second: int
    input_seconds: float | None
    arena_bytes: int
    tflm_arena_head_bytes: int
    tflm_arena_tail_bytes: int
    c_arena_bytes: int
    activation_peak_bytes: int
    model_bytes: int
    flash_bytes: int
    c_flash_bytes: int
    layers: int

    def to_dict(self) -> dict:
        return _dict(self)


def _recheck(budget: dict, totals: dict) -> dict:
    """A budget verdict again, its checks of totals keys against the new totals."""
    checks = [{**c, "value": int(totals[c["key"]]), "ok": int(totals[c["key"]]) <= c["limit"]}
              if c["key"] in totals else c for c in budget["checks"]]
    return {**budget, "checks": checks, "ok": all(c["ok"] for c in checks)}


@dataclass(frozen=True)
class NetworkSection:
    """What the C-network step generated (report.json's `network`)."""

    source: str
    layers: int
    arena_bytes: int
    input_size: int
    output_size: int
    float_io: bool
    test_vectors: int
    # Per weighted layer (deploy/weight_formats.py LayerFormat.to_dict): the weight format chosen,
    # bytes dense vs stored, TFLM's prune-format bytes, predicted (and, with --run, measured)
    # instructions; and the --weights mode and objective that chose them.
    weights: str = "auto"
    objective: str = "speed"
    weight_formats: list[dict] | None = None
    # Per layer whose parameters are kept compact in flash and expanded into the arena at run time
    # (deploy/weight_formats.py ExpandedParams.to_dict): flash bytes, the tables' bytes, their arena offset.
    expanded_params: list[dict] | None = None

    def to_dict(self) -> dict:
        return _dict(self)

    def add_to(self, report: Report) -> Report:
        # The generated-C flash estimate counted dense filters; the build knows the bytes it stored.
        delta = sum(f["stored_bytes"] - f["dense_bytes"] for f in self.weight_formats or ())
        # The arena holds the expanded parameters too: where no range was free it grew past the plan.
        totals = dataclasses.replace(report.totals, c_flash_bytes=report.totals.c_flash_bytes + delta,
                                     c_arena_bytes=max(report.totals.c_arena_bytes, self.arena_bytes))
        return dataclasses.replace(report, network=self, totals=totals,
                                   budgets=[_recheck(b, totals.to_dict()) for b in report.budgets])


# FirmwareResult fields present only after a run (report.json has them only when `ran` is true)
_RUN_FIELDS = ("exit_code", "vectors", "mismatches", "instructions_per_inference", "instructions_per_mac",
               "stack_used", "run_log")


@dataclass(frozen=True)
class FirmwareResult:
    """The firmware build (and run) of a build dir (report.json's `firmware`)."""

    target: str
    machine: str | None
    dsp: bool
    elf: str
    ran: bool
    passed: bool | None
    macs: int
    board_flash_bytes: int | None
    board_ram_bytes: int | None
    flash_bytes: int | None
    ram_bytes: int | None
    size: dict | None  # deploy/firmware.py's FirmwareSize: code, weights, arena, stack, data, bss, test_data
    note: str | None = None  # why it was not run; only when it was not
    exit_code: int | None = None
    vectors: int | None = None
    mismatches: int | None = None
    instructions_per_inference: int | None = None
    instructions_per_mac: float | None = None
    stack_used: int | None = None
    run_log: str | None = None

    def to_dict(self) -> dict:
        d = _dict(self)
        if self.note is None:
            del d["note"]
        if not self.ran:
            for k in _RUN_FIELDS:
                del d[k]
        return d

    @classmethod
    def from_dict(cls, d, source: str) -> FirmwareResult:
        fw = _flat(cls, d, source, "firmware", optional=("note", *_RUN_FIELDS))
        if fw.ran:
            missing = [k for k in ("exit_code", "vectors", "mismatches", "run_log") if k not in d]
            if missing:
                raise ModelError(f"{source}: missing key 'firmware.{missing[0]}'")
        return fw


@dataclass(frozen=True)
class FirmwareSection:
    """What the firmware run step adds: the result and its verdict against the target board."""

    result: FirmwareResult
    board_check: dict | None  # a budgets.evaluate verdict, None for a target without a board

    def add_to(self, report: Report) -> Report:
        budgets = report.budgets + ([self.board_check] if self.board_check is not None else [])
        return dataclasses.replace(report, firmware=self.result, budgets=budgets)


@dataclass(frozen=True)
class EthosResult:
    """Arm Vela's estimates for an Ethos-U target (report.json's `ethos_u`; deploy/ethos_step.py).
    Vela's performance model, not a measurement: QEMU has no NPU, so these targets are build only."""

    accelerator: str
    system_config: str
    memory_mode: str
    vela_version: str
    core_clock_hz: int
    npu_cycles: int  # Vela's cycles_npu: the NPU's compute cycles
    total_cycles: int  # Vela's cycles_total: compute and memory access overlapped, per inference
    inference_seconds: float
    inferences_per_second: float
    macs: int  # Vela's nn_macs
    sram_bytes: int  # memory Vela allocates in each memory (its KiB figures x 1024)
    dram_bytes: int
    on_chip_flash_bytes: int
    off_chip_flash_bytes: int
    weights_bytes: int  # the weights as Vela encodes them for the NPU
    npu_operations: int
    cpu_operations: int
    compiled_model: str | None  # the Vela-compiled .tflite in the build dir (None for `acdeploy report`)
    compiled_model_bytes: int
    cpu_layers: list  # {index, name, op, reason}: the TFLite operators Vela leaves on the CPU
    layers: list  # Vela's per-layer rows: {layer, original_op, npu_op, target, cycles, npu_cycles, ...}
    note: str

    def to_dict(self) -> dict:
        return _dict(self)

    def add_to(self, report: Report) -> Report:
        return dataclasses.replace(report, ethos_u=self)


@dataclass(frozen=True)
class FrontEndSection:
    """The audio front end in the firmware (report.json's `frontend`; deploy/frontend_step.py)."""

    fft: str  # the CMSIS-DSP real FFT and its version
    fixed_point: bool  # q31 (cores without an FPU) or float
    sample_rate: int
    n_fft: int
    hop_length: int
    n_mels: int
    frames: int
    table_bytes: int  # flash of the generated tables (window, filterbank, thresholds)
    ram_bytes: int  # static RAM: sample ring, FFT buffers, frame ring, thresholds
    clips: int  # --audio clips embedded in the firmware
    flash_bytes: int | None = None  # linked code + tables of the front end and the FFT (built firmware)
    instructions_per_frame: int | None = None  # QEMU, over one second of noise (--run)

    def to_dict(self) -> dict:
        return _dict(self)

    def add_to(self, report: Report) -> Report:
        return dataclasses.replace(report, frontend=self)


def _budget(d, source: str, k: int) -> dict:
    where = f"budgets[{k}]"
    if not isinstance(d, dict):
        raise ModelError(f"{source}: {where} is not a JSON object")
    for key, tp in (("name", str), ("note", str), ("ok", bool), ("checks", list)):
        if key not in d:
            raise ModelError(f"{source}: missing key '{where}.{key}'")
        if not _type_ok(d[key], tp):
            raise ModelError(f"{source}: {where}.{key} is {d[key]!r:.60}, not of type {tp.__name__}")
    for j, c in enumerate(d["checks"]):
        cw = f"{where}.checks[{j}]"
        if not isinstance(c, dict):
            raise ModelError(f"{source}: {cw} is not a JSON object")
        for key, tp in (("name", str), ("key", str), ("value", int), ("limit", int), ("ok", bool)):
            if key not in c:
                raise ModelError(f"{source}: missing key '{cw}.{key}'")
            if not _type_ok(c[key], tp):
                raise ModelError(f"{source}: {cw}.{key} is {c[key]!r:.60}, not of type {tp.__name__}")
    return d


@dataclass(frozen=True)
class Report:
    model: ModelFile
    target: TargetInfo | None
    inputs: list[TensorIO]
    outputs: list[TensorIO]
    totals: Totals
    layers: list[LayerRow]
    budgets: list[dict]  # deploy/budgets.py's verdicts
    notes: dict[str, str]  # how each figure is counted
    network: NetworkSection | None = None
    firmware: FirmwareResult | None = None
    ethos_u: EthosResult | None = None
    frontend: FrontEndSection | None = None

    def failed_checks(self) -> list[str]:
        return [f"{b['name']}: {c['name']} {c['value']:,} > {c['limit']:,}"
                for b in self.budgets for c in b["checks"] if not c["ok"]]

    def to_dict(self) -> dict:
        d = {
            "model": self.model.to_dict(),
            "target": None if self.target is None else self.target.to_dict(),
            "inputs": [t.to_dict() for t in self.inputs],
            "outputs": [t.to_dict() for t in self.outputs],
            "totals": self.totals.to_dict(),
            "layers": [r.to_dict() for r in self.layers],
            "budgets": self.budgets,
            "notes": self.notes,
        }
        if self.network is not None:
            d["network"] = self.network.to_dict()
        if self.firmware is not None:
            d["firmware"] = self.firmware.to_dict()
        if self.ethos_u is not None:
            d["ethos_u"] = self.ethos_u.to_dict()
        if self.frontend is not None:
            d["frontend"] = self.frontend.to_dict()
        return d

    def to_json(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"

    @classmethod
    def from_dict(cls, d, source: str = artifacts.REPORT_JSON) -> Report:
        if not isinstance(d, dict):
            raise ModelError(f"{source}: not a JSON object (a {type(d).__name__})")
        for key in ("model", "target", "inputs", "outputs", "totals", "layers", "budgets", "notes"):
            if key not in d:
                raise ModelError(f"{source}: missing key '{key}'")
        for key in ("inputs", "outputs", "layers", "budgets"):
            if not isinstance(d[key], list):
                raise ModelError(f"{source}: {key} is {d[key]!r:.60}, not a list")
        if not (isinstance(d["notes"], dict) and all(isinstance(v, str) for v in d["notes"].values())):
            raise ModelError(f"{source}: notes is {d['notes']!r:.60}, not an object of strings")
        return cls(
            model=_flat(ModelFile, d["model"], source, "model"),
            target=None if d["target"] is None else _flat(TargetInfo, d["target"], source, "target"),
            inputs=[_flat(TensorIO, t, source, f"inputs[{k}]") for k, t in enumerate(d["inputs"])],
            outputs=[_flat(TensorIO, t, source, f"outputs[{k}]") for k, t in enumerate(d["outputs"])],
            totals=_flat(Totals, d["totals"], source, "totals"),
            layers=[_flat(LayerRow, r, source, f"layers[{k}]") for k, r in enumerate(d["layers"])],
            budgets=[_budget(b, source, k) for k, b in enumerate(d["budgets"])],
            notes=dict(d["notes"]),
            network=None if d.get("network") is None else _flat(
                NetworkSection, d["network"], source, "network", optional=("weights", "objective", "weight_formats",
                                                                    "expanded_params")),
            firmware=None if d.get("firmware") is None else FirmwareResult.from_dict(d["firmware"], source),
            ethos_u=None if d.get("ethos_u") is None else _flat(EthosResult, d["ethos_u"], source, "ethos_u"),
            frontend=None if d.get("frontend") is None else _flat(FrontEndSection, d["frontend"], source, "frontend"),
        )

    @classmethod
    def from_json(cls, text: str, source: str = artifacts.REPORT_JSON) -> Report:
        try:
            d = json.loads(text)
        except ValueError as e:
            raise ModelError(f"{source}: not valid JSON ({e})") from None
        return cls.from_dict(d, source)

    @classmethod
    def read(cls, path: str | Path) -> Report:
        path = Path(path)
        try:
            text = path.read_text()
        except (OSError, UnicodeDecodeError) as e:
            raise ModelError(f"{path}: unreadable ({e})") from None
        return cls.from_json(text, str(path))


Section = NetworkSection | FirmwareSection | EthosResult | FrontEndSection  # what a build step may return
