"""``pinnit run``: train one config (or resume a run directory) and print its metrics."""
from __future__ import annotations

import json

from ..core.errors import PinnitError
from .base import command_parser, register_command

EXAMPLES = """examples:
  pinnit run configs/burgers.yaml
  pinnit run burgers.yaml             # not a local file: the shipped configs/burgers.yaml
  pinnit run configs/burgers.yaml --set problem.nu=0.01 --set training.seed=1
  pinnit run configs/burgers.yaml --set network.activation.name=erf --overwrite
  pinnit run configs/burgers.yaml --set training.stages.adam.iterations=1e3 --quiet
  pinnit run configs/burgers.yaml --set training.time_limit_s=120   # stop after 2 min of training
  pinnit run --resume RUN_DIR         # RUN_DIR: the "run directory:" an interrupted run printed
"""


@register_command("run")
class RunCommand:
    """Train a PINN from a YAML config and validate it against the reference."""

    @staticmethod
    def add_parser(sub) -> None:
        p = command_parser(sub, "run", RunCommand, "train one config", EXAMPLES)
        p.add_argument("config", nargs="?", help="YAML run config (a local file, or a shipped config's name)")
        p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY.PATH=VALUE",
                       help="override a config key (repeatable), validated like the file")
        p.add_argument("--resume", metavar="RUN_DIR", help="continue an interrupted run from its checkpoint")
        p.add_argument("--overwrite", action="store_true", help="replace an existing run directory")
        p.add_argument("--run-dir", metavar="DIR", help="write here instead of outputs/<name>/<id>/")
        p.add_argument("--quiet", action="store_true",
                       help="no progress bars or phase messages (also with --resume)")

    @staticmethod
    def execute(args) -> int:
        from ..runs import load_config
        from ..runs.pipeline import resume, run
        from ..core.shipped import resolve_config

        if args.resume:
            if args.config or args.overrides:
                raise PinnitError("--resume takes the run directory alone (its config.yaml is reused)")
            result = resume(args.resume, progress=False if args.quiet else None)
        else:
            if not args.config:
                raise PinnitError("run: give a CONFIG file or --resume RUN_DIR")
            overrides = list(args.overrides) + (["output.progress=false"] if args.quiet else [])
            cfg = load_config(resolve_config(args.config), overrides)
            result = run(cfg, overwrite=args.overwrite, run_dir=args.run_dir)
        m = result.metrics
        summary = {k: v for k, v in m.items() if k.startswith(("rel_l2", "max_abs"))}
        print(f"run directory: {result.path}")
        ran = {k: v for k, v in m["iterations"].items() if v}  # stages a time limit or an interrupt cut: counted
        unrun = sum(1 for s in m["stages"].values() if s["planned"] and not s["iterations"])
        print(f"status: {m['status']}; wall time {m['wall_time_s']:.1f} s; iterations {ran}"
              + (f" ({unrun} stage{'s' if unrun > 1 else ''} not reached)" if unrun else "") + "; "
              f"last stage: {m['stop_reason'] if m['status'] == 'completed' else m['status']}")
        if summary:
            print("errors: " + json.dumps({k: float(f'{v:.4g}') for k, v in summary.items()}))
        if m["status"].startswith("interrupted"):
            print(f"resume with: pinnit run --resume {result.path}")
            return 130
        return 1 if m["status"] == "diverged" else 0
