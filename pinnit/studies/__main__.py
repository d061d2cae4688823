"""``python -m pinnit.studies``: the local executor's worker (one run; the task as JSON on stdin)."""
import sys

from .worker import main

sys.exit(main())
