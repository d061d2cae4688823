"""``pinnit bench``: pinnit against DeepXDE on identical Burgers set-ups (see :mod:`pinnit.bench`)."""
from __future__ import annotations

from .base import command_parser, register_command

EXAMPLES = """examples:
  pinnit bench --pinnit-only --setups 1 --repeats 1 --check-steps 0
  pinnit bench --setups 1 --repeats 1             # pinnit and DeepXDE; writes outputs/bench/bench.md
  pinnit bench                                    # set-ups 1, 2 and scaling: several minutes
  pinnit bench --setups tta --recipes burgers,burgers_short,burgers_fast,burgers_lm --seeds 3   # time to accuracy: ~45 min
"""


@register_command("bench")
class BenchCommand:
    """Time pinnit and DeepXDE (PyTorch backend) on the same Burgers set-ups, check that both follow the same
loss trajectory, and write bench.json and bench.md. Needs DeepXDE, the bench extra:
pip install 'pinnit[bench]' (--pinnit-only needs nothing more)."""

    @staticmethod
    def add_parser(sub) -> None:
        p = command_parser(sub, "bench", BenchCommand, "benchmark pinnit against DeepXDE (extra: pinnit[bench])",
                           EXAMPLES)
        p.add_argument("--setups", default="1,2,scaling",
                       help="comma list of: 1 (DeepXDE's Burgers example), 2 (depth 50 × width 64), 3 (float64 "
                            "quasi-Newton step per optimizer, pinnit only), 4 (Stokes DeepONet step per derivative "
                            "mode zcs/autograd/jets), scaling (points 1k/10k/100k, depth 3…50; bench_scaling.png), "
                            "engines (pinnit's derivative engines: autograd, jets, torch.compile, torch.func), "
                            "tta (time to accuracy of whole recipes: --recipes, --seeds; time_to_accuracy.json and "
                            "error_vs_time.png); default %(default)s")
        p.add_argument("--derivatives", "--engine", dest="engine", default="auto", choices=("auto", "autograd", "jets", "compiled", "compiled_autograd"),
                       help="pinnit's training.derivatives in set-ups 1, 2, 3 and scaling; default %(default)s")
        p.add_argument("--qn-iter", type=int, default=10, help="set-up 3: max_iter of each quasi-Newton step; "
                                                               "default %(default)s")
        p.add_argument("--repeats", type=int, default=3, help="timed repeats per case (median); default 3")
        p.add_argument("--steps", type=int, default=None, help="Adam steps per repeat (default: per case)")
        p.add_argument("--warmup", type=int, default=3, help="untimed steps before timing; default 3")
        p.add_argument("--threads", type=int, default=1, help="torch threads per side; default 1")
        p.add_argument("--check-steps", type=int, default=100,
                       help="float64 Adam steps of the loss-trajectory check on set-up 1 (0: skip); default 100")
        p.add_argument("--pinnit-only", action="store_true",
                       help="time pinnit alone (no DeepXDE needed; without it, pip install 'pinnit[bench]')")
        p.add_argument("--out", default="outputs/bench", help="directory for bench.json and bench.md")
        p.add_argument("--recipes", default="burgers,burgers_short,burgers_fast,burgers_lm",
                       help="set-up tta: comma list of shipped config names or YAML files; default %(default)s")
        p.add_argument("--seeds", type=int, default=3, help="set-up tta: seeds 0 … N−1 per recipe; default 3")
        p.add_argument("--eval-every", type=int, default=None,
                       help="set-up tta: evaluation.every of the runs (the time resolution); default: the recipe's")
        p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY.PATH=VALUE",
                       help="set-up tta: a config override for every recipe (repeatable)")

    @staticmethod
    def execute(args) -> int:
        import sys

        from ..bench import run_bench
        from ..bench.report import markdown, write_reports
        from ..core.errors import PinnitError

        if args.steps is not None and args.steps < 1:
            raise PinnitError(f"--steps: got {args.steps}; a positive number of steps is required")
        print(f"pinnit bench: set-ups {args.setups}, {args.repeats} repeat(s), {args.threads} thread(s) per side")
        result = run_bench(args.setups, repeats=args.repeats, steps=args.steps, threads=args.threads,
                           warmup=args.warmup, check_steps=args.check_steps, with_deepxde=not args.pinnit_only,
                           engine=args.engine, qn_iter=args.qn_iter, out=args.out, seeds=args.seeds,
                           recipes=[r.strip() for r in args.recipes.split(",") if r.strip()],
                           eval_every=args.eval_every, overrides=args.overrides)
        written = write_reports(result, args.out)
        print()
        print(markdown(result))
        print("wrote " + ", ".join(map(str, written)))
        t = result.get("trajectory")
        if t and not t["passed"]:
            print(f"pinnit bench: LOSS-TRAJECTORY CHECK FAILED: pinnit and DeepXDE diverge (max relative "
                  f"difference {t['max_rel_diff']:.2e} > {t['tolerance']:.0e}); the timings compare different work",
                  file=sys.stderr)
            return 1
        return 0
