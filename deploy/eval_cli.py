"""`acdeploy eval MODEL.tflite --data DATASET`: host evaluation without TensorFlow."""

from __future__ import annotations

from pathlib import Path

import click

from acdeploy.cli import config_options, load


@click.command("eval")
@click.argument("model", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--data", type=click.Path(file_okay=False, path_type=Path), default=None,
              help="DCASE-layout dataset dir (default: data.path, else the dataset in the model's model_info.json).")
@click.option("--engine", default="litert", show_default=True,
              help="litert (LiteRT), litert-ref (LiteRT reference kernels), tflm (TFLite Micro runtime) "
                   "or c (the generated C network, built for the host with gcc).")
@click.option("--split", default="evaluate", show_default=True, help="Fold split to score: evaluate or train.")
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the metrics as JSON here.")
@config_options
def eval_cmd(model, data, engine, split, json_out, config_path, sets):
    """Score an int8 (or float-I/O) .tflite on the host with the DCASE metrics, per device."""
    from acdeploy.deploy import evaluate as ev
    from acdeploy.train.config import FeatureConfig

    from acdeploy import fileio
    from acdeploy.config import from_dict
    from acdeploy.errors import ConfigError, DataError, ModelError
    from acdeploy.metrics import format_table

    cfg = load(config_path, sets)
    if engine not in ev.ENGINES:
        raise ModelError(f"unknown engine '{engine}'; choose one of: {', '.join(ev.ENGINES)}")
    ev.check_int8(ev.read_model(model), str(model))
    info = ev.model_info_for(model)
    data_dir = str(data) if data else (cfg.data.path or (info or {}).get("dataset"))
    if not data_dir:
        raise ConfigError("no dataset: give --data DATASET (or data.path in the config)")
    # The features must be computed exactly as for training: the model's own settings win.
    feat_cfg = cfg.features
    if info and info.get("feature_config"):
        known = {k: v for k, v in info["feature_config"].items() if k in FeatureConfig.__dataclass_fields__}
        feat_cfg = from_dict(FeatureConfig, known, where=f"{model} model_info", prefix="features")
    from acdeploy.train.features import ensure_features

    from acdeploy.featstore import open_features

    fs = open_features(ensure_features(data_dir, feat_cfg))
    part = fs.subset(split)
    if len(part.labels) == 0:
        raise DataError(f"{data_dir}: the '{split}' split is empty")
    m = ev.evaluate(model, part, engine, info)
    click.echo(format_table(m))
    click.echo(f"{model}: engine {engine}, {split} split, accuracy {100 * m['accuracy']:.1f} %, log loss {m['log_loss']:.3f}")
    if json_out:
        fileio.write_json(json_out, m)


COMMANDS = [eval_cmd]
