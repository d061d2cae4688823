"""A run directory from someone else cannot run code: every file pinnit unpickles (checkpoint.pt through
``pinnit run --resume``, model.pt and checkpoint.pt through ``pinnit predict``, the basis cache) is loaded with
``weights_only=True``, and the Stokes cache with ``allow_pickle=False``. A crafted pickle that would create a
marker file is refused in one line with exit 2 (caches: treated as missing and recomputed); the marker never
appears. Checkpoints written before (numpy arrays pickled as such) still resume exactly."""
from __future__ import annotations

import hashlib
import io
import os
import pickle
import shutil
import subprocess
import sys

import numpy as np
import pytest
import torch

from conftest import interrupt_after_step, small_burgers
from pinnit import parse_config, resume
from pinnit.runs import run
from pinnit.cli import main
from pinnit.config import dump_config
from pinnit.runs import load_config
from pinnit.nn.initializers import basis_cache
from pinnit.references.stokes_cache import cached_references, reference_key
from pinnit.core.atomic_files import write_bytes
from pinnit.training import Checkpointer


class _Opens:
    """Unpickling it calls ``open(marker, "w")``: the marker file appears."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "w")


class _System(_Opens):
    """Unpickling it runs a shell command (the issue's ``os.system``) that creates the marker."""

    def __reduce__(self):
        return os.system, (f"touch '{self.marker}'",)


def _crafted(kind: str, marker) -> bytes:
    """A checkpoint-shaped file whose loading would create ``marker``."""
    payload = (_System if kind.endswith("system") else _Opens)(marker)
    if kind.startswith("raw"):  # a bare pickle, not torch's zip format
        return pickle.dumps({"model": {}, "train": payload})
    buf = io.BytesIO()
    torch.save({"model": {"net.0.weight": torch.zeros(2)}, "optimizer": {}, "train": payload, "loss": {}}, buf)
    return buf.getvalue()


KINDS = ["torch-open", "torch-system", "raw-open", "raw-system"]


def _tiny_burgers(tmp_path, **training):
    cfg = small_burgers(tmp_path, threads=1, **training)
    cfg["training"].update({"adam": {"iterations": 2}, "lbfgs": {"iterations": 0}})
    cfg["evaluation"]["every"] = 0
    return cfg


@pytest.fixture(scope="module")
def finished(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("safety")
    return run(parse_config(_tiny_burgers(tmp)), run_dir=tmp / "run").path


@pytest.fixture
def run_copy(finished, tmp_path):
    return shutil.copytree(finished, tmp_path / "run")


def _one_line_exit_2(argv, capsys) -> str:
    code = main(argv)
    err = capsys.readouterr().err.strip()
    assert code == 2 and len(err.splitlines()) == 1 and "Traceback" not in err, err
    return err


@pytest.mark.parametrize("kind", KINDS)
def test_resume_refuses_a_checkpoint_that_would_run_code(run_copy, tmp_path, capsys, kind):
    marker = tmp_path / "marker"
    (run_copy / "checkpoint.pt").write_bytes(_crafted(kind, marker))
    err = _one_line_exit_2(["run", "--resume", str(run_copy)], capsys)
    assert "checkpoint.pt: refused: not a checkpoint pinnit writes" in err and "nothing in it ran" in err
    if kind == "torch-system":
        assert "(it asks for 'posix.system';" in err
    assert not marker.exists()


@pytest.mark.slow  # a fresh interpreter imports torch: ~40 s on a busy 2-core machine
def test_the_installed_cli_refuses_it_with_exit_code_2(run_copy, tmp_path):
    marker = tmp_path / "marker"
    (run_copy / "checkpoint.pt").write_bytes(_crafted("torch-system", marker))
    out = subprocess.run([sys.executable, "-m", "pinnit", "run", "--resume", str(run_copy)],
                         capture_output=True, text=True, timeout=240)
    assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert "refused" in out.stderr and not marker.exists()


@pytest.mark.parametrize("content, message", [
    ({"model": {}, "optimizer": {}, "loss": {}}, "not a pinnit checkpoint (no 'train' section"),  # was KeyError
    ([1, 2, 3], "not a pinnit checkpoint (no 'model' section"),
    (b"PK\x03\x04 truncated", "unreadable checkpoint"),
    (b"", "unreadable checkpoint"),
])
def test_a_checkpoint_that_is_not_one_is_one_line(run_copy, capsys, content, message):
    if isinstance(content, bytes):
        (run_copy / "checkpoint.pt").write_bytes(content)
    else:
        torch.save(content, run_copy / "checkpoint.pt")
    assert message in _one_line_exit_2(["run", "--resume", str(run_copy)], capsys)


def test_a_checkpoint_of_another_network_is_one_line(run_copy, tmp_path, capsys):
    other = _tiny_burgers(tmp_path)
    other["network"]["width"] = 8
    run(parse_config(other), run_dir=tmp_path / "other")
    shutil.copy(tmp_path / "other" / "checkpoint.pt", run_copy / "checkpoint.pt")
    err = _one_line_exit_2(["run", "--resume", str(run_copy)], capsys)
    assert "checkpoint.pt: does not fit this run (RuntimeError: Error(s) in loading state_dict" in err
    assert "size mismatch" in err


def test_checkpoints_hold_only_tensors_and_plain_data(finished):
    path = finished / "checkpoint.pt"
    assert torch.serialization.get_unsafe_globals_in_checkpoint(path) == []  # no allow-list needed
    snap = torch.load(path, weights_only=True)
    assert isinstance(snap["loss"]["points"]["pde"]["__ndarray__"], torch.Tensor)
    loaded = Checkpointer(path).load()  # arrays come back as numpy, RNG states as plain dicts
    assert isinstance(loaded["loss"]["points"]["pde"], np.ndarray) and loaded["loss"]["points"]["pde"].shape == (512, 2)
    assert loaded["loss"]["rng"]["bit_generator"] == "PCG64"


def _legacy_save(self, snapshot):
    """How checkpoints were written before: the snapshot as is (numpy arrays pickled), no engine record."""
    buf = io.BytesIO()
    torch.save({k: v for k, v in snapshot.items() if k != "engine"}, buf)
    write_bytes(self.path, buf.getvalue())


def test_a_checkpoint_in_the_old_format_still_resumes_exactly(burgers_cfg, monkeypatch, tmp_path):
    cfg = parse_config(burgers_cfg, ["training.threads=1", "sampling.resample_every=25"])
    reference = run(cfg, run_dir=tmp_path / "whole").metrics
    monkeypatch.setattr(Checkpointer, "save", _legacy_save)
    interrupt_after_step(monkeypatch, 30)
    assert run(cfg, run_dir=tmp_path / "cut").metrics["status"] == "interrupted (SIGINT)"
    monkeypatch.undo()
    assert "numpy.ndarray" in torch.serialization.get_unsafe_globals_in_checkpoint(tmp_path / "cut" / "checkpoint.pt")
    resumed = resume(tmp_path / "cut").metrics
    assert resumed["status"] == "completed" and resumed["iterations"] == reference["iterations"]
    assert resumed["final_loss"] == reference["final_loss"] and resumed["best_loss"] == reference["best_loss"]
    assert resumed["rel_l2_u"] == reference["rel_l2_u"]


# --- pinnit predict: model.pt, else checkpoint.pt --------------------------------------------------------
@pytest.fixture(scope="module")
def operator_dir(tmp_path_factory):
    """An operator run directory as far as predict reads it: config.yaml (the weights are added per test)."""
    tmp = tmp_path_factory.mktemp("operator")
    raw = {"problem": {"name": "declared", "file": "problems/stokes.yaml", "hard_constraints": True,
                       "functions": {"f": {"argument": "x", "train": 4, "test": 1}}},
           "network": {"arch": "deeponet", "width": 8, "depth": 1, "layout": "shared", "activation": "tanh"},
           "training": {"dtype": "float64", "adam": {"iterations": 1}, "lbfgs": {"iterations": 0}},
           "output": {"dir": str(tmp), "plots": False, "progress": False}}
    (tmp / "config.yaml").write_text(dump_config(parse_config(raw)))
    np.save(tmp / "lid.npy", np.zeros(101))
    return tmp


@pytest.mark.parametrize("name", ["model.pt", "checkpoint.pt"])
def test_predict_refuses_weights_that_would_run_code(operator_dir, tmp_path, capsys, name):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    shutil.copy(operator_dir / "config.yaml", run_dir)
    marker = tmp_path / "marker"
    (run_dir / name).write_bytes(_crafted("torch-system", marker))
    err = _one_line_exit_2(["predict", str(run_dir), "--lid", str(operator_dir / "lid.npy")], capsys)
    assert f"{name}: refused" in err and "posix.system" in err and not marker.exists()


def test_predict_reads_the_weights_from_the_checkpoint_when_there_is_no_model_pt(operator_dir, tmp_path):
    from pinnit import assemble

    net = assemble(load_config(operator_dir / "config.yaml")).model.net
    torch.nn.init.normal_(next(net.parameters()))  # not the seed's initial weights
    outs = {}
    for name in ("model.pt", "checkpoint.pt"):
        run_dir = tmp_path / name
        run_dir.mkdir()
        shutil.copy(operator_dir / "config.yaml", run_dir)
        if name == "model.pt":
            torch.save(net.state_dict(), run_dir / name)
        else:  # the trainer's snapshot holds the PinnModel's state: the network under "net."
            Checkpointer(run_dir / name).save({"model": {f"net.{k}": v for k, v in net.state_dict().items()},
                                               "optimizer": {}, "train": {}, "loss": {}})
        assert main(["predict", str(run_dir), "--lid", str(operator_dir / "lid.npy"),
                     "--out", str(tmp_path / f"{name}.npz")]) == 0
        with np.load(tmp_path / f"{name}.npz") as z:
            outs[name] = z["u"]
    assert np.array_equal(outs["model.pt"], outs["checkpoint.pt"]) and np.abs(outs["model.pt"]).max() > 0


def test_predict_names_weights_of_another_network(operator_dir, tmp_path, capsys):
    run_dir = tmp_path / "run"
    run_dir.mkdir()
    shutil.copy(operator_dir / "config.yaml", run_dir)
    torch.save({"weight": torch.zeros(3)}, run_dir / "model.pt")
    err = _one_line_exit_2(["predict", str(run_dir), "--lid", str(operator_dir / "lid.npy")], capsys)
    assert "model.pt: not this run's network weights (RuntimeError: Error(s) in loading state_dict" in err
    assert "Missing key(s)" in err


# --- caches: a crafted entry is never unpickled; it is treated as missing ---------------------------------
def test_a_crafted_basis_cache_entry_is_never_unpickled(tmp_path):
    key = {"layers": [[2, 8]], "seed": 0}
    marker = tmp_path / "marker"
    payload = _crafted("torch-open", marker)  # with a valid header: the digest of the payload and the key
    header = basis_cache.MAGIC + hashlib.sha256(payload).hexdigest().encode() + b"\n" + \
        basis_cache.key_text(key).encode() + b"\n"
    path = basis_cache.entry_path(tmp_path, key)
    path.write_bytes(header + payload)
    assert basis_cache.load(tmp_path, key) is None and not marker.exists()
    basis_cache.save(tmp_path, key, {"w": torch.ones(2, 8)})  # recomputed and rewritten: then served
    assert torch.equal(basis_cache.load(tmp_path, key)["w"], torch.ones(2, 8))


def test_a_crafted_stokes_cache_entry_is_never_unpickled(tmp_path):
    F = np.sin(np.linspace(0, np.pi, 11))[None]
    marker = tmp_path / "marker"
    key = reference_key(F, 11, 0.01, "bottom_mean", 1, False)
    path = tmp_path / f"stokes-{key[:32]}.npz"
    np.savez(path, key=np.array([_Opens(marker)], dtype=object), u=np.zeros((1, 11, 11)))  # pickles the object
    ref = cached_references(F, tmp_path, n=11, mu=0.01, richardson=False)
    assert not marker.exists() and np.isfinite(ref["u"]).all() and ref["u"].shape == (1, 11, 11)
    with np.load(path, allow_pickle=False) as z:  # rewritten with the solution
        assert str(z["key"]) == key and np.array_equal(z["u"], ref["u"])
