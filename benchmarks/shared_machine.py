"""How fast is the README's main job on a shared machine? Adam steps per second of ``configs/burgers_fast.yaml``,
idle and beside one busy single-threaded torch process (a matmul loop), with torch's default threads
(one per core, spinning OpenMP waits: pinnit before issue 12) and with pinnit's policy (pinnit/runtime/threads.py:
passive OpenMP waits, threads from the idle cores available).

    OMP_NUM_THREADS= python benchmarks/shared_machine.py [--seconds 15] [--repeats 1]

Every measurement runs in a fresh process (the wait policy is read when torch loads). The machine's load
(1-minute average and runnable tasks) is printed with each row: on a machine other people use, the ratios
busy/idle matter, not the absolute numbers. Prints a table and one JSON line.
"""
from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
# old: torch's default threads, OpenMP default waits; passive: the same threads, passive waits; new: pinnit's
# policy (passive waits, threads from the idle cores)
MODES = ("old", "passive", "new")
NEIGHBOUR = ("import torch\ntorch.set_num_threads(1)\na = torch.randn(512, 512)\n"
             "while True:\n    a = torch.tanh(a @ a / 512)\n")


def _worker(mode: str, config: str, seconds: float) -> None:
    """Child process: time Adam steps of ``config``; prints one JSON line."""
    if mode in ("new", "passive"):
        from pinnit.runtime.threads import configure_openmp

        configure_openmp()
    import torch

    from pinnit import assemble, load_config

    overrides = ["output.progress=false", "training.device=cpu"]
    if mode in ("old", "passive"):  # torch's own default: one thread per core (`threads: null` before)
        overrides.append(f"training.threads={torch.get_num_threads()}")
    a = assemble(load_config(config, overrides))
    opt = torch.optim.Adam(a.model.parameters(), lr=1e-3)

    def step() -> None:
        opt.zero_grad(set_to_none=True)
        a.loss.total(a.loss.term_losses()).backward()
        opt.step()

    for _ in range(5):
        step()
    n, start = 0, time.perf_counter()
    while time.perf_counter() - start < seconds:
        step()
        n += 1
    elapsed = time.perf_counter() - start
    print(json.dumps({"steps_per_s": n / elapsed, "threads": torch.get_num_threads(),
                      "wait_policy": os.environ.get("OMP_WAIT_POLICY", "(unset)")}))


def _load() -> str:
    with open("/proc/loadavg") as fh:
        fields = fh.read().split()
    running = next((ln.split()[1] for ln in open("/proc/stat") if ln.startswith("procs_running")), "?")
    return f"load {fields[0]}, running {running}"


def _measure(mode: str, config: str, seconds: float) -> dict:
    env = {k: v for k, v in os.environ.items() if k not in ("OMP_NUM_THREADS", "OMP_WAIT_POLICY", "MKL_NUM_THREADS")}
    env["PYTHONPATH"] = str(REPO) + os.pathsep + env.get("PYTHONPATH", "")
    out = subprocess.run([sys.executable, __file__, "--worker", mode, "--config", config, "--seconds", str(seconds)],
                         env=env, capture_output=True, text=True, check=True, cwd=REPO)
    return json.loads(out.stdout.strip().splitlines()[-1])


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--config", default=str(REPO / "configs" / "burgers_fast.yaml"))
    p.add_argument("--seconds", type=float, default=15.0, help="timed seconds per measurement")
    p.add_argument("--repeats", type=int, default=1)
    p.add_argument("--worker", choices=MODES, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        _worker(args.worker, args.config, args.seconds)
        return
    rows = []
    for _ in range(args.repeats):
        for mode in MODES:
            for condition in ("idle", "busy"):
                neighbour = None
                if condition == "busy":
                    env = {**os.environ, "OMP_NUM_THREADS": "1"}
                    neighbour = subprocess.Popen([sys.executable, "-c", NEIGHBOUR], env=env)
                    time.sleep(3.0)  # torch imported, loop running
                try:
                    before = _load()
                    r = _measure(mode, args.config, args.seconds)
                    after = _load()
                finally:
                    if neighbour is not None:
                        neighbour.terminate()
                        neighbour.wait()
                rows.append({"mode": mode, "condition": condition, **r, "load_before": before, "load_after": after})
                print(f"{mode:>3} {condition:>4}: {r['steps_per_s']:7.2f} steps/s, {r['threads']} threads, "
                      f"OMP_WAIT_POLICY={r['wait_policy']}  ({before}; after: {after})", flush=True)
    summary = {}
    for mode in MODES:
        idle = [r["steps_per_s"] for r in rows if r["mode"] == mode and r["condition"] == "idle"]
        busy = [r["steps_per_s"] for r in rows if r["mode"] == mode and r["condition"] == "busy"]
        summary[mode] = {"idle": max(idle), "busy": max(busy), "slowdown": max(idle) / max(busy)}
        print(f"{mode}: idle {max(idle):.2f} steps/s, beside a busy neighbour {max(busy):.2f} steps/s: "
              f"{max(idle) / max(busy):.2f}x slower")
    for mode in MODES[1:]:
        print(f"{mode} idle / old idle: {summary[mode]['idle'] / summary['old']['idle']:.2f}")
    print(json.dumps({"rows": rows, "summary": summary}))


if __name__ == "__main__":
    main()
