"""Audio front end on the device: instructions per frame, flash and RAM, next to one inference.

    .venv/bin/python benchmarks/bench_frontend.py --model runs/quickstart/model_int8.tflite [--targets ...]

For the quickstart's feature settings (22.05 kHz, n_fft 1024) and the DCASE 2022 baseline's
(44.1 kHz, n_fft 2048; same 40 x 51 input, so the same network): the firmware built with the front
end runs in QEMU (-icount shift=0) on cortex-m4 (float CMSIS-DSP rfft, mps2-an386) and on
cortex-m0plus (q31 CMSIS-DSP rfft; the ARMv6-M image runs on mps2-an386, an ARMv7-M machine, since
QEMU has no Cortex-M0+ board with this memory map); `--targets cortex-m7 cortex-m33 cortex-m55` run
on their own machines (the M55 gets CMSIS-DSP's Helium FFT). Its FRONTEND line gives instructions per frame
over one second of noise; flash is the linked size of the front end's and CMSIS-DSP's code and
tables (the sections firmware.map shows the linker kept from their objects).
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import numpy as np

from acdeploy.deploy import c_engine, firmware, frontend, frontend_step
from acdeploy.deploy.evaluate import model_info_for
from acdeploy.deploy.targets import get_target

SETTINGS = {
    "quickstart": dict(sample_rate=22050, n_fft=1024, win_length=882, hop_length=441, n_mels=40),
    "dcase2022": dict(sample_rate=44100, n_fft=2048, win_length=1764, hop_length=882, n_mels=40),
}
def measure(model: Path, settings: str, target: str) -> dict:
    info = model_info_for(model)
    info = info.with_(feature_config={**info.feature_config, **SETTINGS[settings]})
    with tempfile.TemporaryDirectory() as tmp:
        fw = Path(tmp) / "firmware"
        graph, _ = c_engine.write_network_project(model.read_bytes(), fw, name=str(model))
        spec = frontend.spec_for(info, graph, str(model))
        # one (silent) clip, so the firmware calls acfront_input as a deployment does
        frontend_step.write_frontend(fw, spec, model.name, [np.zeros(spec.clip_samples, np.int16)])
        t = get_target(target)
        elf = firmware.build_firmware(tmp, t)
        run = firmware.run_qemu(elf, t.qemu_machine or "mps2-an386", timeout=900)
        front, _ = frontend_step.audio_results(run.log)
        return {"settings": settings, "target": target, "per_frame": front["instructions_per_frame"],
                "per_second": front["instructions"], "frames": front["frames"], "inference": run.instructions,
                "flash": frontend_step.linked_flash(elf.with_name("firmware.map")), "ram": front["ram_bytes"], "fixed": front["fixed"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--model", type=Path, required=True, help="an int8 model with its model_info.json (40 x 51 input)")
    ap.add_argument("--targets", nargs="+", default=["cortex-m4", "cortex-m0plus"])
    args = ap.parse_args()
    print("| settings | target | FFT | instructions / frame | per 1 s of audio | one inference | "
          "flash: front end + FFT | RAM |")
    print("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for settings in SETTINGS:
        for target in args.targets:
            r = measure(args.model, settings, target)
            print(f"| {settings} | {target} | {'q31' if r['fixed'] else 'float'} | {r['per_frame']:,} | "
                  f"{r['per_second']:,} | {r['inference']:,} | {r['flash']:,} B | {r['ram']:,} B |", flush=True)


if __name__ == "__main__":
    main()
