"""Executors: how cores and GPUs are shared among runs, and the same numbers from serial, local and Ray."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from conftest import small_burgers
from pinnit.core.errors import PinnitError
from pinnit.studies import EXECUTORS, ExecutorOptions, load_plan, run_study
from pinnit.commands.study_cmd import EXECUTOR_NAMES
from pinnit.studies.executors import gpu_slots, plan_layout


def test_registry_lists_the_three_executors():
    assert list(EXECUTORS) == ["local", "ray", "serial"]
    assert list(EXECUTOR_NAMES) == list(EXECUTORS)  # what pinnit study --help lists without importing them


def test_an_unknown_executor_is_one_line(tmp_path, capsys):
    from pinnit.cli import main

    study = tmp_path / "s.yaml"
    study.write_text(yaml.safe_dump({"name": "s", "base": "burgers_fast.yaml", "seeds": [0],
                                     "methods": {"xavier": {"network.initializer": "xavier_normal"}}}))
    code = main(["study", str(study), "--dir", str(tmp_path / "d"), "--executor", "slurm"])
    err = capsys.readouterr().err.strip().splitlines()
    assert code != 0 and len(err) == 1 and "--executor" in err[0] and "local" in err[0], err


@pytest.mark.parametrize("gpus, per_run, slots", [
    (["0", "1"], 1, ["0", "1"]),
    (["0", "1"], 0.5, ["0", "1", "0", "1"]),            # two runs per GPU, spread across GPUs first
    (["0"], 0.25, ["0", "0", "0", "0"]),
    (["0"], 0.3, ["0", "0", "0"]),                      # ⌊1/0.3⌋ = 3 runs share the GPU
    (["4", "5", "6", "7"], 2, ["4,5", "6,7"]),           # ids as CUDA_VISIBLE_DEVICES gave them
    (["0", "1", "2"], 2, ["0,1"]),
    (["0", "1"], 0, []),
    ([], 1, []),
])
def test_gpu_slots(gpus, per_run, slots):
    assert gpu_slots(gpus, per_run) == slots


def test_gpu_slots_reject_impossible_requests():
    with pytest.raises(PinnitError, match="whole number"):
        gpu_slots(["0", "1"], 1.5)
    with pytest.raises(PinnitError, match="only 2 GPU"):
        gpu_slots(["0", "1"], 4)


def test_layout_never_oversubscribes_cores():
    cpu = plan_layout(ExecutorOptions(), n_tasks=50, cores=16, gpus=[])
    assert (cpu.workers, cpu.threads, cpu.slots) == (16, 1, [None] * 16)
    four = plan_layout(ExecutorOptions(workers=4), n_tasks=50, cores=16, gpus=[])
    assert (four.workers, four.threads) == (4, 4)
    few = plan_layout(ExecutorOptions(workers=8), n_tasks=3, cores=16, gpus=[])  # no idle workers
    assert (few.workers, few.threads) == (3, 5) and few.workers * few.threads <= 16
    gpu = plan_layout(ExecutorOptions(gpus_per_run=0.5), n_tasks=50, cores=16, gpus=["0", "1"])
    assert (gpu.workers, gpu.threads, gpu.slots) == (4, 4, ["0", "1", "0", "1"])
    one_each = plan_layout(ExecutorOptions(), n_tasks=50, cores=16, gpus=["0", "1"])  # default: 1 GPU per run
    assert (one_each.workers, one_each.threads, one_each.slots) == (2, 8, ["0", "1"])
    cpu_on_gpu_box = plan_layout(ExecutorOptions(gpus_per_run=0), n_tasks=50, cores=4, gpus=["0"])
    assert cpu_on_gpu_box.slots == [""] * 4  # CUDA_VISIBLE_DEVICES="" keeps device 'auto' on the CPU
    with pytest.raises(PinnitError, match="no GPU visible"):
        plan_layout(ExecutorOptions(gpus_per_run=1), n_tasks=2, cores=4, gpus=[])


def _study(tmp_path: Path) -> Path:
    base = small_burgers(tmp_path)
    base["network"].update(width=8, depth=2)
    base["sampling"]["points"] = {"pde": 128, "initial": 32, "boundary": 32}
    base["training"].update(adam={"iterations": 30, "lr": 3e-3}, lbfgs={"iterations": 0}, checkpoint_every=10)
    base["evaluation"] = {"every": 0, "resolution": [32, 10]}
    data = {"name": "pair", "base": base, "methods": {"xavier": {}, "eoc": {"network.initializer": {"name": "eoc"}}}}
    path = tmp_path / "pair.yaml"
    path.write_text(yaml.safe_dump(data))
    return path


def _numbers(study_dir: Path) -> dict[str, tuple]:
    out = {}
    for path in sorted(study_dir.glob("runs/*/metrics.json")):
        m = json.loads(path.read_text())
        out[path.parent.name] = (m["status"], m["final_loss"], m["rel_l2_u"])
    return out


def test_local_pool_and_ray_give_the_serial_numbers(tmp_path):
    ray = pytest.importorskip("ray")
    study = _study(tmp_path)
    one = ExecutorOptions(workers=2, threads=1)
    results = {}
    for executor in ("serial", "local", "ray"):
        if executor == "ray":
            ray.init(num_cpus=2, num_gpus=0, include_dashboard=False, log_to_driver=False)
        try:
            outcome = run_study(load_plan(study, study_dir=tmp_path / executor), executor, one)
        finally:
            if executor == "ray":
                ray.shutdown()
        assert outcome.exit_code == 0 and outcome.count("completed") == 2, outcome.records
        results[executor] = _numbers(tmp_path / executor)
    assert len(results["serial"]) == 2
    assert results["local"] == results["serial"]
    assert results["ray"] == results["serial"]
    assert (tmp_path / "local" / "logs").is_dir() and len(list((tmp_path / "local" / "logs").glob("*.log"))) == 2
