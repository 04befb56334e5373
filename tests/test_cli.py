import subprocess
import sys

from acdeploy.cli import main


def test_help_and_version(capsys):
    assert main(["--help"]) == 0
    assert "Acoustic Lottery" in capsys.readouterr().out
    assert main(["--version"]) == 0


def test_unknown_command_is_usage_error():
    assert main(["no-such-command"]) == 2


def test_help_does_not_import_tensorflow():
    code = "import sys; from acdeploy.cli import main; main(['--help']); print('tensorflow' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout
    assert out.strip().splitlines()[-1] == "False"
