"""Drive the bench: per case, one pinnit and one DeepXDE worker, timed in alternation; then the
float64 loss-trajectory check on set-up (1).

Repeats alternate which side goes first, so a change of machine load between repeats hits both sides
alike; each repeat's rate is steps/seconds and the reported rate is the median over repeats (after
``warmup`` untimed steps in each worker).
"""
from __future__ import annotations

import importlib.util
import json
import os
import statistics
import subprocess
import sys
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch

from ..core.errors import PinnitError
from .setups import BenchCase, cases_for, write_case_data
from .worker import MARK
from ..core.shipped import package_parent

#: Largest relative difference allowed between the two float64 loss curves (round-off, amplified by Adam).
TRAJECTORY_TOL = 1e-6


class Worker:
    """A running :mod:`.worker` subprocess for one side of one case."""

    def __init__(self, side: str, case: BenchCase, data: Path, dtype: str, threads: int, warmup: int, tmp: Path,
                 engine: str = "auto"):
        self.side = side
        spec = {"side": side, "case": case.as_dict(), "data": str(data), "dtype": dtype, "threads": threads,
                "warmup": warmup, "engine": engine}
        stem = f"{case.key}-{side}-{dtype}"
        spec_path = tmp / f"{stem}.json"
        spec_path.write_text(json.dumps(spec))
        env = dict(os.environ, OMP_NUM_THREADS=str(threads), MKL_NUM_THREADS=str(threads))
        root = str(package_parent())  # the same pinnit as this process
        env["PYTHONPATH"] = os.pathsep.join(p for p in (root, env.get("PYTHONPATH")) if p)
        if side == "deepxde":
            env["DDE_BACKEND"] = "pytorch"
        self.stderr_path = tmp / f"{stem}.err"
        self._stderr = open(self.stderr_path, "w")
        self.proc = subprocess.Popen([sys.executable, "-m", "pinnit.bench.worker", str(spec_path)], env=env,
                                     stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=self._stderr, text=True)
        self.ready = self._read()

    def _read(self) -> dict[str, Any]:
        for line in self.proc.stdout:
            if line.startswith(MARK):
                return json.loads(line[len(MARK):])
        self.proc.wait()
        self._stderr.close()
        tail = self.stderr_path.read_text().strip().splitlines()[-15:]
        raise RuntimeError(f"bench worker ({self.side}) exited with {self.proc.returncode}:\n" + "\n".join(tail))

    def ask(self, command: str) -> dict[str, Any]:
        self.proc.stdin.write(command + "\n")
        self.proc.stdin.flush()
        return self._read()

    def close(self) -> dict[str, Any]:
        try:
            return self.ask("quit")
        finally:
            self.proc.wait(timeout=60)
            self._stderr.close()

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()
        self._stderr.close()


def _side_result(ready: dict, repeats: list[dict], final: dict) -> dict[str, Any]:
    rates = [r["steps"] / r["seconds"] for r in repeats]
    med = statistics.median(rates)
    return {"it_per_s": med, "ms_per_it": 1000 / med, "repeats_it_per_s": rates, "steps_per_repeat": repeats[0]["steps"],
            "setup_rss_mib": ready["setup_rss_mib"], "peak_rss_mib": final["peak_rss_mib"],
            "threads": final["threads"], "versions": final["versions"], "first_step_s": ready.get("first_step_s"),
            "engine": ready.get("engine"), "graphs_after_warmup": ready.get("graphs_after_warmup"),
            "graphs_at_end": final.get("graphs_at_end")}


def time_case(case: BenchCase, data: Path, *, repeats: int, threads: int, warmup: int, tmp: Path,
              with_deepxde: bool, log: Callable[[str], None], engine: str = "auto") -> dict[str, Any]:
    """Median iterations/s and peak RSS of each side on ``case`` (float32)."""
    sides = ["pinnit"] + (["deepxde"] if with_deepxde and case.deepxde else [])
    workers: dict[str, Worker] = {}
    try:
        for side in sides:
            workers[side] = Worker(side, case, data, "float32", threads, max(warmup, 1), tmp, engine)
        timings: dict[str, list[dict]] = {s: [] for s in sides}
        for r in range(repeats):
            for side in (sides if r % 2 == 0 else sides[::-1]):
                timings[side].append(workers[side].ask(f"time {case.steps}"))
        finals = {side: workers[side].close() for side in sides}
    except BaseException:
        for w in workers.values():
            w.kill()
        raise
    out: dict[str, Any] = {"case": case.as_dict()}
    for side in sides:
        out[side] = _side_result(workers[side].ready, timings[side], finals[side])
    out["ratio"] = out["pinnit"]["it_per_s"] / out["deepxde"]["it_per_s"] if "deepxde" in out else None
    line = f"  {case.title}: pinnit ({out['pinnit']['engine']}) {out['pinnit']['it_per_s']:.2f} it/s"
    if "deepxde" in out:
        line += f", DeepXDE {out['deepxde']['it_per_s']:.2f} it/s, ratio {out['ratio']:.2f}"
    log(line)
    return out


def trajectory_check(data: Path, case: BenchCase, *, steps: int, threads: int, tmp: Path,
                     engine: str = "auto") -> dict[str, Any]:
    """Both tools from the same float64 weights and points: the loss before each of ``steps`` Adam steps.

    The curves must agree to ``TRAJECTORY_TOL`` (relative, per step); the first point compares the two
    loss functions themselves (same parameters), the rest the whole training step.
    """
    curves = {}
    for side in ("pinnit", "deepxde"):
        w = Worker(side, case, data, "float64", threads, 0, tmp, engine)
        try:
            curves[side] = w.ask(f"trajectory {steps}")["losses"]
            w.close()
        except BaseException:
            w.kill()
            raise
    rel = []
    for p, d in zip(curves["pinnit"], curves["deepxde"], strict=True):
        rel.append(max(abs(p[k] - d[k]) / max(abs(d[k]), 1e-300) for k in ("pde", "bc", "ic", "total")))
    max_rel = max(rel)
    return {"steps": steps, "dtype": "float64", "initial_rel_diff": rel[0], "max_rel_diff": max_rel,
            "final_rel_diff": rel[-1], "tolerance": TRAJECTORY_TOL, "passed": bool(max_rel <= TRAJECTORY_TOL),
            "pinnit_total": [c["total"] for c in curves["pinnit"]],
            "deepxde_total": [c["total"] for c in curves["deepxde"]]}


def deepxde_available() -> bool:
    return importlib.util.find_spec("deepxde") is not None


def run_bench(setups: str = "1,2,scaling", *, repeats: int = 3, steps: int | None = None, threads: int = 1,
              warmup: int = 3, check_steps: int = 100, with_deepxde: bool = True, engine: str = "auto",
              qn_iter: int = 10, log: Callable[[str], None] = print, recipes: tuple[str, ...] | list[str] = (),
              seeds: int = 3, eval_every: int | None = None, overrides: tuple[str, ...] | list[str] = (),
              out: str | Path = "outputs/bench") -> dict[str, Any]:
    """Run the cases of ``setups`` and (with DeepXDE and set-up 1) the trajectory check; return the results.

    Set-up ``tta`` trains ``recipes`` (default :data:`.tta.DEFAULT_RECIPES`) for ``seeds`` seeds into
    ``out/tta/`` with ``threads`` threads (see :mod:`.tta`); its result is under ``time_to_accuracy``.
    """
    from ..core.stamp import stamp
    from .report import machine_info

    cases = cases_for(setups, steps)
    if repeats < 1 or threads < 1 or warmup < 0 or check_steps < 0 or qn_iter < 1:
        raise PinnitError("bench: --repeats, --threads and --qn-iter must be ≥ 1, --warmup and --check-steps ≥ 0")
    if with_deepxde and any(c.deepxde for c in cases) and not deepxde_available():
        raise PinnitError("bench: DeepXDE is not installed; install the extra (pip install 'pinnit[bench]') "
                          "or pass --pinnit-only")
    names = [s.strip() for s in setups.split(",")]
    if "tta" in names:
        from .tta import DEFAULT_RECIPES, check_recipes

        recipes = tuple(recipes) or DEFAULT_RECIPES
        check_recipes(recipes, seeds=seeds, threads=threads, eval_every=eval_every, overrides=overrides)
    provenance = stamp()
    result: dict[str, Any] = {"stamp": provenance, "meta": machine_info(threads, provenance["commit"]),
                              "settings": {
        "setups": setups, "repeats": repeats, "warmup": warmup, "threads": threads, "dtype": "float32",
        "engine": engine,
        "memory_method": "peak RSS per worker process, resource.getrusage(RUSAGE_SELF).ru_maxrss "
                         "(includes interpreter and libraries); +steps = growth during the timed steps"}}
    result["cases"] = []
    torch.set_num_threads(threads)
    with tempfile.TemporaryDirectory(prefix="pinnit-bench-") as tmpdir:
        tmp = Path(tmpdir)
        for case in cases:
            data = tmp / f"{case.key}.npz"
            write_case_data(case, data)
            result["cases"].append(time_case(case, data, repeats=repeats, threads=threads, warmup=warmup, tmp=tmp,
                                             with_deepxde=with_deepxde, log=log, engine=engine))
        check_case = next((c for c in cases if c.key == "1"), None)
        if with_deepxde and check_case is not None and check_steps:
            data = tmp / "check.npz"
            write_case_data(check_case, data)
            log(f"  loss-trajectory check: {check_steps} Adam steps in float64 …")
            result["trajectory"] = trajectory_check(data, check_case, steps=check_steps, threads=threads, tmp=tmp,
                                                    engine=engine)
    if "3" in names:
        from .quasi_newton import time_quasi_newton

        log(f"  (3) float64 quasi-Newton steps, max_iter {qn_iter} …")
        result["quasi_newton"] = time_quasi_newton(max_iter=qn_iter, repeats=repeats, threads=threads, engine=engine,
                                                   log=log)
    if "4" in names:
        from .operator_step import time_operator_step

        log("  (4) Stokes DeepONet Adam step per derivative mode …")
        result["operator"] = time_operator_step(steps=steps or 5, repeats=repeats, threads=threads, log=log)
    if "engines" in names:
        from .engines import compare_engines

        log("  derivative engines, Burgers PDE term, 8192 points …")
        result["engines"] = compare_engines(steps=steps or 10, repeats=repeats, log=log)
    if "tta" in names:
        from .tta import time_to_accuracy

        result["time_to_accuracy"] = time_to_accuracy(recipes, seeds=seeds, threads=threads,
                                                      eval_every=eval_every, overrides=overrides, out=out, log=log)
    result["meta"]["load_average_end"] = list(os.getloadavg())
    return result
