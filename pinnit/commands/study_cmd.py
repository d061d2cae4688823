"""``pinnit study``: expand a study file into runs, execute the unfinished ones, then write the report."""
from __future__ import annotations

import argparse

from .base import command_parser, positive_int, register_command

EXAMPLES = """examples:
  pinnit study configs/studies/burgers_scale_cpu.yaml --dry-run
  pinnit study configs/studies/burgers_scale_cpu.yaml                 # local pool, one run per core
  pinnit study configs/studies/burgers_scale_full.yaml --executor ray --address auto --gpus-per-run 0.5
  pinnit study outputs/studies/burgers_scale_cpu                      # continue from the study directory

Re-running a study skips finished runs (completed or diverged), resumes interrupted ones from their
checkpoint and redoes failed ones. Ctrl-C: running runs checkpoint their current step, exit 130.
"""


def _fraction(text: str) -> float:
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number of GPUs, got {text!r}") from None
    if not 0 <= value <= 64:
        raise argparse.ArgumentTypeError(f"expected 0 ≤ GPUs per run ≤ 64, got {value}")
    return value


#: The executors' registry names, for --help without importing the executors (which load torch); a test holds
#: this equal to :data:`pinnit.studies.executors.EXECUTORS`.
EXECUTOR_NAMES = ("local", "ray", "serial")


@register_command("study")
class StudyCommand:
    """Run a comparison study (methods × axes × seeds) from a study file."""

    @staticmethod
    def add_parser(sub) -> None:
        p = command_parser(sub, "study", StudyCommand, "run a study of many configs", EXAMPLES)
        p.add_argument("study", help="study YAML file, or an existing study directory to continue")
        p.add_argument("--dir", metavar="STUDY_DIR", help="study directory (default outputs/studies/<name>/)")
        p.add_argument("--dry-run", action="store_true", help="print the expanded plan, one line per run; train nothing")
        p.add_argument("--executor", default="local", metavar="{" + ",".join(EXECUTOR_NAMES) + "}",
                       help="how runs are executed (default local)")  # checked against the registry when it runs
        p.add_argument("--workers", type=positive_int, help="runs at once (local; default: cores, or GPU slots)")
        p.add_argument("--threads", type=positive_int, help="torch threads per run (default: cores // workers)")
        p.add_argument("--gpus-per-run", type=_fraction, metavar="G",
                       help="GPUs per run, e.g. 0.5 puts two runs on each GPU (default 1 when GPUs exist, 0 otherwise)")
        p.add_argument("--address", help="Ray cluster address (ray executor; default: start a local Ray)")
        p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY.PATH=VALUE",
                       help="override a key of every run (after the study's own 'set'); changes the run ids")
        p.add_argument("--overwrite", action="store_true", help="discard the study directory's runs and start over")
        p.add_argument("--no-report", action="store_true", help="do not write the report at the end")

    @staticmethod
    def execute(args) -> int:
        from ..core.errors import ResourceError
        from ..studies import ExecutorOptions, load_plan, print_plan, run_study

        plan = load_plan(args.study, study_dir=args.dir, overrides=args.overrides)
        if args.dry_run:
            print_plan(plan)
            return 0
        options = ExecutorOptions(workers=args.workers, threads=args.threads, gpus_per_run=args.gpus_per_run,
                                  address=args.address)
        try:
            outcome = run_study(plan, args.executor, options, overwrite=args.overwrite)
        except OSError as exc:  # e.g. a full disk while writing plan.json or a failure record
            raise ResourceError(f"{exc.filename or plan.study_dir}: {exc.strerror or exc}; finished runs are kept "
                                "(run the same command again once there is room)") from None
        print(f"study {plan.name}: {outcome.count('completed')} completed, {outcome.count('diverged')} diverged, "
              f"{outcome.count('failed')} failed, {outcome.count('interrupted')} interrupted; "
              f"{outcome.skipped} kept from before")
        if outcome.stopped:
            print(f"stopped; continue with: pinnit study {plan.study_dir}")
            return 130
        if not args.no_report:
            _write_report(plan.study_dir)
        return outcome.exit_code


def _write_report(study_dir) -> None:
    from ..studies.report import write_report

    out = write_report(study_dir)
    print(f"report: {out}")
    if (out / "verdicts.json").exists():
        import json

        from ..studies.verdicts import verdicts_text

        print(verdicts_text(json.loads((out / "verdicts.json").read_text())["claims"]))
