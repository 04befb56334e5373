"""Run acdeploy's untrusted-model chain on one byte string and say whether it behaved.

The chain is what `acdeploy report` and `acdeploy build` do with a .tflite file: read + validate
(deploy/validate.py load_graph), the op check, the report (analysis, Markdown, terminal table,
JSON), the TFLM C array and settings header, the memory plan and the C generator. A ModelError
(or any AcDeployError) anywhere is a clean refusal; any other exception is a bug (the user would
see an internal error).

For a model that passes, the C part compiles the generated network with the firmware kernels
for the host under ASan + UBSan (tests/deploy/kernel_harness.py) and runs it on random int8
inputs, which must equal TFLite Micro's outputs bit for bit. The C part runs in a child process:
TFLM aborts the whole process on some models, a sanitizer report is a non-zero exit, and a
timeout bounds a hang. It is slow (one gcc run, ~1 s), so callers batch passing models.

check_one(data, workdir) does both parts for one input; FuzzFailure is raised on a bug.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import re
import subprocess
import sys
import traceback
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
DEPLOY_TESTS = REPO / "tests" / "deploy"
if str(DEPLOY_TESTS) not in sys.path:
    sys.path.insert(0, str(DEPLOY_TESTS))

from acdeploy import fileio  # noqa: E402
from acdeploy.deploy import c_array, ops, report_md  # noqa: E402
from acdeploy.deploy.budgets import resolve_budgets  # noqa: E402
from acdeploy.deploy.codegen import generate  # noqa: E402
from acdeploy.deploy.memory_plan import plan_memory  # noqa: E402
from acdeploy.deploy.report import analyze  # noqa: E402
from acdeploy.deploy.targets import get_target  # noqa: E402
from acdeploy.deploy.validate import Limits, load_graph  # noqa: E402
from acdeploy.errors import AcDeployError  # noqa: E402

MODEL_NAME = "fuzz.tflite"
# Smaller than the defaults so one passing input cannot make a multi-second C run; the limit
# checks themselves are part of what is fuzzed.
LIMITS = Limits(max_tensor_elements=1 << 16, max_arena_bytes=1 << 22)
# Larger networks pass but skip the C part (ASan makes a MAC cost ~10 ns).
C_MAX_MACS = 20_000_000
C_VECTORS = 3
C_TIMEOUT = 240.0  # a batch: TFLM + gcc + the sanitized run
BUDGETS = ("dcase2021", "dcase2022", "dcase2025")
# Self-test of the C part: "expected" flips a bit of TFLM's outputs, "arena" halves the generated
# arena; the harness must then report a mismatch / a sanitizer failure.
CORRUPT_ENV = "ACDEPLOY_FUZZ_CORRUPT"


class FuzzFailure(Exception):
    """A bug: an internal error, a sanitizer report, a mismatch with TFLM, a killed child or a hang."""

    def __init__(self, kind: str, stage: str, detail: str, data: bytes | None = None) -> None:
        super().__init__(f"{kind} in {stage}: {detail}")
        self.kind, self.stage, self.detail, self.data = kind, stage, detail, data

    @property
    def signature(self) -> str:
        """Stable across inputs that hit the same bug (for de-duplication)."""
        return f"{self.kind}:{self.stage}:{_shape_of(self.detail.splitlines()[-1] if self.detail else '')[:120]}"


@dataclass
class Outcome:
    status: str  # "refused" | "passed"
    stage: str  # where it was refused, or "codegen" when it passed
    message: str = ""
    macs: int = 0
    structure: str = ""  # ops and shapes of a passing model: batches prefer new structures

    @property
    def signature(self) -> str:
        """(stage, message kind): the cheap coverage measure of the plain engine."""
        return f"{self.status}:{self.stage}:{_shape_of(self.message)}"


def _shape_of(message: str) -> str:
    """A message with its names and numbers blanked out: the kind of error, not the instance."""
    text = re.sub(r"'[^']*'|\"[^\"]*\"", "'_'", message)
    text = re.sub(r"-?\d+(\.\d+)?(e-?\d+)?", "N", text)
    text = re.sub(r"\[[N, .]*\]", "[..]", text)
    return text[:160]


def digest(data: bytes) -> str:
    return hashlib.sha1(data).hexdigest()[:12]


def _internal(stage: str, data: bytes) -> FuzzFailure:
    tb = traceback.format_exc(limit=-6)
    return FuzzFailure("internal-error", stage, tb.strip(), data)


def check_python(data: bytes) -> Outcome:
    """Every Python stage of report + build except the TFLM vectors; raises FuzzFailure on a bug."""
    stage = "read/validate"
    try:
        graph = load_graph(data, name=MODEL_NAME, limits=LIMITS)
        stage = "ops"
        ops.check_supported(graph, MODEL_NAME)
        stage = "report"
        target = get_target("host")
        report = analyze(graph, MODEL_NAME, len(data), target, resolve_budgets(list(BUDGETS), target), None)
        report_md.markdown(report)
        report_md.terminal(report)
        report_md.dcase_block(report)
        json.dumps(report.to_dict(), default=fileio._json_default)
        stage = "c_array"
        name = c_array.c_name(MODEL_NAME)
        c_array.model_data_h(name, len(data))
        c_array.model_data_c(name, data)
        c_array.model_settings_h(graph, name, ops.resolver_ops(graph), report.totals.arena_bytes, None)
        stage = "codegen"
        macs = report.totals.macs
        generate(graph, plan_memory(graph), macs=macs, source_name=MODEL_NAME)
    except AcDeployError as e:
        return Outcome("refused", stage, str(e))
    except Exception:  # noqa: BLE001 - anything else is what the fuzzer looks for
        raise _internal(stage, data) from None
    shapes = [(op.opcode, [tuple(graph.tensor(i).shape) for i in (*op.inputs, *op.outputs) if i >= 0])
              for op in graph.operators]
    return Outcome("passed", "codegen", macs=macs, structure=digest(repr(shapes).encode()))


# ---- the C part (child process) -------------------------------------------------------------

def _net(model: bytes, index: int):
    """kernel_harness.prepare for one validated model, with its own symbol prefix."""
    import numpy as np
    from kernel_harness import Net, tflm_float_outputs

    from acdeploy.deploy.vectors import make_vectors

    g = load_graph(model, name=MODEL_NAME, limits=LIMITS)
    name = f"n{index}"
    code = generate(g, plan_memory(g), prefix=name, source_name=MODEL_NAME)
    x, y = make_vectors(model, n=C_VECTORS, seed=index, graph=g, name=MODEL_NAME)
    net = Net(name, model, g, code, x, y)
    if code.float_io and g.tensor(g.inputs[0]).dtype == "float32" and g.tensor(g.outputs[0]).dtype == "float32":
        q = g.tensor(code.input_tensor).quant
        s, zp = float(q.scale[0]), int(q.zero_point[0])
        rng = np.random.default_rng(index)
        q8 = rng.integers(-128, 128, size=(2, *g.tensor(g.inputs[0]).shape))
        xf = ((q8 - zp) * np.float32(s)).astype(np.float32)  # on the int8 grid: QUANTIZE is exact
        net.float_inputs, net.float_expected = xf, tflm_float_outputs(model, g, xf)
    return net


def _chart(model: bytes, work: Path) -> None:
    g = load_graph(model, name=MODEL_NAME, limits=LIMITS)
    report_md.chart(analyze(g, MODEL_NAME, len(model)), work / "chart.png")


def c_batch_main(batch_dir: Path) -> int:
    """Child: TFLM vectors + one sanitized host build for every model in batch_dir; result.json."""
    import numpy as np
    from kernel_harness import build_and_run, mismatches

    models = sorted(batch_dir.glob("*.tflite"))
    result: dict = {"refused": [], "ran": [], "failure": None}
    nets = []
    for i, path in enumerate(models):
        data = path.read_bytes()
        stage = "chart"
        try:
            _chart(data, batch_dir)
            stage = "vectors"
            nets.append(_net(data, i))
            result["ran"].append(path.name)
        except AcDeployError as e:
            result["refused"].append([path.name, str(e)[:300]])
        except Exception:  # noqa: BLE001
            result["failure"] = {"kind": "internal-error", "stage": stage, "file": path.name,
                                 "detail": traceback.format_exc(limit=-6)}
            break
    corrupt = os.environ.get(CORRUPT_ENV, "")
    for n in nets:
        if corrupt == "expected":
            n.expected = n.expected ^ np.int8(1)
        elif corrupt == "arena":
            n.code = dataclasses.replace(n.code, header=re.sub(
                r"(#define \w+_ARENA_SIZE )(\d+)", lambda m: f"{m.group(1)}{max(1, int(m.group(2)) // 2)}", n.code.header))
    if result["failure"] is None and nets:
        try:
            # A corrupted arena must reach the sanitizer, not gcc's static bounds warnings.
            quiet = ("-Wno-array-bounds", "-Wno-stringop-overflow") if corrupt == "arena" else ()
            ints, floats = build_and_run(nets, batch_dir / "build", extra_flags=quiet)
            bad = mismatches(nets, ints)
            for n in nets:
                if n.float_expected is not None:
                    got = floats.get(n.name)
                    if got is None or got.view(np.uint32).tolist() != n.float_expected.view(np.uint32).tolist():
                        bad.append(f"{n.name}: float outputs differ")
            if bad:
                result["failure"] = {"kind": "mismatch", "stage": "c-run", "file": None, "detail": "; ".join(bad)}
        except AssertionError as e:
            result["failure"] = {"kind": "c-failure", "stage": "c-build/run", "file": None, "detail": str(e)[-3000:]}
    (batch_dir / "result.json").write_text(json.dumps(result))
    return 0


def _run_child(batch_dir: Path, timeout: float) -> dict:
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
    try:
        proc = subprocess.run([sys.executable, str(Path(__file__)), "--c-batch", str(batch_dir)],
                              capture_output=True, text=True, timeout=timeout, env=env)
    except subprocess.TimeoutExpired:
        return {"failure": {"kind": "hang", "stage": "c-part", "file": None,
                            "detail": f"no result within {timeout:g} s"}}
    res = batch_dir / "result.json"
    if proc.returncode != 0 or not res.exists():
        return {"failure": {"kind": "signal" if proc.returncode < 0 else "child-error", "stage": "c-part", "file": None,
                            "detail": f"child exit {proc.returncode}: {proc.stderr[-2000:]}"}}
    return json.loads(res.read_text())


def run_c(models: list[bytes], workdir: str | Path, timeout: float = C_TIMEOUT) -> dict:
    """C part for models that passed check_python, in one child and one gcc build.

    Returns {"ran": n, "refused": n}. On a failure of a batch of several, each model is rerun alone
    so the FuzzFailure names (and carries) the one input at fault.
    """
    workdir = Path(workdir)
    batch = workdir / f"batch-{digest(b''.join(models))}"
    if batch.exists():
        import shutil

        shutil.rmtree(batch)
    batch.mkdir(parents=True)
    for i, m in enumerate(models):
        (batch / f"{i:04d}.tflite").write_bytes(m)
    res = _run_child(batch, timeout)
    f = res.get("failure")
    if f is None:
        import shutil

        shutil.rmtree(batch, ignore_errors=True)
        return {"ran": len(res["ran"]), "refused": len(res["refused"])}
    if f.get("file") is not None:
        culprit = models[int(f["file"].split(".")[0])]
        raise FuzzFailure(f["kind"], f["stage"], f["detail"], culprit)
    if len(models) > 1:
        for m in models:
            run_c([m], workdir, timeout)
    raise FuzzFailure(f["kind"], f["stage"], f["detail"], models[0] if len(models) == 1 else None)


def check_one(data: bytes, workdir) -> str:
    """'refused', 'passed' (C part skipped: too many MACs or refused by TFLM) or 'ok' (the C
    network ran clean under ASan/UBSan and equals TFLM). Raises FuzzFailure on a bug."""
    out = check_python(data)
    if out.status == "refused":
        return "refused"
    if out.macs > C_MAX_MACS:
        return "passed"
    res = run_c([data], workdir)
    return "ok" if res["ran"] else "passed"


if __name__ == "__main__":
    if len(sys.argv) == 3 and sys.argv[1] == "--c-batch":
        sys.exit(c_batch_main(Path(sys.argv[2])))
    sys.exit("usage: harness.py --c-batch DIR")
