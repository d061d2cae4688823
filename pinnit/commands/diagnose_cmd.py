"""``pinnit diagnose``: per-layer statistics of the configured network at initialization, for one or several
initializers side by side (activation range, saturation, negative-gain rate, χ₁, gradient norms, knots)."""
from __future__ import annotations

from pathlib import Path

from .base import command_parser, positive_int, register_command

EXAMPLES = """examples:
  pinnit diagnose configs/burgers.yaml
  pinnit diagnose configs/burgers.yaml --compare proposed eoc kgi --depth 500 --width 16
  pinnit diagnose configs/burgers.yaml --compare xavier_normal '{name: eoc, sigma_b: 0.1}' --random 4096
  pinnit diagnose configs/burgers.yaml --set network.activation=relu --compare xavier_normal kgi

outputs (default outputs/<run-name>/diagnose/): diagnostics.json, layers.csv, activation_range.png,
last_layer_hist.png, grad_norms.png, chi1.png
"""


@register_command("diagnose")
class DiagnoseCommand:
    """Push the problem's points through the network at initialization and report per-layer statistics."""

    @staticmethod
    def add_parser(sub) -> None:
        p = command_parser(sub, "diagnose", DiagnoseCommand, "per-layer statistics at initialization", EXAMPLES)
        p.add_argument("config", help="YAML run config")
        p.add_argument("--set", dest="overrides", action="append", default=[], metavar="KEY.PATH=VALUE",
                       help="override a config key (repeatable), validated like the file")
        p.add_argument("--compare", nargs="+", metavar="INIT",
                       help="initializers to compare (names or YAML mappings); default: the configured one")
        p.add_argument("--depth", type=positive_int, help="number of hidden layers (overrides the config)")
        p.add_argument("--width", type=positive_int, help="hidden width (overrides the config)")
        p.add_argument("--samples", type=positive_int, default=2048,
                       help="collocation points pushed through (strided subset; default 2048)")
        p.add_argument("--random", type=positive_int, metavar="N", help="use N uniform random points in the domain instead")
        p.add_argument("--grad-max-depth", type=positive_int, default=1000,
                       help="skip gradient norms above this depth (default 1000)")
        p.add_argument("--out", metavar="DIR", help="output folder (default outputs/<run-name>/diagnose/)")
        p.add_argument("--threads", type=positive_int, default=None,
                       help="torch CPU threads while diagnosing (default: pinnit's policy, as for `pinnit run`: "
                            "the idle cores available to the process, or OMP_NUM_THREADS)")
        p.add_argument("--no-plots", action="store_true", help="write diagnostics.json and layers.csv only")

    @staticmethod
    def execute(args) -> int:
        from ..runtime.threads import torch_threads
        from ..diagnostics.report import compare, parse_spec, write_report
        from ..core.shipped import resolve_config

        overrides = list(args.overrides)
        if args.depth is not None:
            overrides += [f"network.depth={args.depth}", "network.widths="]
        if args.width is not None:
            overrides += [f"network.width={args.width}", "network.widths="]
        if args.threads is not None:
            overrides += [f"training.threads={args.threads}"]
        specs = [parse_spec(s) for s in args.compare] if args.compare else None
        with torch_threads(args.threads):
            results = compare(resolve_config(args.config), overrides, specs, samples=args.samples, random=args.random,
                              grad_max_depth=args.grad_max_depth)
        out = Path(args.out) if args.out else results[0].default_out
        meta = {"config": str(args.config), "overrides": overrides, "compare": [r.label for r in results],
                "samples": args.samples, "random": args.random, "grad_max_depth": args.grad_max_depth}
        paths = write_report(results, out, meta, plots=not args.no_plots)
        width = max(len(r.label) for r in results)
        print(f"{'initializer':<{width}}  depth  last std   sample std  chi1 mean  neg gain  knots/chord  time s")
        for r in results:
            s = r.summary
            knots = "-" if s["knots_per_chord"] is None else f"{s['knots_per_chord']:.1f}"
            total = sum(v for v in s["time_s"].values() if v is not None)
            print(f"{r.label:<{width}}  {s['depth']:>5}  {_g(s['last_layer']['std'])}  {_g(s['last_layer']['sample_std'])}"
                  f"   {_g(s['chi1_mean'])}  {_g(s['neg_gain_mean'], 8)}  {knots:>11}  {total:6.1f}")
            if s["gradients"]["note"]:
                print(f"  note: {s['gradients']['note']}")
        print(f"wrote {len(paths)} files to {out}")
        return 0


def _g(value, width: int = 9) -> str:
    return "-".rjust(width) if value is None else f"{value:>{width}.3g}"
