"""The one exception family the CLI turns into a one-line message and an exit code."""


class AcDeployError(Exception):
    """A user-facing error: the message is a sentence naming the file, key or layer at fault."""

    exit_code = 1


class ConfigError(AcDeployError):
    """A config file or flag has a bad key or value."""


class DataError(AcDeployError):
    """A dataset, audio file or feature cache is missing or malformed."""


class ModelError(AcDeployError):
    """A model directory or .tflite file is missing, malformed or unsupported."""


class ToolchainError(AcDeployError):
    """An external tool (compiler, QEMU) is missing or failed."""


class OverBudget(AcDeployError):
    """A budget check failed; the report is still written."""

    exit_code = 3
