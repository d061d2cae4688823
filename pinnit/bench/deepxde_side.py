"""DeepXDE's side of a bench case: its Burgers example (PyTorch backend) on the shared points and weights.

Imported only inside a worker subprocess started with ``DDE_BACKEND=pytorch``: importing DeepXDE sets
global torch defaults (default dtype), which must never reach pinnit's own process.
The network, PDE, conditions and optimizer are the example's
(github.com/lululxvi/deepxde, examples/pinn_forward/Burgers.py); only the points come from ``anchors``
(``num_domain = num_boundary = num_initial = 0``) and the initial weights are copied in.
One timed step is ``Model._train_step`` (DeepXDE's ``train_step``: forward on all training points,
``dde.grad`` Jacobian/Hessian, losses, backward, Adam step).
"""
from __future__ import annotations

import numpy as np

from .setups import NU, POINTS, T_END, BenchCase, layer_arrays


class DeepXDEStepper:
    name = "deepxde"

    def __init__(self, case: BenchCase, data: dict[str, np.ndarray], dtype: str, threads: int):
        import deepxde as dde
        import torch

        torch.set_num_threads(threads)
        dde.config.set_default_float(dtype)
        geom = dde.geometry.Interval(-1, 1)
        geomtime = dde.geometry.GeometryXTime(geom, dde.geometry.TimeDomain(0, T_END))

        def pde(x, y):
            dy_x = dde.grad.jacobian(y, x, i=0, j=0)
            dy_t = dde.grad.jacobian(y, x, i=0, j=1)
            dy_xx = dde.grad.hessian(y, x, i=0, j=0)
            return dy_t + y * dy_x - NU * dy_xx

        bc = dde.icbc.DirichletBC(geomtime, lambda x: 0, lambda _, on_boundary: on_boundary)
        ic = dde.icbc.IC(geomtime, lambda x: -np.sin(np.pi * x[:, 0:1]), lambda _, on_initial: on_initial)
        self.data = dde.data.TimePDE(geomtime, pde, [bc, ic], num_domain=0, num_boundary=0, num_initial=0,
                                     anchors=data["pde"])
        if list(self.data.num_bcs) != [POINTS["boundary"], POINTS["initial"]]:
            raise RuntimeError(f"DeepXDE found {self.data.num_bcs} boundary/initial points, expected "
                               f"{[POINTS['boundary'], POINTS['initial']]}")
        net = dde.nn.FNN([2] + [case.width] * case.depth + [1], "tanh", "Glorot normal")
        with torch.no_grad():
            for layer, (w, b) in zip(net.linears, layer_arrays(data), strict=True):
                layer.weight.copy_(torch.as_tensor(w))
                layer.bias.copy_(torch.as_tensor(b))
        self.model = dde.Model(self.data, net)
        self.model.compile("adam", lr=1e-3)
        self.model.train(iterations=0, display_every=10**9, verbose=0)  # sets up the train state
        st = self.model.train_state
        self._batch = (st.X_train, st.y_train, st.train_aux_vars)

    def step(self) -> None:
        self.model._train_step(*self._batch)
        self.model.train_state.step += 1

    def losses(self) -> dict[str, float]:
        """DeepXDE's training losses [pde, bc, ic] at the current parameters."""
        values = self.model.outputs_losses_train(*self._batch)[1].detach().cpu().numpy().astype(float)
        out = dict(zip(("pde", "bc", "ic"), map(float, values)))
        out["total"] = float(sum(values))
        return out
