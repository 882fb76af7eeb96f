"""``python -m ecsemu``: the same as the ``ecsemu`` command."""

import sys

from ecsemu.cli import main

sys.exit(main())
