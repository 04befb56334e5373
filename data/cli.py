"""`acdeploy data ...`: the synthetic dataset and cached log-mel features.

No heavy imports here (librosa, scipy, TensorFlow): commands import their module when they run.
"""

from __future__ import annotations

from pathlib import Path

import click

from acdeploy.cli import config_options, load


@click.group("data")
def data() -> None:
    """Datasets: the built-in synthetic DCASE-layout dataset and cached log-mel features."""


@data.command("synth")
@click.argument("out", type=click.Path(file_okay=False, path_type=Path))
@click.option("--clips-per-class", type=int, default=None, help="WAV files per scene class, all devices and splits together [data.clips_per_class].")
@click.option("--seconds", type=float, default=None, help="Clip length in seconds [data.seconds].")
@click.option("--sample-rate", type=int, default=None, help="Sample rate of the WAVs [data.sample_rate].")
@click.option("--seed", type=int, default=None, help="Generator seed; same seed, same bytes [data.seed].")
@config_options
def synth(out: Path, clips_per_class, seconds, sample_rate, seed, config_path, sets) -> None:
    """Write the synthetic multi-device dataset to OUT in the DCASE layout (a stand-in for TAU
    Urban Acoustic Scenes Mobile: meta.csv, evaluation_setup/fold1_*.csv, audio/*.wav).

    An identical dataset already in OUT is kept; OUT is written atomically.
    """
    cfg = load(config_path, sets, **{
        "data.clips_per_class": clips_per_class, "data.seconds": seconds,
        "data.sample_rate": sample_rate, "data.seed": seed,
    }).data
    from acdeploy.data.synth import SynthSpec, synthesize

    spec = SynthSpec(cfg.clips_per_class, cfg.seconds, cfg.sample_rate, cfg.seed, cfg.difficulty)
    path, made = synthesize(out, spec, workers=cfg.synth_workers)
    n = sum(1 for _ in (path / "audio").iterdir())
    what = "wrote" if made else "kept (same settings)"
    click.echo(f"{path}: {what} synthetic dataset, {n} clips of {cfg.seconds:g} s at {cfg.sample_rate} Hz")


@data.command("features")
@click.argument("dataset", type=click.Path(path_type=Path))
@click.option("--cache", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="Cache root; features go to CACHE/<hash>/ (default DATASET/.acdeploy/features).")
@click.option("--workers", type=int, default=None, help="Extraction processes; 0 = one per core [features.workers].")
@click.option("--seconds", type=float, default=None,
              help="Clip length: longer clips are cut, shorter ones padded or refused [data.seconds].")
@config_options
def features(dataset: Path, cache, workers, seconds, config_path, sets) -> None:
    """Extract log-mel features of every train/evaluate clip of DATASET (DCASE layout) and cache
    them; prints the cache directory. A second run with the same data and settings is a cache hit.

    Every clip covers data.seconds of audio: longer clips are cut, shorter ones zero-padded (or
    refused with features.short_clips=error); how many were is printed."""
    cfg = load(config_path, sets, **{"features.workers": workers, "data.seconds": seconds})
    from acdeploy.data.featstore import open_features
    from acdeploy.data.features import extract_features

    out, hit = extract_features(dataset, cfg.features, cache, seconds=cfg.data.seconds)
    fs = open_features(out)
    state = "cache hit" if hit else "extracted"
    click.echo(f"{state}: {len(fs)} clips, features {'x'.join(map(str, fs.x.shape[1:]))}, "
               f"{len(fs.classes)} classes, seen devices {','.join(fs.seen_devices)}", err=True)
    click.echo(str(out))


COMMANDS = [data]
