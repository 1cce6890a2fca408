"""``python -m dsflow`` is the ``dsflow`` command."""

import sys

from .cli import main

sys.exit(main())
