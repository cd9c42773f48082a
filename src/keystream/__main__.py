"""``python -m keystream``: the command line (see ``keystream --help``)."""
from ._tools._cli import main

raise SystemExit(main())
