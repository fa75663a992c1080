"""``python -m orbitshare``: the command line (:func:`orbitshare.cli.main`)."""

import sys

from orbitshare.cli import main

if __name__ == "__main__":
    sys.exit(main())
