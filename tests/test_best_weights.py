"""BestWeights: a copy (never an alias) of the kept state_dict, refreshed in place, re-cloned on a dtype change,
and a pending copy that is made only when the weights are read."""
from __future__ import annotations

import torch

from pinnit.training.best_weights import BestWeights


def test_keep_copies_and_refreshes_in_place():
    model = torch.nn.Linear(3, 2)
    best = BestWeights()
    assert best.weights is None
    best.keep(model.state_dict())
    kept = best.weights["weight"]
    assert kept.data_ptr() != model.weight.data_ptr() and torch.equal(kept, model.weight)
    with torch.no_grad():
        model.weight.add_(1.0)
    assert not torch.equal(best.weights["weight"], model.weight)  # not an alias of the model
    best.keep(model.state_dict())
    assert best.weights["weight"] is kept and torch.equal(kept, model.weight)  # same buffer, new values
    model.double()
    best.keep(model.state_dict())
    assert best.weights["weight"].dtype == torch.float64 and best.weights["weight"] is not kept


def test_a_pending_copy_is_made_once_when_read():
    calls = []

    def materialize():
        calls.append(1)
        return {"w": torch.full((2,), float(len(calls)))}

    best = BestWeights()
    best.keep(torch.nn.Linear(1, 1).state_dict())
    best.keep_later(materialize)
    assert calls == []
    assert best.weights["w"].tolist() == [1.0, 1.0] and best.weights["w"].tolist() == [1.0, 1.0]
    assert calls == [1]
    best.weights = None
    assert best.weights is None and calls == [1]
