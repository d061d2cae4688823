"""Study loss_curves.png's step axis names only the optimizers that logged losses, in order, and the first
logged step (read from the runs' histories)."""
from __future__ import annotations

from types import SimpleNamespace

from pinnit.studies.figures import step_label


def run(*stages: tuple[str, list[int]]):
    rows = [{"step": step, "stage": name, "loss_total": 1.0} for name, steps in stages for step in steps]
    rows.insert(1, {"step": rows[0]["step"], "stage": "lbfgs", "event": "a restart, not a loss row"})
    return SimpleNamespace(history=lambda: rows)


def test_step_label_names_only_the_optimizers_that_ran_and_the_first_logged_step():
    adam_only = [run(("adam", [10, 20, 30])), run(("adam", [10, 20]))]
    assert step_label(adam_only) == "step (Adam; loss logged from step 10)"
    both = [run(("adam", [5, 10]), ("lbfgs", [15, 20]))]
    assert step_label(both) == "step (Adam, then L-BFGS; loss logged from step 5)"
    assert step_label([run(("ssbroyden", [0, 10]))]) == "step (SSBroyden; loss logged from step 0)"
    assert step_label([]) == "step"
