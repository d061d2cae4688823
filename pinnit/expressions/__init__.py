"""User expressions: a PDE, a condition or a bound written as text, parsed with sympy into torch code over
:class:`~pinnit.derivatives.fields.Fields` (:mod:`.parse`), within size limits (:mod:`.limits`)."""
