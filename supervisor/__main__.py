"""``python -m supervisor``: the ``mcpfleet`` command without the console script."""

import sys

from supervisor.cli import main

sys.exit(main())
