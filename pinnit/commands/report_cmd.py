"""``pinnit report``: tables and figures of a study directory, optionally logged to MLflow."""
from __future__ import annotations


from .base import command_parser, register_command

EXAMPLES = """examples:
  pinnit report outputs/studies/scale
  pinnit report outputs/studies/scale --weights final --metric max_abs_u
  pinnit report outputs/studies/scale --mlflow                      # STUDY_DIR/mlflow.db
  pinnit report outputs/studies/scale --mlflow http://localhost:5000 --experiment scale

  pinnit report outputs/studies/scale --claims configs/studies/burgers_scale_cpu.yaml   # claims of that file

outputs (STUDY_DIR/report/): runs.csv, summary.csv, summary.md, figures/*.png with a .json of the plotted
numbers each, figures/init/ (pinnit diagnose of each method at initialization), verdicts.json and
verdicts.md (a verdict for each claim of the study file, also printed), signal.md and signal.json (every
cell × method's network at initialization beside its trained medians)
"""


@register_command("report")
class ReportCommand:
    """Summarize a study directory: one row per run, statistics over seeds per method and cell, figures."""

    @staticmethod
    def add_parser(sub) -> None:
        p = command_parser(sub, "report", ReportCommand, "tables and figures of a study directory", EXAMPLES)
        p.add_argument("study_dir", metavar="STUDY_DIR", help="a directory written by `pinnit study`")
        p.add_argument("--weights", choices=("best", "final"), default="best",
                       help="errors of the lowest-loss weights (best, default) or of the last step (final)")
        p.add_argument("--metric", help="error metric of the summary and figures (default rel_l2_u, "
                                        "else the first rel_l2_* the runs report)")
        p.add_argument("--mlflow", nargs="?", const="", metavar="URI",
                       help="also log the finished runs to MLflow (default store: sqlite STUDY_DIR/mlflow.db)")
        p.add_argument("--experiment", help="MLflow experiment name (default pinnit/<study name>)")
        p.add_argument("--no-figures", action="store_true", help="tables only")
        p.add_argument("--claims", metavar="STUDY_FILE",
                       help="judge the claims of this study file (default: those of the study's plan.json)")
        p.add_argument("--no-diagnose", action="store_true",
                       help="skip the diagnostics at initialization (figures/init/, signal.md)")

    @staticmethod
    def execute(args) -> int:
        from ..studies.report import build_report, one_line
        from ..studies.results import load_study

        study = load_study(args.study_dir)
        claims = None
        if args.claims:
            from ..studies.spec import load_study as load_study_file

            claims = load_study_file(args.claims).spec.claims
        out, paths = build_report(study, args.weights, args.metric, figures=not args.no_figures,
                                  diagnose=not args.no_diagnose, claims=claims)
        print(one_line(study))
        print(f"report: {out / 'summary.md'}")
        for path in paths:
            print(f"  {path}")
        if out / "verdicts.json" in paths:
            import json

            from ..studies.verdicts import verdicts_text

            print(verdicts_text(json.loads((out / "verdicts.json").read_text())["claims"]))
        if args.mlflow is not None:
            from ..studies.tracking import log_study

            result = log_study(study.path, args.mlflow or None, args.experiment)
            print(f"mlflow: {result['uri']} experiment '{result['experiment']}': {result['created']} logged, "
                  f"{result['updated']} updated, {result['unchanged']} unchanged, {result['skipped']} not finished")
        return 0
