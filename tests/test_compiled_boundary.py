"""The typed boundary of the compiled modules: the .pyi stubs list every binding with its argument names, the
kernel-family numbering is one (C++ enum == Python codes), C++ exceptions arrive as named nnqs_fast errors, and
the uncompressed Wick sweep is bit-reproducible for any thread count (fixed-order reduction)."""

from __future__ import annotations

import ast
import importlib
import importlib.util
import inspect
import os
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import nnqs_fast
from nnqs_fast import _core
from nnqs_fast.entanglement import wick as W
from nnqs_fast.errors import InvalidInputError, MemoryLimitError

PKG = Path(nnqs_fast.__file__).parent
ROOT = Path(__file__).resolve().parents[1]


def _stub(name: str) -> dict[str, object]:
    """Top-level names of a stub: functions -> parameter names, classes -> member names, variables -> None."""
    tree = ast.parse((PKG / f"{name}.pyi").read_text())
    out: dict[str, object] = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            out[node.name] = [a.arg for a in node.args.posonlyargs + node.args.args + node.args.kwonlyargs]
        elif isinstance(node, ast.ClassDef) and not node.name.startswith("_"):
            out[node.name] = {n.name if isinstance(n, ast.FunctionDef) else n.target.id  # type: ignore[union-attr]
                              for n in node.body if isinstance(n, (ast.FunctionDef, ast.AnnAssign))}
        elif isinstance(node, ast.AnnAssign) and isinstance(node.target, ast.Name) and (
                not node.target.id.startswith("_") or node.target.id == "__version__"):
            out[node.target.id] = None
    return out


def _public(mod: object) -> set[str]:
    return {n for n in dir(mod) if not n.startswith("_")} | ({"__version__"} & set(dir(mod)))


def _doc_params(fn: object) -> list[str]:
    """Parameter names from a pybind11 signature line ``name(a: T, b: U = ...) -> R``."""
    line = (getattr(fn, "__doc__", None) or "").splitlines()[0]
    return re.findall(r"[(,]\s*(\w+):", line)


def test_core_stub_lists_every_binding_with_its_argument_names() -> None:
    stub = _stub("_core")
    assert _public(_core) == set(stub), "stub and module differ: " + str(_public(_core) ^ set(stub))
    for name, spec in stub.items():
        obj = getattr(_core, name)
        if isinstance(spec, list):
            assert _doc_params(obj) == spec, name
        elif isinstance(spec, set) and name == "GDStepReLU1":
            runtime = {n for n in vars(obj) if not n.startswith("_")} | {"__init__"}
            assert runtime == spec, runtime ^ spec
            for meth in ("run", "train_loss", "get_params"):
                assert _doc_params(getattr(obj, meth)) == ["self"] + [
                    p for p in _stub_method_params("_core", "GDStepReLU1", meth) if p != "self"], meth


def _stub_method_params(mod: str, cls: str, meth: str) -> list[str]:
    tree = ast.parse((PKG / f"{mod}.pyi").read_text())
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == cls:
            for n in node.body:
                if isinstance(n, ast.FunctionDef) and n.name == meth:
                    return [a.arg for a in n.args.posonlyargs + n.args.args]
    raise AssertionError(f"{cls}.{meth} not in the stub")


def _fake_cuda() -> object:
    spec = importlib.util.spec_from_file_location("nnqs_fake_device_stub", ROOT / "tests" / "gpu" / "_fake_device.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    return mod._make_cuda()


def test_cuda_stub_matches_the_module_and_the_fake_device() -> None:
    stub = _stub("_cuda")
    functions = {n: p for n, p in stub.items() if isinstance(p, list)}
    fake = _fake_cuda()
    for name, params in functions.items():  # the host stand-in mimics every kernel entry with the same names
        assert list(inspect.signature(getattr(fake, name)).parameters) == params, name
    try:
        real = importlib.import_module("nnqs_fast._cuda")
    except ImportError:
        return
    assert _public(real) == set(stub), _public(real) ^ set(stub)
    for name, params in functions.items():
        assert _doc_params(getattr(real, name)) == params, name


@pytest.mark.slow
def test_stubtest_accepts_the_stubs() -> None:
    pytest.importorskip("mypy")
    mods = ["nnqs_fast._core"]
    if importlib.util.find_spec("nnqs_fast._cuda") is not None:
        mods.append("nnqs_fast._cuda")
    res = subprocess.run([sys.executable, "-m", "mypy.stubtest", *mods, "--allowlist",
                          str(ROOT / "tests" / "stubtest_allowlist.txt"), "--ignore-unused-allowlist"],
                         capture_output=True, text=True, check=False, env={**os.environ, "PYTHONPATH": str(PKG.parent)})
    assert res.returncode == 0, res.stdout + res.stderr


def test_py_typed_marker_ships_with_the_stubs() -> None:
    assert (PKG / "py.typed").is_file()
    assert (PKG / "_core.pyi").is_file() and (PKG / "_cuda.pyi").is_file()


def test_kernel_family_numbering_is_one() -> None:
    assert {n: int(v) for n, v in _core.KernelFamily.__members__.items()} == {
        "zero": 0, "rbf": 1, "relu": 2, "delta": 3, "relu_ntk": 4}
    from nnqs_fast.networks.gp import FAMILIES

    for name, code in FAMILIES.items():
        assert int(getattr(_core.KernelFamily, name)) == code == W.GPKernel(name, ()).code


def test_core_errors_are_named_nnqs_errors() -> None:
    assert issubclass(_core.CoreInvalidArgument, InvalidInputError)
    assert issubclass(_core.CoreSizeError, MemoryLimitError)
    one = np.zeros(1)
    with pytest.raises(InvalidInputError, match="unknown kernel family code 9"):
        _core.wick_kernel_eval(9, np.zeros(4), one, one, one)
    with pytest.raises(InvalidInputError, match="length 4"):
        _core.wick_kernel_eval(1, np.zeros(3), one, one, one)


def test_uncompressed_wick_sweep_is_bit_reproducible_for_any_thread_count() -> None:
    # 5|5 spins uncompressed: 528 x 1024 pair evaluations, above the C++ parallel threshold
    k1 = W.relu_nngp_kernel(10, depth=2)
    k2 = W.cosnet_gp_kernel(1.0, 1.3, 10)
    kw = {"n_sites": 10, "subsystem": range(5), "compress": False}
    before = _core.max_threads()
    try:
        _core.set_num_threads(1)
        ref = W.wick_purity_partial_trace(k1, k2, **kw)
        _core.set_num_threads(2)
        runs = [W.wick_purity_partial_trace(k1, k2, **kw) for _ in range(3)]
    finally:
        _core.set_num_threads(before)
    for r in runs:
        assert r.purity == ref.purity
        assert r.terms == ref.terms
    # and the uncompressed sweep agrees with the compressed one (different summation, same sums)
    comp = W.wick_purity_partial_trace(k1, k2, n_sites=10, subsystem=range(5))
    assert comp.purity == pytest.approx(ref.purity, rel=1e-12)
