"""Problems declared in YAML: inputs, fields, parameters, equations and conditions as expressions.

Every equation r(x, u, ∂u, …) = 0 becomes a physics term mean(r²) on the interior of the box;
every condition a term on faces of the box (Dirichlet q − g, Neumann ∂u/∂n − g with n the outward
normal, periodic u(lo) − u(hi), initial, or pointwise data u(xᵢ) − uᵢ). The schema is in
:mod:`pinnit.problems.declared_io`, the expression language in :mod:`pinnit.expressions.parse`,
the output transform (hard constraints) in :mod:`pinnit.problems.declared_transform`.
"""
from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import TYPE_CHECKING, Any

import numpy as np
import torch

from ..core.errors import ConfigError, did_you_mean
from ..derivatives.fields import Fields
from ..geometry.regions import Box, Region
from .base import Problem, Term, register_problem
from .declared_functions import function_inputs, solver_spec
from .declared_transform import parse_gauge, parse_output_transform
from .declared_io import PATH, ConditionSpec, Declaration, Table, load_declaration, read_table, resolve

if TYPE_CHECKING:
    from ..expressions.parse import Compiled

Residual = Callable[[Fields], torch.Tensor | tuple[torch.Tensor, ...]]
TERM_KIND = {"dirichlet": "boundary", "neumann": "boundary", "periodic": "boundary", "initial": "initial",
             "data": "data"}
DEFAULT_NAME = {"dirichlet": "boundary", "neumann": "boundary", "periodic": "periodic", "initial": "initial",
                "data": "data"}
_FACE_KEYS = {"name", "kind", "at", "field", "value", "equation", "points"}
KEYS = {"dirichlet": _FACE_KEYS, "initial": _FACE_KEYS, "neumann": _FACE_KEYS - {"equation"},
        "periodic": {"name", "kind", "at", "field", "derivatives", "points"},
        "data": {"name", "kind", "field", "file", "data"}}
FACE_POINTS = 256


def _ex():
    """The expression module, imported on first use (sympy is not loaded with pinnit)."""
    from ..expressions import parse as expressions

    return expressions


def _select_by_face(faces: tuple[dict[str, float], ...], parts: list[Residual], inputs: tuple[str, ...]) -> Residual:
    """One residual per face, each point taking the one of the face it lies on (the nearest face)."""
    if len(parts) == 1:
        return parts[0]
    cols = [[(inputs.index(k), v) for k, v in face.items()] for face in faces]

    def residual(f: Fields) -> torch.Tensor:
        x = f.x.detach()
        gap = torch.stack([torch.stack([(x[:, j] - v).abs() for j, v in c]).amax(0) for c in cols])
        stacked = torch.stack(torch.broadcast_tensors(*(p(f) for p in parts)))  # faces × (B ×) N
        return stacked.gather(0, gap.argmin(0).expand(stacked.shape[1:])[None]).squeeze(0)

    return residual


@register_problem("declared")
class DeclaredProblem(Problem):
    """A PDE declared in YAML (inline or from a file): equations, conditions, transform, exact solution."""

    def __init__(self, *, file: str | None = None, **declaration: Any):
        self.source = None
        try:
            self.spec, self.source = load_declaration(file, declaration)
            self._build(self.spec)
        except ConfigError as exc:  # one line, and say which file a key came from
            message = str(exc)[len(exc.path) + 2:] if exc.path else str(exc)
            top = exc.path[len(PATH) + 1:].split(".")[0].split("[")[0]
            if self.source is not None and exc.path.startswith(PATH) and top not in declaration:
                message += f" (declared in {file})"
            raise ConfigError(" ".join(exc.path.split()), " ".join(message.split())) from None

    # --- construction ------------------------------------------------------------------------------

    def fingerprint(self) -> str:
        """The merged declaration (file + inline keys), so editing the file changes the run id."""
        return self.spec.model_dump_json()

    def _build(self, s: Declaration) -> None:
        self.inputs = tuple(s.inputs)
        self.outputs = (s.fields,) if isinstance(s.fields, str) else tuple(s.fields)
        self.ns = ns = _ex().Namespace(self.inputs, self.outputs, s.parameters, PATH,
                                       {k: f.argument for k, f in s.functions.items()})
        ns.max_derivative_order = s.max_derivative_order  # read by the expression cost checks
        self._used: set[str] = set()
        self._domain = self._box(s.inputs, f"{PATH}.inputs")
        self.functions = function_inputs(self, s.functions)
        self.solver = solver_spec(self, s.solver)
        if s.time is not None and s.time not in self.inputs:
            raise ConfigError(f"{PATH}.time", f"'{s.time}' is not an input{did_you_mean(s.time, self.inputs)}; "
                                              f"inputs: {', '.join(self.inputs)}")
        self.time_input = s.time or ("t" if "t" in self.inputs else None)
        self._terms = self._equations(s.equations)
        taken = {c.name for c in s.conditions if c.name}
        for i, c in enumerate(s.conditions):
            name, k = c.name, 1
            while name is None or (c.name is None and name in taken):  # boundary, boundary_2, …
                name, k = DEFAULT_NAME[c.kind] + (f"_{k}" if k > 1 else ""), k + 1
            taken.add(name)
            self._terms.append(self._condition(c, name, i))
        n_eq, names = len(self._terms) - len(s.conditions), set()
        for i, t in enumerate(self._terms):
            if t.name in names:
                raise ConfigError(f"{PATH}.conditions[{i - n_eq}].name",
                                  f"term name '{t.name}' is used twice; give each condition its own name")
            names.add(t.name)
        self._symbolic_transform, self.hard_terms = parse_output_transform(self, s)  # Problem.output_transform
        self.gauge = parse_gauge(self, s.gauge)  # (field, point) pinned to 0 by operator runs, or None
        self._exact, self._table = self._reference(s)
        self._eval_box = {**self._domain, **self._box(s.evaluation.box, f"{PATH}.evaluation.box")}
        self.singular = tuple(self.point(at, f"{PATH}.evaluation.singular[{j}]")
                              for j, at in enumerate(s.evaluation.singular))
        res = s.evaluation.resolution
        if res is not None and len(res) != len(self.inputs):
            raise ConfigError(f"{PATH}.evaluation.resolution",
                              f"needs {len(self.inputs)} entries ({', '.join(self.inputs)}), got {res}")
        if res is None and self._table is not None and self._table.axes is not None and not s.evaluation.box:
            self._eval_box = {k: (float(a.min()), float(a.max())) for k, a in zip(self.inputs, self._table.axes)}
            res = [len(a) for a in self._table.axes]
        self._resolution = res or [{1: 201, 2: 101}.get(len(self.inputs), 21)] * len(self.inputs)
        for name in ns.parameters:
            if name not in self._used:
                others = [p for p in ns.parameters if p != name]
                raise ConfigError(f"{PATH}.parameters.{name}", f"'{name}' is used in no expression"
                                                               f"{did_you_mean(name, others)}")

    def parse(self, text, path: str, allow: str, *, equation: bool = False) -> Compiled:
        """Parse and compile one expression of the declaration (``allow``: what it may use — "constant",
        "equation", "value", "transform"); marks its parameters used; errors name ``path``."""
        expr = _ex().parse(text, self.ns, path, allow, equation=equation)
        self._used |= {str(s) for s in expr.free_symbols}
        return _ex().compile_expr(expr, self.ns, path, str(text))

    def constant(self, text, path: str) -> float:
        """A number written as an expression of the parameters only (e.g. ``2*pi``)."""
        return float(self.parse(text, path, "constant").fn(None))

    def _box(self, spec: Mapping[str, tuple], path: str) -> Box:
        box: Box = {}
        for name, (lo, hi) in spec.items():
            if name not in self.inputs:
                raise ConfigError(f"{path}.{name}", f"not an input{did_you_mean(name, self.inputs)}; "
                                                    f"inputs: {', '.join(self.inputs)}")
            box[name] = (self.constant(lo, f"{path}.{name}[0]"), self.constant(hi, f"{path}.{name}[1]"))
            if not box[name][0] < box[name][1]:
                raise ConfigError(f"{path}.{name}", f"empty interval [{box[name][0]}, {box[name][1]}]; "
                                                    f"need lower < upper")
        return box

    def _equations(self, eqs: str | list[str] | dict[str, str]) -> list[Term]:
        if isinstance(eqs, str):
            eqs = [eqs]
        items = list(eqs.items()) if isinstance(eqs, dict) else \
            [("pde" if len(eqs) == 1 else f"pde_{i + 1}", e) for i, e in enumerate(eqs)]
        if not items:
            raise ConfigError(f"{PATH}.equations", "no equation given")
        terms = []
        for i, (name, text) in enumerate(items):
            path = f"{PATH}.equations.{name}" if isinstance(eqs, dict) else f"{PATH}.equations[{i}]"
            c = self.parse(text, path, "equation", equation=True)
            if not c.fields:
                raise ConfigError(path, f"in '{text}': involves no field ({', '.join(self.outputs)})")
            terms.append(Term(name, "physics", Region(self._domain), c, points=self.spec.collocation))
        return terms

    def point(self, at: Mapping[str, object], path: str) -> tuple[float, ...]:
        """``{x: 0, y: 1}`` → (0.0, 1.0): one point of the domain, a value for every input."""
        missing = [k for k in self.inputs if k not in at]
        if missing:
            raise ConfigError(path, f"give one point: a value for every input (missing {', '.join(missing)})")
        (face,) = self.faces(dict(at), path, "point")
        return tuple(face[k] for k in self.inputs)

    def faces(self, at, path: str, kind: str) -> tuple[dict[str, float], ...]:
        """The faces a condition of ``kind`` holds on: ``at`` is an input name (both its faces), a mapping
        ``{input: value}`` (one face), a list of these, or None (the default faces for ``kind``)."""
        if at is None:  # initial: the lower face of time; otherwise every face of every other input
            time = self.time_input
            if kind == "initial":
                if time is None:
                    raise ConfigError(path, "required: the face of the initial condition, e.g. {t: 0} "
                                            "(or declare problem.time)")
                at = {time: self._domain[time][0]}
            else:
                at = [k for k in self.inputs if k != time]
                if not at:
                    raise ConfigError(path, "required: the faces of the condition, e.g. {x: 0}")
        faces = []
        for j, item in enumerate(at if isinstance(at, list) else [at]):
            where = f"{path}[{j}]" if isinstance(at, list) else path
            if isinstance(item, str):
                if item not in self.inputs:
                    raise ConfigError(where, f"'{item}' is not an input{did_you_mean(item, self.inputs)}; "
                                             f"inputs: {', '.join(self.inputs)}")
                faces += [{item: self._domain[item][0]}, {item: self._domain[item][1]}]
                continue
            face = {}
            for k, v in item.items():
                if k not in self.inputs:
                    raise ConfigError(f"{where}.{k}", f"not an input{did_you_mean(k, self.inputs)}; "
                                                      f"inputs: {', '.join(self.inputs)}")
                face[k] = self.constant(v, f"{where}.{k}")
                lo, hi = self._domain[k]
                if not lo <= face[k] <= hi:
                    raise ConfigError(f"{where}.{k}", f"{face[k]} lies outside the domain [{lo}, {hi}]")
            faces.append(face)
        return tuple(faces)

    def _per_face(self, items, n: int, path: str, allow: str, equation: bool = False) -> list[Compiled]:
        """One compiled expression for all faces, or one per face."""
        items = items if isinstance(items, list) else [items]
        if len(items) not in (1, n):
            raise ConfigError(path, f"gives {len(items)} entries for {n} faces; give one, or one per face")
        return [self.parse(e, f"{path}[{j}]" if len(items) > 1 else path, allow, equation=equation)
                for j, e in enumerate(items)]

    def _quantity(self, c: ConditionSpec, path: str) -> tuple[str, tuple[str, ...]]:
        """(field, inputs) that a Dirichlet/initial ``field: u_t`` or Neumann ``field: u`` refers to."""
        if c.field is None:
            if len(self.outputs) > 1:
                raise ConfigError(f"{path}.field", f"required with several fields: one of {', '.join(self.outputs)}")
            return self.outputs[0], ()
        if c.field in self.outputs:
            return c.field, ()
        d = self.ns.derivative(c.field)
        if d is None or c.kind == "neumann":
            valid = self.outputs if c.kind == "neumann" else self.ns.known({"field", "derivative"})
            what = "field" if c.kind == "neumann" else "field or derivative"
            raise ConfigError(f"{path}.field", f"'{c.field}' is not a {what}"
                                               f"{did_you_mean(c.field, valid)}; fields: {', '.join(self.outputs)}")
        self._check_order(len(d[1]), f"{path}.field")
        return d

    def _check_order(self, order: int, path: str) -> None:
        limit = self.spec.max_derivative_order
        if order > limit:
            raise ConfigError(path, f"derivative of order {order} exceeds max_derivative_order={limit} (its cost "
                                    f"grows steeply with the order); raise 'max_derivative_order' in the "
                                    f"declaration if you mean it")

    def _condition(self, c: ConditionSpec, name: str, i: int) -> Term:
        path, kind = f"{PATH}.conditions[{i}]", TERM_KIND[c.kind]
        extra = sorted(c.model_fields_set - KEYS[c.kind])
        if extra:
            raise ConfigError(f"{path}.{extra[0]}", f"not used by a {c.kind} condition; its keys: "
                                                    f"{', '.join(sorted(KEYS[c.kind]))}")
        if c.kind == "data":
            return self._data(c, name, path)
        if c.kind == "periodic":
            return self._periodic(c, name, path)
        faces = self.faces(c.at, f"{path}.at", c.kind)
        region = Region(self._domain, faces)
        if (c.value is None) == (c.equation is None):
            raise ConfigError(path, "give exactly one of 'value' (the field's value) or 'equation' (a residual)")
        if c.equation is not None:
            parts = self._per_face(c.equation, len(faces), f"{path}.equation", "equation", equation=True)
        else:
            field, wrt = self._quantity(c, path)
            values = self._per_face(c.value, len(faces), f"{path}.value", "value")
            if c.kind == "neumann":
                parts = [self._neumann(face, field, values[j % len(values)], path) for j, face in enumerate(faces)]
            else:
                parts = [lambda f, g=g: f.d(field, *wrt) - g(f) for g in values]
        return Term(name, kind, region, _select_by_face(faces, parts, self.inputs), points=c.points or FACE_POINTS)

    def _neumann(self, face: dict[str, float], field: str, g: Compiled, path: str) -> Residual:
        """n·∇u − g on a face of the box, n its outward normal: −∂/∂v on the lower face, +∂/∂v on the upper."""
        (var, pos), *rest = face.items()
        if rest or pos not in self._domain[var]:
            raise ConfigError(f"{path}.at", f"Neumann faces must fix one input at a bound of the domain, got {face}")
        sign = 1.0 if pos == self._domain[var][1] else -1.0
        return lambda f: sign * f.d(field, var) - g(f)

    def _periodic(self, c: ConditionSpec, name: str, path: str) -> Term:
        """u(…, v=lo, …) = u(…, v=hi, …) and the same for ∂ᵏu/∂vᵏ, k ≤ ``derivatives``."""
        if not isinstance(c.at, str) or c.at not in self.inputs:
            raise ConfigError(f"{path}.at", f"periodic needs one input name, got {c.at!r}"
                                            f"{did_you_mean(str(c.at), self.inputs)}; "
                                            f"inputs: {', '.join(self.inputs)}")
        var, (lo, hi) = c.at, self._domain[c.at]
        if c.field is not None and c.field not in self.outputs:
            raise ConfigError(f"{path}.field", f"'{c.field}' is not a field{did_you_mean(c.field, self.outputs)}; "
                                               f"fields: {', '.join(self.outputs)}")
        fields = [c.field] if c.field else list(self.outputs)
        self._check_order(c.derivatives, f"{path}.derivatives")
        orders = range(c.derivatives + 1)

        def residual(f: Fields) -> tuple[torch.Tensor, ...]:
            g = f.at(**{var: hi})
            return tuple(f.d(u, *[var] * k) - g.d(u, *[var] * k) for u in fields for k in orders)

        return Term(name, "boundary", Region(self._domain, ({var: lo},)), residual, points=c.points or FACE_POINTS)

    def _data(self, c: ConditionSpec, name: str, path: str) -> Term:
        """Pointwise data u(xᵢ) = uᵢ from ``file`` (.npz/.csv) or inline ``data`` columns."""
        if (c.file is None) == (c.data is None):
            raise ConfigError(path, "a data condition needs exactly one of 'file' or 'data' (columns)")
        if c.file is not None:
            raw = read_table(resolve(c.file, f"{path}.file", self.source and self.source.parent), f"{path}.file")
        else:
            raw = {k: np.asarray(v, dtype=float) for k, v in c.data.items()}
        table = Table(raw, self.inputs, self.outputs, f"{path}.{'file' if c.file else 'data'}")
        if c.field is not None and c.field not in table.fields:
            raise ConfigError(f"{path}.field", f"'{c.field}' has no column in the data"
                                               f"{did_you_mean(c.field, table.fields)}; "
                                               f"data fields: {', '.join(table.fields)}")
        fields = [c.field] if c.field else table.fields
        values = np.stack([table.values[u] for u in fields], axis=-1)
        cache: dict = {}

        def residual(f: Fields) -> tuple[torch.Tensor, ...]:
            key = (f.x.dtype, f.x.device)
            if key not in cache:
                cache[key] = torch.as_tensor(values, dtype=f.x.dtype, device=f.x.device)
            return tuple(f.value(u) - cache[key][:, j] for j, u in enumerate(fields))

        region = Region(self._domain, points=table.points)
        return Term(name, "data", region, residual, points=len(table.points))

    def _reference(self, s: Declaration) -> tuple[dict[str, Compiled] | None, Table | None]:
        if s.exact is not None and s.exact_file is not None:
            raise ConfigError(f"{PATH}.exact_file", "give either 'exact' (expressions) or 'exact_file', not both")
        if s.exact is not None:
            spec = s.exact if isinstance(s.exact, dict) else None
            if spec is None:
                if len(self.outputs) > 1:
                    raise ConfigError(f"{PATH}.exact", f"give one expression per field: {{{self.outputs[0]}: ...}}")
                spec = {self.outputs[0]: s.exact}
            for k in spec:
                if k not in self.outputs:
                    raise ConfigError(f"{PATH}.exact.{k}", f"not a field{did_you_mean(k, self.outputs)}; "
                                                           f"fields: {', '.join(self.outputs)}")
            where = (lambda k: f"{PATH}.exact.{k}") if isinstance(s.exact, dict) else (lambda k: f"{PATH}.exact")
            return {k: self.parse(v, where(k), "value") for k, v in spec.items()}, None
        if s.exact_file is not None:
            ef = s.exact_file if not isinstance(s.exact_file, str) else None
            key = f"{PATH}.exact_file" + (".path" if ef else "")
            path = resolve(ef.path if ef else s.exact_file, key, self.source and self.source.parent)
            raw = read_table(path, f"{PATH}.exact_file", ef.names if ef else None)
            return None, Table(raw, self.inputs, self.outputs, f"{PATH}.exact_file")
        return None, None

    # --- the Problem interface -----------------------------------------------------------------------
    @property
    def domain(self) -> Box:
        return dict(self._domain)

    def terms(self) -> list[Term]:
        return list(self._terms)

    def default_resolution(self) -> list[int]:
        return list(self._resolution)

    def evaluation_box(self) -> Box:
        return dict(self._eval_box)

    def reference(self, axes: Mapping[str, np.ndarray]) -> dict[str, np.ndarray] | None:
        mesh = np.meshgrid(*(axes[k] for k in self.inputs), indexing="ij")
        pts = np.stack([m.ravel() for m in mesh], axis=-1)
        if self._exact is not None:
            env = _ex().Columns(torch.as_tensor(pts, dtype=torch.float64), self.inputs)
            return {k: c(env).numpy().reshape(mesh[0].shape) for k, c in self._exact.items()}
        if self._table is not None:
            return {k: v.reshape(mesh[0].shape)
                    for k, v in self._table.interpolate(pts, f"{PATH}.exact_file").items()}
        return None

    def describe(self) -> str:
        return self.spec.description or super().describe()
