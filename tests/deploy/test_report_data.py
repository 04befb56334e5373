"""The typed report (deploy/report_data.py): report.json round-trips through `Report`, each build
step's section lands in it, and a hostile or truncated report.json is one ModelError line naming
the file and the key."""

from __future__ import annotations

import copy
import json

import pytest
from golden import MODEL

from acdeploy import artifacts
from acdeploy.deploy.build import BuildOptions, build
from acdeploy.deploy.firmware_step import board_check
from acdeploy.deploy.report_data import FirmwareResult, FirmwareSection, NetworkSection, Report
from acdeploy.deploy.targets import get_target
from acdeploy.errors import ModelError

GOLDEN_JSON = MODEL.parent / "mixed.report.json"

BUILT = dict(target="cortex-m4", machine="mps2-an386", dsp=True, elf="firmware/build/m4/firmware.elf", ran=False,
             passed=None, macs=1000, board_flash_bytes=1 << 20, board_ram_bytes=256 << 10, flash_bytes=5000,
             ram_bytes=4000, size={"code": 3000, "weights": 2000, "arena": 1000, "stack": 2048, "data": 10,
                                    "bss": 942, "test_data": 64})
RAN = dict(BUILT, ran=True, passed=True, exit_code=0, vectors=4, mismatches=0, instructions_per_inference=12345,
           instructions_per_mac=12.345, stack_used=512, run_log="firmware/build/m4/run.log")


def test_golden_report_json_round_trips_exactly():
    text = GOLDEN_JSON.read_text()
    rep = Report.from_json(text)
    assert rep.totals.macs == json.loads(text)["totals"]["macs"] and rep.layers[0].index == 0
    assert json.dumps(rep.to_dict(), indent=2, sort_keys=True) + "\n" == text
    assert Report.from_json(rep.to_json()) == rep


@pytest.mark.parametrize("fw", [BUILT, dict(BUILT, note="build only"), RAN])
def test_firmware_result_round_trip_keeps_the_key_set(fw):
    result = FirmwareResult.from_dict(fw, "r.json")
    assert result.to_dict() == fw
    assert FirmwareResult.from_dict(result.to_dict(), "r.json") == result


def test_sections_add_to_the_report():
    rep = Report.from_json(GOLDEN_JSON.read_text())
    net = NetworkSection(source="firmware/acnet.c", layers=11, arena_bytes=4096, input_size=768, output_size=10,
                         float_io=False, test_vectors=4)
    fw = FirmwareResult.from_dict(RAN, "r.json")
    check = board_check(fw, get_target("cortex-m4"))
    full = FirmwareSection(fw, check).add_to(net.add_to(rep))
    d = full.to_dict()
    assert d["network"] == net.to_dict() and d["firmware"] == RAN
    assert d["budgets"] == rep.budgets + [check] and check["name"] == "firmware:cortex-m4"
    assert Report.from_dict(copy.deepcopy(d)) == full
    assert rep.firmware is None and "firmware" not in rep.to_dict()  # sections never mutate the report


def test_build_returns_the_report_it_wrote(tmp_path):
    rep = build(MODEL, "cortex-m4", tmp_path / "b", options=BuildOptions(num_vectors=2))
    assert Report.read(tmp_path / "b" / artifacts.REPORT_JSON) == rep
    assert rep.network is not None and rep.network.test_vectors == 2 and rep.firmware is None
    assert rep.network.arena_bytes == rep.totals.c_arena_bytes  # one memory plan for both


def _mutate(fn):
    d = json.loads(GOLDEN_JSON.read_text())
    fn(d)
    return json.dumps(d)


@pytest.mark.parametrize("text,message", [
    ("[]", "not a JSON object (a list)"),
    ('{"model": {', "not valid JSON"),
    (_mutate(lambda d: d.pop("totals")), "missing key 'totals'"),
    (_mutate(lambda d: d["totals"].pop("macs")), "missing key 'totals.macs'"),
    (_mutate(lambda d: d["totals"].update(macs="many")), "totals.macs is 'many', not of type int"),
    (_mutate(lambda d: d["totals"].update(macs=True)), "totals.macs is True, not of type int"),
    (_mutate(lambda d: d.update(layers={})), "layers is {}, not a list"),
    (_mutate(lambda d: d["layers"].__setitem__(2, 7)), "layers[2] is not a JSON object"),
    (_mutate(lambda d: d["layers"][1].pop("op")), "missing key 'layers[1].op'"),
    (_mutate(lambda d: d["budgets"][0]["checks"][0].update(value=None)), "budgets[0].checks[0].value is None"),
    (_mutate(lambda d: d.update(target={"name": "x"})), "missing key 'target.board'"),
    (_mutate(lambda d: d.update(firmware=dict(RAN, passed="yes"))), "firmware.passed is 'yes'"),
    (_mutate(lambda d: d.update(firmware={k: v for k, v in RAN.items() if k != "vectors"})),
     "missing key 'firmware.vectors'"),
])
def test_bad_report_json_is_one_line_error(tmp_path, text, message):
    path = tmp_path / artifacts.REPORT_JSON
    path.write_text(text)
    with pytest.raises(ModelError) as e:
        Report.read(path)
    assert str(e.value).startswith(f"{path}: ") and message in str(e.value) and "\n" not in str(e.value)
