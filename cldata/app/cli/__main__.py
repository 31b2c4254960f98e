"""``python -m cldata.app.cli``: the ``cldata`` command."""

import sys

from cldata.app.cli import main

sys.exit(main())
