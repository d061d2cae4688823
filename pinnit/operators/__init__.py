"""Operator learning: problems with function inputs (e.g. a random lid), trained as PI-DeepONets.

- :mod:`~pinnit.sampling.grf` — the Gaussian-random-field law (DeepXDE's ``dde.data.GRF``), spline matrices;
- :mod:`~pinnit.sampling.functions` — a declared function input: sensors, law, training/held-out draws;
- :mod:`~pinnit.operators.loss` — the DeepONet + output transform, and the loss on function batches;
- :mod:`~pinnit.operators.evaluation` / :mod:`~pinnit.operators.plots` — held-out and f ≡ 0 scores, figures;
- :mod:`~pinnit.references.solvers` — reference solvers by name (``stokes``);
- :mod:`~pinnit.operators.assemble`, :mod:`~pinnit.operators.validate`, :mod:`~pinnit.operators.predict`.

The derivative engine over functions × points is :mod:`pinnit.derivatives.cartesian_fields`; the network
:mod:`pinnit.nn.deeponet`.
"""
