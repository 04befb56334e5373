import sys

from acdeploy.cli import main

sys.exit(main())
