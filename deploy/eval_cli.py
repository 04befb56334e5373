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
              help="litert (LiteRT), litert-ref (LiteRT reference kernels), tflm (TFLite Micro runtime), "
                   "c (the generated C network, built for the host with gcc) or c-audio (the firmware's audio "
                   "front end + C network on the dataset's WAVs, with its agreement with the host pipeline).")
@click.option("--split", default="evaluate", show_default=True, help="Fold split to score: evaluate or train.")
@click.option("--json", "json_out", type=click.Path(dir_okay=False, path_type=Path), default=None,
              help="Also write the metrics as JSON here.")
@config_options
def eval_cmd(model, data, engine, split, json_out, config_path, sets):
    """Score an int8 (or float-I/O) .tflite on the host with the DCASE metrics, per device."""
    from acdeploy import fileio
    from acdeploy.deploy import evaluate as ev
    from acdeploy.deploy.dataset_inputs import model_features
    from acdeploy.errors import DataError, ModelError
    from acdeploy.metrics import format_table

    cfg = load(config_path, sets)
    if engine not in (*ev.ENGINES, "c-audio"):
        raise ModelError(f"unknown engine '{engine}'; choose one of: {', '.join(ev.ENGINES)}, c-audio")
    ev.check_int8(ev.read_model(model), str(model))
    info = ev.model_info_for(model)
    fs = model_features(model, data, cfg, info)  # computed exactly as for training
    part = fs.subset(split)
    if len(part.labels) == 0:
        raise DataError(f"{fs.root}: the '{split}' split is empty")
    if engine == "c-audio":
        from acdeploy.deploy.audio_eval import agreement_line, evaluate_audio

        m = evaluate_audio(model, part, info)
    else:
        m = ev.evaluate(model, part, engine, info)
    click.echo(format_table(m))
    if engine == "c-audio":
        click.echo(agreement_line(m))
    click.echo(f"{model}: engine {engine}, {split} split, accuracy {100 * m['accuracy']:.1f} %, log loss {m['log_loss']:.3f}")
    if json_out:
        fileio.write_json(json_out, m)


COMMANDS = [eval_cmd]
