"""Studies: a study file expands into resolved run configs, executed serially, on a local pool or on Ray,
and a report reads the study directory back into tables and figures (``pinnit study``, ``pinnit report``).

The names below are imported on first use (PEP 562), so ``pinnit study --help`` and the executor registry do not
load torch before the CLI has set the OpenMP wait policy."""
from __future__ import annotations

from ..core.lazy import lazy_exports

_PUBLIC = {"EXECUTORS": "executors", "ExecutorOptions": "executors",
           "PlannedRun": "expand", "config_digest": "expand", "expand": "expand",
           "write_report": "report",
           "StudyPlan": "runner", "load_plan": "runner", "print_plan": "runner", "run_study": "runner",
           "Study": "spec", "load_study": "spec", "parse_study": "spec"}

__all__ = sorted(_PUBLIC)
__getattr__ = lazy_exports(__name__, globals(), _PUBLIC)
