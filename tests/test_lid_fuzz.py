"""Lid and data files as the run configs are fuzzed (tests/test_bad_input.py): every file gives values or one
clean line (PinnitError: exit 2 from the CLI), never a traceback. ``pinnit predict RUN_DIR --lid FILE`` reads
the function at the sensors (pinnit/operators/predict.py); a declared problem's ``conditions[].file`` and
``exact_file`` read data tables (pinnit/problems/declared_io.py). Failures found by fuzzing are kept as
explicit cases below (marked "found")."""
from __future__ import annotations

import pickle
import warnings
import zipfile

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from pinnit.cli import main
from pinnit.config import dump_config
from pinnit.runs import parse_config
from pinnit.core.errors import ConfigError, PinnitError
from pinnit.operators.predict import read_function_file
from pinnit.problems import build_problem

COUNT = 5
DIR = "<a directory>"  # content: make a folder of that name
SETTINGS = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


class _Opens:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "w")


def _write(path, content) -> None:
    """``content``: bytes or str as is, a numpy array by np.save (object arrays pickled), a callable(path)."""
    if callable(content):
        content(path)
    elif isinstance(content, bytes):
        path.write_bytes(content)
    elif isinstance(content, str):
        path.write_text(content, encoding="utf-8")
    else:
        np.save(path, content, allow_pickle=True)
        if path.suffix != ".npy":  # np.save appends .npy
            path.with_name(path.name + ".npy").rename(path)


def _npy_bytes(array) -> bytes:
    import io

    buf = io.BytesIO()
    np.save(buf, array)
    return buf.getvalue()


def _zip_as_npy(path) -> None:
    np.savez(path.with_suffix(".npz"), a=np.zeros(COUNT))
    path.with_suffix(".npz").rename(path)


def _check_one_line(exc: PinnitError, fragment: str) -> None:
    text = str(exc)
    assert fragment in text and text.isprintable(), text


# (file name, content, fragment of the one-line message)
BAD_LIDS = [
    ("short.npy", np.zeros(3), "3 values; the operator reads the function at 5 sensors"),
    ("empty.npy", np.zeros(0), "0 values"),
    ("scalar.npy", np.float64(1.0), "an array of shape ()"),
    ("cube.npy", np.zeros((1, 1, COUNT)), "an array of shape (1, 1, 5)"),
    ("matrix.npy", np.zeros((COUNT, 2)), "an array of shape (5, 2)"),
    ("nan.npy", np.r_[np.zeros(4), np.nan], "value 5 is nan; all 5 values must be finite"),
    ("inf.npy", np.full(COUNT, -np.inf), "value 1 is -inf"),
    ("strings.npy", np.array(["a"] * COUNT), "holds <U1 values; expected 5 numbers"),
    ("bool.npy", np.ones(COUNT, bool), "holds bool values"),
    ("complex.npy", np.ones(COUNT) + 1j, "holds complex128 values"),  # found: the imaginary part was dropped
    ("timedelta.npy", np.ones(COUNT, "timedelta64[s]"), "holds timedelta64[s] values"),  # found: read as numbers
    ("record.npy", np.zeros(COUNT, dtype=[("a", float)]), "holds [('a', '<f8')] values"),
    ("object.npy", np.array([1.0, "x", None], dtype=object), "holds pickled Python objects, never loaded"),
    ("pickle.npy", pickle.dumps(list(range(COUNT))), "holds pickled Python objects, never loaded"),
    ("archive.npy", _zip_as_npy, "not a .npy array (an archive of several?)"),  # found: AttributeError
    ("truncated.npy", _npy_bytes(np.zeros(COUNT))[:-8], "not a readable .npy array"),
    ("header.npy", _npy_bytes(np.zeros(COUNT))[:20], "not a readable .npy array"),
    ("garbage.npy", b"\x00\x01garbage", "not a readable .npy array"),
    ("huge_header.npy", _npy_bytes(np.zeros(COUNT)).replace(b"(5,)", b"(10**13,)"), "not a readable .npy array"),
    ("text.txt", "0.1\n0.2\nabc\n0.4\n0.5\n", "line 3: 'abc' is not a number"),
    ("columns.csv", "1,2\n3,4\n5,6\n7,8\n9,10\n", "line 1: '1,2' is not a number"),
    ("header.csv", "u\n1\n2\n3\n4\n5\n", "line 1: 'u' is not a number"),
    ("inf.txt", "1\n2\n1e999\n4\n5\n", "value 3 is inf"),
    ("nul.txt", "1\x00\n2\n3\n4\n5\n", "line 1: '1\\x00' is not a number"),
    ("latin1.txt", b"1\n2\n\xe9\n4\n5\n", "cannot read as text"),
    ("empty.txt", "", "0 values"),
    ("lid.json", "[0, 0, 0, 0, 0]", "expected a .npy, .csv or .txt file"),
    ("missing.npy", None, "no such file"),
    ("folder.npy", DIR, "a directory"),  # found: said "no such file"
]


@pytest.mark.parametrize("name, content, fragment", BAD_LIDS, ids=[b[0] for b in BAD_LIDS])
def test_each_bad_lid_file_is_one_clean_line(tmp_path, name, content, fragment):
    path = tmp_path / name
    if content is DIR:
        path.mkdir()
    elif content is not None:
        _write(path, content)
    with pytest.raises(PinnitError) as err, warnings.catch_warnings():
        warnings.simplefilter("error")
        read_function_file(path, COUNT)
    _check_one_line(err.value, fragment)


@pytest.mark.parametrize("name, content", [
    ("bom.csv", "\ufeff1\n2\n3\n4\n5\n"),  # found: a spreadsheet's byte-order mark made line 1 "not a number"
    ("crlf.csv", "1\r\n2\r\n3\r\n4\r\n5\r\n"),
    ("trailing_commas.csv", "1,\n2,\n3,\n4,\n5,\n\n\n"),
    ("float16.npy", np.arange(COUNT, dtype=np.float16)),
    ("uint8.npy", np.arange(COUNT, dtype=np.uint8)),
    ("column.npy", np.arange(COUNT, dtype=float)[:, None]),
])
def test_these_lid_files_are_read(tmp_path, name, content):
    path = tmp_path / name
    _write(path, content)
    np.testing.assert_array_equal(read_function_file(path, COUNT), np.arange(1, COUNT + 1) - (".npy" in name))


def test_a_pickled_lid_is_never_unpickled(tmp_path):
    marker = tmp_path / "marker"
    np.save(tmp_path / "lid.npy", np.array([_Opens(marker)] * COUNT, dtype=object), allow_pickle=True)
    with pytest.raises(PinnitError, match="pickled Python objects, never loaded"):
        read_function_file(tmp_path / "lid.npy", COUNT)
    assert not marker.exists()


def _reads_or_refuses(path) -> None:
    """The property fuzzed: COUNT finite floats, or a one-line PinnitError; no warning either (a second line)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")
            values = read_function_file(path, COUNT)
    except PinnitError as exc:
        assert str(exc).isprintable() and str(path.name) in str(exc)
        return
    assert values.shape == (COUNT,) and values.dtype == float and np.isfinite(values).all()


@SETTINGS
@given(data=st.binary(max_size=300), suffix=st.sampled_from([".npy", ".csv", ".txt"]))
@example(data=_npy_bytes(np.zeros(COUNT))[:-8], suffix=".npy")
@example(data=b"\xef\xbb\xbf1\n2\n3\n4\n5\n", suffix=".csv")
def test_fuzzed_lid_bytes_read_or_fail_cleanly(tmp_path, data, suffix):
    path = tmp_path / f"lid{suffix}"
    path.write_bytes(data)
    _reads_or_refuses(path)


@SETTINGS
@given(array=hnp.arrays(dtype=st.one_of(hnp.scalar_dtypes(), hnp.byte_string_dtypes(), hnp.unicode_string_dtypes()),
                        shape=hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=6)))
@example(array=np.ones(COUNT, "timedelta64[s]"))
@example(array=np.ones(COUNT, complex))
def test_fuzzed_lid_arrays_read_or_fail_cleanly(tmp_path, array):
    path = tmp_path / "lid.npy"
    np.save(path, array)
    _reads_or_refuses(path)


@SETTINGS
@given(lines=st.lists(st.one_of(st.floats(allow_nan=True, allow_infinity=True).map(repr), st.text(max_size=8)),
                      max_size=8))
def test_fuzzed_lid_text_reads_or_fails_cleanly(tmp_path, lines):
    path = tmp_path / "lid.txt"
    path.write_text("\n".join(lines), encoding="utf-8")
    _reads_or_refuses(path)


# --- through the CLI: one line on stderr, exit code 2 -------------------------------------------------------
@pytest.fixture(scope="module")
def operator_run(tmp_path_factory):
    """An operator run directory as predict reads it: config.yaml and model.pt of a freshly built DeepONet."""
    from pinnit import assemble

    tmp = tmp_path_factory.mktemp("lids")
    cfg = parse_config({
        "problem": {"name": "declared", "file": "problems/stokes.yaml", "hard_constraints": True,
                    "functions": {"f": {"argument": "x", "train": 4, "test": 1}}},
        "network": {"arch": "deeponet", "width": 8, "depth": 1, "layout": "shared", "activation": "tanh"},
        "training": {"dtype": "float64", "adam": {"iterations": 1}, "lbfgs": {"iterations": 0}},
        "evaluation": {"resolution": [11, 11], "functions": 1},
        "output": {"dir": str(tmp), "plots": False, "progress": False}})
    (tmp / "config.yaml").write_text(dump_config(cfg))
    import torch

    torch.save(assemble(cfg).model.net.state_dict(), tmp / "model.pt")
    return tmp


@pytest.mark.parametrize("name, content, fragment", [
    ("archive.npy", _zip_as_npy, "not a .npy array"),
    ("folder.npy", DIR, "a directory"),
    ("short.csv", "1\n2\n", "2 values; the operator reads the function at 101 sensors"),
])
def test_the_cli_answers_a_bad_lid_in_one_line_with_exit_2(operator_run, tmp_path, capsys, name, content, fragment):
    path = tmp_path / name
    path.mkdir() if content is DIR else _write(path, content)
    assert main(["predict", str(operator_run), "--lid", str(path), "--out", str(tmp_path / "o.npz")]) == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1 and fragment in err and "Traceback" not in err, err
    np.save(tmp_path / "good.npy", np.zeros(101))  # and the run directory does predict
    assert main(["predict", str(operator_run), "--lid", str(tmp_path / "good.npy"),
                 "--out", str(tmp_path / "o.npz")]) == 0


# --- declared problems' data files (conditions[].file, exact_file) -----------------------------------------
BASE = {"name": "declared", "inputs": {"x": [0, 1], "t": [0, 1]}, "fields": ["u"], "equations": ["u_t - u_xx"]}
GRID = np.linspace(0, 1, 6)


def _npz(**arrays):
    return lambda path: np.savez(path, **arrays)


def _build(path, where: str):
    spec = {"conditions": [{"kind": "data", "file": str(path)}]} if where == "data" else {"exact_file": str(path)}
    problem = build_problem({**BASE, **spec})
    if where == "exact":  # the reference is interpolated when the evaluation grid asks for it
        problem.reference(problem.evaluation_axes([5, 5]))
    return problem


BAD_DATA = [
    ("nan.npz", _npz(x=GRID, t=GRID, u=np.r_[np.zeros(5), np.nan]), "column 'u', value 6: nan"),  # found: accepted
    ("inf_input.npz", _npz(x=np.r_[GRID[:5], np.inf], t=GRID, u=np.zeros(6)), "column 'x', value 6: inf"),
    ("blank.csv", "x,t,u\n0,0,\n1,1,1\n", "column 'u', value 1: nan (blank or not a number?)"),  # found
    ("text.csv", "x,t,u\n0,0,abc\n1,1,1\n", "column 'u', value 1: nan"),  # found: read as nan, trained on
    ("empty.npz", _npz(x=np.zeros(0), t=np.zeros(0), u=np.zeros(0)), "column 'x' is empty"),  # found: ValueError
    ("header_only.csv", "x,t,u\n", "column 'x' is empty"),  # found: ValueError
    ("empty.csv", "", "no header row (an empty file?)"),  # found: IndexError
    ("ragged.csv", "x,t,u\n0,0\n1,1,1\n", "Line #2 (got 2 columns instead of 3)"),
    ("latin1.csv", b"x,t,u\n0,0,\xe9\n", "cannot read"),
    ("complex.npz", _npz(x=GRID + 1j, t=GRID, u=GRID), "array 'x' of 'complex.npz' holds complex128 values"),  # found
    ("bool.npz", _npz(x=GRID > 0.5, t=GRID, u=GRID), "holds bool values"),
    ("strings.npz", _npz(x=np.array(["a"] * 6), t=GRID, u=GRID), "holds <U1 values"),
    ("object.npz", _npz(x=np.array([1, "a"], dtype=object), t=GRID, u=GRID), "pickled Python objects (never loaded)"),
    ("truncated.npz", lambda p: p.write_bytes(b"PK\x03\x04 truncated"), "cannot read"),  # found: BadZipFile
    ("npy.npz", lambda p: p.write_bytes(_npy_bytes(np.zeros(3))), "File is not a zip file"),  # found: TypeError
    ("pickle.npz", pickle.dumps({"x": 1}), "File is not a zip file"),
    ("grid.npz", _npz(x=GRID, t=GRID, u=np.zeros((6, 6, 1))), "field 'u' has shape (6, 6, 1)"),
    ("columns.npz", _npz(x=GRID, t=GRID[:3], u=GRID), "column 't' has 3 values"),
    ("table.json", "{}", "expected a .npz or .csv file"),
]


@pytest.mark.parametrize("where", ["data", "exact"])
@pytest.mark.parametrize("name, content, fragment", BAD_DATA, ids=[b[0] for b in BAD_DATA])
def test_each_bad_data_file_is_one_clean_line(tmp_path, name, content, fragment, where):
    path = tmp_path / name
    _write(path, content)
    with pytest.raises(ConfigError) as err, warnings.catch_warnings():
        warnings.simplefilter("error")  # found: genfromtxt warned about an empty file on a second line
        _build(path, where)
    assert err.value.path == ("problem.conditions[0].file" if where == "data" else "problem.exact_file")
    _check_one_line(err.value, fragment)


def test_scattered_reference_points_on_one_line_are_one_clean_line(tmp_path):
    """found: griddata's QhullError (a RuntimeError with a multi-line message) from points along x = t."""
    np.savez(tmp_path / "line.npz", x=GRID, t=GRID, u=GRID)
    with pytest.raises(ConfigError) as err:
        _build(tmp_path / "line.npz", "exact")
    _check_one_line(err.value, "cannot interpolate between the data points (too few, or all on one line or plane?")


@SETTINGS
@given(arrays=st.dictionaries(
    st.sampled_from(["x", "t", "u", "v"]),
    hnp.arrays(dtype=st.one_of(hnp.floating_dtypes(), hnp.integer_dtypes(), hnp.boolean_dtypes(),
                               hnp.complex_number_dtypes()),
               shape=hnp.array_shapes(min_dims=0, max_dims=2, min_side=0, max_side=5)),
    max_size=4), where=st.sampled_from(["data", "exact"]))
@example(arrays={"x": GRID, "t": GRID, "u": GRID}, where="exact")
@example(arrays={"x": np.zeros(0), "t": np.zeros(0), "u": np.zeros(0)}, where="exact")
def test_fuzzed_data_files_build_or_fail_cleanly(tmp_path, arrays, where):
    np.savez(tmp_path / "d.npz", **arrays)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # a warning would be a second line on stderr
            problem = _build(tmp_path / "d.npz", where)
    except ConfigError as exc:
        assert str(exc).isprintable() and exc.path.startswith("problem.")
        return
    if where == "data":
        points = problem.terms()[-1].region.points
        assert np.isfinite(points).all() and len(points)


def test_a_pickled_data_file_is_never_unpickled(tmp_path):
    marker = tmp_path / "marker"
    np.savez(tmp_path / "d.npz", x=np.array([_Opens(marker)], dtype=object), t=GRID, u=GRID)
    with zipfile.ZipFile(tmp_path / "d.npz") as z:
        assert "x.npy" in z.namelist()
    with pytest.raises(ConfigError, match="pickled Python objects"):
        _build(tmp_path / "d.npz", "data")
    assert not marker.exists()
