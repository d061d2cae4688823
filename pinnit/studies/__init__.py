"""Studies: a study file expands into resolved run configs, executed serially, on a local pool or on Ray,
and a report reads the study directory back into tables and figures (``pinnit study``, ``pinnit report``)."""
from .executors import EXECUTORS, ExecutorOptions
from .expand import PlannedRun, config_digest, expand
from .report import write_report
from .runner import StudyPlan, load_plan, print_plan, run_study
from .spec import Study, load_study, parse_study

__all__ = ["EXECUTORS", "ExecutorOptions", "PlannedRun", "Study", "StudyPlan", "config_digest", "expand",
           "load_plan", "load_study", "parse_study", "print_plan", "run_study", "write_report"]
