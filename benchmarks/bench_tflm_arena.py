"""The TFLM arena estimate (deploy/memory_plan.py) against the smallest arena_size with which the
TFLM Python runtime runs each model, found by bisection (each attempt in a fresh process).

    .venv/bin/python benchmarks/bench_tflm_arena.py [--work DIR]

Builds small converter models (single layers of 4 to 256 channels, PAD/CONCAT variants, mixed
CNNs, MobileNetV2 0.35 at 32x32) and prints a Markdown table for docs/BENCHMARKS.md.
"""

from __future__ import annotations

import argparse
import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests" / "deploy"))

_TRY = """
import sys, numpy as np
from tflite_micro.python.tflite_micro import runtime
it = runtime.Interpreter.from_bytes(open(sys.argv[1], 'rb').read(), arena_size=int(sys.argv[2]))
d = it.get_input_details(0)
it.set_input(np.zeros(d['shape'], d['dtype']), 0)
it.invoke()
print('INVOKED')
"""


def _models() -> dict:
    import tf_keras as keras
    from deploy_models import copies_model, mixed_model, sized_model

    L = keras.layers

    def seq(layers, shape):
        x_in = keras.Input(shape)
        x = x_in
        for layer in layers:
            x = layer(x)
        return keras.Model(x_in, x), shape

    def mnv2():
        m = keras.applications.MobileNetV2(weights=None, input_shape=(32, 32, 3), alpha=0.35, classes=10,
                                           classifier_activation=None)
        return m, (32, 32, 3)

    return {
        "conv 3x3, 8 ch": lambda: seq([L.Conv2D(8, 3, activation="relu")], (10, 10, 3)),
        "conv 1x1 to 4 ch on 1x1": lambda: seq([L.Conv2D(4, 1)], (1, 1, 4)),
        "conv 1x1 to 256 ch on 1x1": lambda: seq([L.Conv2D(256, 1)], (1, 1, 4)),
        "depthwise 3x3, 16 ch": lambda: seq([L.DepthwiseConv2D(3)], (10, 10, 16)),
        "flatten + dense 20 + dense 5": lambda: seq([L.Flatten(), L.Dense(20), L.Dense(5)], (4, 4, 2)),
        "dense 5 on 16 features": lambda: seq([L.Dense(5)], (16,)),
        "dense 64 on 32 features": lambda: seq([L.Dense(64)], (32,)),
        "dense 64 + dense 64 + dense 10": lambda: seq([L.Dense(64), L.Dense(64), L.Dense(10)], (32,)),
        "flatten + dense 128": lambda: seq([L.Flatten(), L.Dense(128)], (8, 8, 4)),
        "dense 3 + dense 200": lambda: seq([L.Dense(3), L.Dense(200)], (10,)),
        "conv 3x3 8 ch + flatten + dense 10": lambda: seq([L.Conv2D(8, 3), L.Flatten(), L.Dense(10)], (8, 8, 2)),
        "max pool + avg pool": lambda: seq([L.MaxPooling2D(2), L.AveragePooling2D(2)], (8, 8, 4)),
        "mean + softmax": lambda: seq([L.GlobalAveragePooling2D(), L.Softmax()], (6, 6, 10)),
        "pad + max pool": lambda: seq([L.ZeroPadding2D(1), L.MaxPooling2D(2)], (8, 8, 4)),
        "mixed CNN (deploy_models.mixed)": lambda: (mixed_model(), (16, 16, 3)),
        "PAD/CONCAT copies (deploy_models.copies)": lambda: (copies_model(), (8, 8, 4)),
        "CNN 40x51x1, 20 K params": lambda: (sized_model(20_000), (40, 51, 1)),
        "MobileNetV2 0.35, 32x32x3": mnv2,
    }


def _runs(path: Path, arena: int) -> bool:
    r = subprocess.run([sys.executable, "-c", _TRY, str(path), str(arena)], capture_output=True, text=True)
    return r.returncode == 0 and "INVOKED" in r.stdout


def smallest_arena(path: Path, hi: int) -> int:
    lo = 0
    while not _runs(path, hi):
        lo, hi = hi, hi * 2
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if _runs(path, mid) else (mid, hi)
    return hi


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--work", type=Path, default=ROOT / "runs" / "bench_tflm_arena")
    args = ap.parse_args()
    args.work.mkdir(parents=True, exist_ok=True)
    from deploy_models import _quantize

    import acdeploy  # noqa: F401  (TF_USE_LEGACY_KERAS before TensorFlow loads)
    from acdeploy.deploy.memory_plan import tflm_arena
    from acdeploy.deploy.tflite_reader import read_tflite

    print("| model | estimate (B) | measured minimum (B) | estimate / minimum |")
    print("| --- | ---: | ---: | ---: |")
    for label, make in _models().items():
        path = args.work / (re.sub(r"[^a-z0-9]+", "_", label.lower()).strip("_") + ".tflite")
        if not path.exists():
            model, shape = make()
            path.write_bytes(_quantize(model, shape))
        est = tflm_arena(read_tflite(path)).total
        true = smallest_arena(path, est)
        print(f"| {label} | {est:,} | {true:,} | {est / true:.3f} |", flush=True)


if __name__ == "__main__":
    main()
