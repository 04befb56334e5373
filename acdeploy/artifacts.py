"""The file and directory names of every artifact the stages write and read, in one place.

A stage that writes a file and the stage that reads it both name it from here, so a rename is one
edit. Grouped by the directory that holds them.
"""

from __future__ import annotations

from pathlib import Path

# --- dataset (DCASE layout) and feature cache (acdeploy data) ----------------------------------
META_CSV = "meta.csv"
SYNTH_STAMP = Path(".acdeploy") / "synth.json"  # inside a synthetic dataset: its generator settings
FEATURES_NPY = "features.npy"
FEATURES_INDEX = "index.csv"
FEATURES_INFO = "info.json"  # written last: its presence marks a complete cache

# --- model dir (acdeploy train; each LTH level has the same files) -----------------------------
MODEL_KERAS = "model.keras"
MODEL_INFO = "model_info.json"
CONFIG_YAML = "config.yaml"
METRICS_JSON = "metrics.json"  # written last of a model dir's results
HISTORY_CSV = "history.csv"
CURVES_PNG = "curves.png"
CONFUSION_PNG = "confusion.png"
DEVICE_PROFILES = "device_profiles.json"
PARTIAL = ".partial"  # present while a run is unfinished
CHECKPOINTS = "checkpoints"  # resume state of a training run
TRAIN_STATE = "state.json"  # in CHECKPOINTS
RUN_CONFIG = "run_config.yaml"  # in a work dir: the config a resumed run must match

# --- LTH run dir (acdeploy compress lth) -------------------------------------------------------
LTH_WORK = ".work"
REWIND_NPZ = "rewind.npz"
MASK_NPZ = "mask.npz"
LTH_SUMMARY = "summary.json"
LTH_PLOT = "lth.png"
TICKET_DIR = "ticket"
TICKET_JSON = "ticket.json"

# --- int8 model (acdeploy compress quantize) and the pipeline run dir --------------------------
INT8_MODEL = "model_int8.tflite"
PIPELINE_STATE = "pipeline.json"
REPORT_HTML = "report.html"  # and REPORT_MD: the run's summary
RUN_DATA = "data"  # the synthetic dataset, when data.path is not set
RUN_TEACHER = "teacher_{}"  # .format(i): one model dir per teacher
RUN_STUDENT = "student"
RUN_LTH = "lth"
RUN_EVAL = "eval"  # <engine>.json per host engine
RUN_BUILD = "build"
RUN_DENSE = "dense"  # the dense student at int8 and its firmware (INT8_MODEL, RUN_BUILD): the summary's baseline

# --- build dir (acdeploy build / report --out) -------------------------------------------------
REPORT_JSON = "report.json"
REPORT_MD = "report.md"
REPORT_CHART = "report_layers.png"
REPORT_WEIGHTS_CHART = "report_weights.png"  # per-layer weight bytes by format (built networks)
MODEL_DATA_H = "model_data.h"
MODEL_DATA_C = "model_data.c"
MODEL_SETTINGS_H = "model_settings.h"
FIRMWARE_DIR = "firmware"  # inside a build dir: everything the firmware compiles
ACNET_C = "acnet.c"
ACNET_H = "acnet.h"
ACNET_PROFILED_C = "acnet_profiled.c"
KERNELS_DIR = "kernels"  # in FIRMWARE_DIR: the C kernels, copied from firmware_stub/kernels/
TEST_VECTORS_H = "test_vectors.h"
FIRMWARE_ELF = "firmware.elf"
HOST_BINARY = "firmware"
BUILD_LOG = "build.log"
RUN_LOG = "run.log"
STREAM_LOG = "stream.log"


def quant_report(tflite: str | Path) -> Path:
    """The quantization report that compress writes beside a .tflite: `<stem>.json`."""
    return Path(tflite).with_suffix(".json")


def sidecar_info(tflite: str | Path) -> Path:
    """The model_info.json that travels with a .tflite: `<stem>.model_info.json`."""
    p = Path(tflite)
    return p.with_name(f"{p.stem}.{MODEL_INFO}")
