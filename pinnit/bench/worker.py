"""A bench worker: one side (pinnit or DeepXDE) of one case, in its own process, driven over stdin.

``python -m pinnit.bench.worker SPEC_JSON`` builds the side, warms up, then answers commands, one per
line, each with one ``@@BENCH {json}`` line on stdout (other output, e.g. DeepXDE's banner, is ignored):

- ``time N``: N steps timed with ``time.perf_counter`` → ``{"seconds", "steps"}``;
- ``trajectory N``: the loss before each of N steps → ``{"losses": [{pde, bc, ic, total}, …]}``;
- ``quit``: → ``{"peak_rss_mib", "threads", "versions"}`` and exit.

Peak memory is the process's resident-set high-water mark, ``resource.getrusage(RUSAGE_SELF).ru_maxrss``
(KiB on Linux): it includes the interpreter and the imported libraries; ``setup_rss_mib`` is the same mark
once the side is built and warmed up, so peak − setup is what the timed steps added.
"""
from __future__ import annotations

import json
import os
import resource
import sys
import time

MARK = "@@BENCH "


def rss_mib() -> float:
    kib = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return kib / 1024 if sys.platform != "darwin" else kib / 2**20


def _reply(obj: dict) -> None:
    sys.stdout.write(MARK + json.dumps(obj) + "\n")
    sys.stdout.flush()


def build(spec: dict):
    from .setups import BenchCase, load_case_data

    case = BenchCase(**spec["case"])
    data = load_case_data(spec["data"])
    if spec["side"] == "deepxde":
        from .deepxde_side import DeepXDEStepper

        return DeepXDEStepper(case, data, spec["dtype"], spec["threads"])
    from .pinnit_side import PinnitStepper

    return PinnitStepper(case, data, spec["dtype"], spec["threads"], spec.get("engine", "auto"))


def versions(side: str) -> dict[str, str]:
    import torch

    out = {"torch": torch.__version__}
    if side == "deepxde":
        import deepxde

        out["deepxde"] = deepxde.__version__
    return out


def compiled_graphs() -> int | None:
    """Graphs torch.compile has built in this process (dynamo's counter; None if unavailable)."""
    from ..runtime.torch_private import compiled_graph_count

    return compiled_graph_count()


def main(argv: list[str]) -> int:
    with open(argv[0]) as fh:
        spec = json.load(fh)
    import torch

    torch.set_num_threads(spec["threads"])
    stepper = build(spec)
    first = None
    for i in range(spec.get("warmup", 0)):
        t0 = time.perf_counter()
        stepper.step()
        if i == 0:  # discovery and compilation happen here: reported apart from the steady state
            first = time.perf_counter() - t0
    graphs = compiled_graphs()
    _reply({"ready": True, "setup_rss_mib": rss_mib(), "threads": torch.get_num_threads(), "first_step_s": first,
            "engine": getattr(stepper, "engine", None), "graphs_after_warmup": graphs})
    for line in sys.stdin:
        cmd, *arg = line.split()
        if cmd == "time":
            n = int(arg[0])
            t0 = time.perf_counter()
            for _ in range(n):
                stepper.step()
            _reply({"seconds": time.perf_counter() - t0, "steps": n})
        elif cmd == "trajectory":
            losses = []
            for _ in range(int(arg[0])):
                losses.append(stepper.losses())
                stepper.step()
            losses.append(stepper.losses())
            _reply({"losses": losses})
        elif cmd == "quit":
            _reply({"peak_rss_mib": rss_mib(), "threads": torch.get_num_threads(),
                    "versions": versions(spec["side"]), "graphs_at_end": compiled_graphs()})
            return 0
    return 1


if __name__ == "__main__":
    os.environ.setdefault("OMP_NUM_THREADS", "1")
    sys.exit(main(sys.argv[1:]))
