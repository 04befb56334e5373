"""Engine agreement rule of the pipeline's eval stage: TFLM and the generated C must agree on
every clip; LiteRT may differ only where TFLM's two best classes are a near-tie."""

import json

import pytest

from acdeploy.errors import ModelError
from acdeploy.pipeline_report import NEAR_TIE, check_engines_agree


def _write(d, engine, probs):
    preds = [max(range(len(p)), key=p.__getitem__) for p in probs]
    (d / f"{engine}.json").write_text(json.dumps({"predictions": preds, "probabilities": probs}))


REF = [[0.7, 0.2, 0.1], [0.40, 0.40 - NEAR_TIE / 2, 0.2 + NEAR_TIE / 2], [0.1, 0.3, 0.6]]


def test_exact_engines_must_match_every_clip(tmp_path):
    _write(tmp_path, "tflm", REF)
    _write(tmp_path, "c", REF)
    assert check_engines_agree(tmp_path, ["tflm", "c"]) == {"tflm": 1.0, "c": 1.0}
    flipped = [REF[0], [0.39, 0.41, 0.2], REF[2]]
    _write(tmp_path, "c", flipped)
    with pytest.raises(ModelError, match="engine c disagrees with tflm on 1 clip"):
        check_engines_agree(tmp_path, ["tflm", "c"])


def test_litert_reference_is_forgiven_near_ties_only(tmp_path):
    _write(tmp_path, "tflm", REF)
    _write(tmp_path, "litert-ref", [REF[0], [0.39, 0.41, 0.2], REF[2]])  # clip 1 is a near-tie in TFLM
    agree = check_engines_agree(tmp_path, ["litert-ref", "tflm"])
    assert agree["litert-ref"] == pytest.approx(2 / 3)
    _write(tmp_path, "litert-ref", [[0.2, 0.7, 0.1], REF[1], REF[2]])  # clip 0 is not a tie
    with pytest.raises(ModelError, match="engine litert-ref disagrees with tflm on 1 clip"):
        check_engines_agree(tmp_path, ["litert-ref", "tflm"])


def test_litert_optimized_needs_a_share_of_clips(tmp_path):
    ref = [[0.6, 0.4]] * 40
    _write(tmp_path, "tflm", ref)
    _write(tmp_path, "litert", [[0.4, 0.6]] + ref[1:])  # 39/40 = 97.5 %
    assert check_engines_agree(tmp_path, ["litert", "tflm"])["litert"] == pytest.approx(39 / 40)
    _write(tmp_path, "litert", [[0.4, 0.6]] * 3 + ref[3:])  # 37/40 = 92.5 %
    with pytest.raises(ModelError, match="agrees with tflm on only 92.5 %"):
        check_engines_agree(tmp_path, ["litert", "tflm"])


def test_missing_engine_output_is_an_error(tmp_path):
    _write(tmp_path, "tflm", REF)
    with pytest.raises(ModelError, match="no per-clip predictions from engine c"):
        check_engines_agree(tmp_path, ["tflm", "c"])


def _fw(flash, ram, instr, nonzero):
    return {"totals": {"params": 16090, "nonzero_params": nonzero},
            "firmware": {"target": "cortex-m4", "machine": "mps2-an386", "passed": True, "flash_bytes": flash,
                         "ram_bytes": ram, "instructions_per_inference": instr, "instructions_per_mac": 2.5}}


def test_dense_student_and_ticket_side_by_side_on_the_device(tmp_path, capsys):
    from acdeploy import artifacts
    from acdeploy.pipeline_report import print_summary, write_report

    for sub, rep in ((artifacts.RUN_BUILD, _fw(52792, 66460, 6794920, 1900)),
                     (f"{artifacts.RUN_DENSE}/{artifacts.RUN_BUILD}", _fw(60000, 66000, 7000000, 16000))):
        (tmp_path / sub).mkdir(parents=True)
        (tmp_path / sub / artifacts.REPORT_JSON).write_text(json.dumps(rep))
    (tmp_path / artifacts.RUN_LTH).mkdir()
    (tmp_path / artifacts.RUN_LTH / artifacts.LTH_SUMMARY).write_text(json.dumps({"levels": [], "ticket": "level_05"}))
    write_report(tmp_path)
    md = (tmp_path / artifacts.REPORT_MD).read_text()
    assert "| on the device (cortex-m4, mps2-an386) | dense student | ticket (level\\_05) | ticket / dense |" in md
    assert "| firmware flash (bytes) | 60,000 | 52,792 | 0.88x |" in md
    assert "| firmware RAM (bytes) | 66,000 | 66,460 | 1.01x |" in md
    assert "| instructions per inference | 7,000,000 | 6,794,920 | 0.97x |" in md
    assert "| firmware output equals TFLM | True | True |  |" in md
    assert "<td>instructions per inference</td><td>7,000,000</td><td>6,794,920</td>" in (tmp_path / artifacts.REPORT_HTML).read_text()
    print_summary(tmp_path)
    out = capsys.readouterr().out
    assert any(ln.split()[:3] == ["firmware", "flash", "(bytes)"] and ln.split()[3:] == ["60,000", "52,792", "0.88x"]
               for ln in out.splitlines()), out


def test_without_the_dense_build_the_ticket_column_stands_alone(tmp_path):
    from acdeploy import artifacts
    from acdeploy.pipeline_report import collect, device_rows

    (tmp_path / artifacts.RUN_BUILD).mkdir()
    (tmp_path / artifacts.RUN_BUILD / artifacts.REPORT_JSON).write_text(json.dumps(_fw(52792, 66460, 6794920, 1900)))
    rows = {r[0]: r[1:] for r in device_rows(collect(tmp_path))}
    assert rows["instructions per inference"] == ["-", "6,794,920", ""]
