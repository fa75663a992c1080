"""``python -m orbitshare``: the command line."""

import sys

from orbitshare.cli import main

sys.exit(main())
