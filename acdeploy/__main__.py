"""`python -m acdeploy` and the `acdeploy` console script."""

import sys

from acdeploy.cli import main
from acdeploy.native_log import quiet_native_logs


def entry() -> int:
    """The command line as a user runs it: TensorFlow's native log lines hidden unless --debug."""
    with quiet_native_logs(enabled="--debug" not in sys.argv[1:]):
        return main()


if __name__ == "__main__":
    sys.exit(entry())
