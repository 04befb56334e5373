"""The `acdeploy` command line: one click group; each stage contributes its commands.

Stage command modules (`acdeploy.<stage>.cli`) must not import TensorFlow at import time, so
`acdeploy --help`, `report`, `build` and `eval` answer quickly.
"""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from typing import Any

import click

from acdeploy import __version__
from acdeploy.errors import AcDeployError
from acdeploy.textsafe import terminal_text

# Each module exposes COMMANDS: a list of click commands or groups.
STAGE_CLI_MODULES = (
    "acdeploy.data.cli",
    "acdeploy.train.train_cli",
    "acdeploy.compress.cli",
    "acdeploy.deploy.cli",
    "acdeploy.deploy.eval_cli",
    "acdeploy.pipeline_cli",
)


class _State:
    debug = False


STATE = _State()


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="acdeploy")
@click.option("--debug", is_flag=True, help="Show full tracebacks on errors.")
def cli(debug: bool) -> None:
    """Acoustic Lottery toolchain: train a KD student, find a lottery ticket, quantize to int8,
    and deploy it to Cortex-M as a TFLM array and an ahead-of-time C network."""
    STATE.debug = debug


def config_options(f):
    """`--config FILE` and repeated `--set KEY=VALUE` on every command."""
    f = click.option(
        "--set", "sets", multiple=True, metavar="KEY=VALUE",
        help="Override one config key, e.g. --set features.n_mels=64 (repeatable).",
    )(f)
    f = click.option(
        "--config", "config_path", type=click.Path(dir_okay=False, path_type=Path), default=None,
        help="YAML config (one schema for all stages); flags override it.",
    )(f)
    return f


def load(config_path: Path | None, sets: tuple[str, ...], **flag_overrides: Any):
    """Config from file, then --set, then the command's own flags (None = not given)."""
    from acdeploy.config import parse_override
    from acdeploy.schema import load_config

    overrides = dict(parse_override(s) for s in sets)
    overrides.update({k: v for k, v in flag_overrides.items() if v is not None})
    return load_config(config_path, overrides)


def _register() -> None:
    for name in STAGE_CLI_MODULES:
        try:
            mod = importlib.import_module(name)
        except ModuleNotFoundError as e:
            if e.name == name:  # the stage has no commands yet
                continue
            raise
        for cmd in mod.COMMANDS:
            cli.add_command(cmd)


_register()


def main(argv: list[str] | None = None) -> int:
    try:
        rv = cli.main(args=argv, prog_name="acdeploy", standalone_mode=False)
        return rv if isinstance(rv, int) else 0
    except click.exceptions.Abort:
        click.echo("aborted", err=True)
        return 130
    except click.ClickException as e:
        e.show()
        return e.exit_code
    except click.exceptions.Exit as e:
        return e.exit_code
    except AcDeployError as e:
        if STATE.debug:
            raise
        click.echo(f"error: {terminal_text(e)}", err=True)
        return e.exit_code
    except KeyboardInterrupt:
        click.echo("interrupted; rerun the same command to resume", err=True)
        return 130
    except Exception as e:  # noqa: BLE001 - last resort: one line, traceback only with --debug
        if STATE.debug:
            raise
        click.echo(f"internal error: {type(e).__name__}: {terminal_text(e)[:300]} (rerun with --debug for the traceback)",
                   err=True)
        return 1


if __name__ == "__main__":
    sys.exit(main())
