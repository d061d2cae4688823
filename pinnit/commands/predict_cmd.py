"""``pinnit predict``: apply a trained operator (a DeepONet run) to a function given at its sensors."""
from __future__ import annotations


from .base import command_parser, register_command

EXAMPLES = """examples:
  pinnit predict RUN_DIR --lid LID.npy
  pinnit predict RUN_DIR --lid LID.csv --out lid_fields.npz --reference --plot
RUN_DIR: the "run directory:" printed by e.g. pinnit run configs/stokes_deeponet_cpu.yaml; LID holds the
function at the sensors, one value per sensor (101 for the shipped Stokes problem)
"""


@register_command("predict")
class PredictCommand:
    """Predict the fields of a trained operator for a new function (e.g. a Stokes lid)."""

    @staticmethod
    def add_parser(sub) -> None:
        p = command_parser(sub, "predict", PredictCommand, "apply a trained operator to a new function", EXAMPLES)
        p.add_argument("run_dir", metavar="RUN_DIR", help="a finished (or checkpointed) DeepONet run directory")
        p.add_argument("--lid", "--function", dest="function", required=True, metavar="FILE",
                       help="the function at the sensors: .npy, or .csv/.txt with one value per line")
        p.add_argument("--out", metavar="OUT.npz", help="output file (default RUN_DIR/predictions/<FILE stem>.npz)")
        p.add_argument("--reference", action="store_true",
                       help="also solve with the problem's reference solver; add <f>_ref, errors (printed)")
        p.add_argument("--plot", action="store_true",
                       help="also draw each predicted field (with --reference: beside the reference and the "
                            "error) as OUT_DIR/<OUT stem>/<field>_fields.png")

    @staticmethod
    def execute(args) -> int:
        from ..operators.predict import predict

        path, errors = predict(args.run_dir, args.function, args.out, args.reference)
        print(f"wrote {path}")
        if args.plot:
            import numpy as np

            from ..operators.predict import load_operator
            from ..outputs.evaluation import blank_unscored, scored_nodes
            from ..outputs.plots import plot_fields

            problem = load_operator(args.run_dir)[1]
            with np.load(path) as data:
                arrays = dict(data)
            keep = scored_nodes(problem, {k: arrays[k] for k in problem.inputs})
            arrays = blank_unscored(arrays, keep, problem.outputs)  # singular points blank, not −∞
            figures = plot_fields(arrays, problem.inputs, problem.outputs, path.with_suffix(""))
            print(f"wrote {len(figures)} figures to {path.with_suffix('')}")
        if errors:
            print("relative L2 vs the solver: " + ", ".join(f"{k[7:]} {v:.4g}" for k, v in errors.items()))
        return 0
