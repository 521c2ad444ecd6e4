"""The one dispatch point (nnqs_fast._backend): backend parsing, the CPU/CUDA registry, the return-type rule
(CuPy in -> CuPy out, NumPy in -> NumPy out), no import cycle, and the CLI routing of ``--backend``.

The CUDA side is exercised with the host-memory stand-ins of CuPy and nnqs_fast._cuda (tests/gpu/_fake_device.py).
"""

from __future__ import annotations

import ast
import importlib.util
import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import nnqs_fast._backend as be
from nnqs_fast.errors import BackendUnavailableError, InvalidInputError

ROOT = Path(__file__).resolve().parents[1]
PKG = ROOT / "python" / "nnqs_fast"


@pytest.fixture
def fake(monkeypatch):
    """The fake device installed (CuPy stand-in + CUDA backend usable); yields the fake ``cupy`` module."""
    spec = importlib.util.spec_from_file_location("nnqs_fake_device", ROOT / "tests" / "gpu" / "_fake_device.py")
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)  # type: ignore[union-attr]
    mod.install(monkeypatch)
    be.cupy_module.cache_clear()
    import cupy

    yield cupy
    monkeypatch.undo()
    mod.clear_caches()
    be.cupy_module.cache_clear()


# ---------------------------------------------------------------------------------------------- parsing
@pytest.mark.parametrize("name,expect", [("auto", "auto"), ("CPU", "cpu"), ("Cuda", "cuda"), ("cuda", "cuda")])
def test_parse_backend_one_letter_case_rule(name, expect):
    assert be.parse_backend(name) == expect


@pytest.mark.parametrize("bad", ["gpu", "", "cpu ", None, 1, "numpy"])
def test_parse_backend_one_error_for_bad_names(bad):
    with pytest.raises(InvalidInputError, match="backend must be one of"):
        be.parse_backend(bad)
    with pytest.raises(InvalidInputError, match="backend must be one of"):
        be.resolve_backend(bad)


def test_public_functions_use_the_parser():
    from nnqs_fast import entanglement, kernels

    x = np.ones((3, 2))
    ref = kernels.relu_kernel_fn()(x, get="ntk", backend="cpu")
    np.testing.assert_array_equal(kernels.relu_kernel_fn()(x, get="ntk", backend="CPU"), ref)
    with pytest.raises(InvalidInputError, match="backend must be one of"):
        kernels.relu_kernel_fn()(x, backend="gpu")
    with pytest.raises(InvalidInputError, match="backend must be one of"):
        entanglement.wick_purity(entanglement.delta_kernel(), n_sites=3, subsystem=[0], backend="GPU!")


def test_cli_backend_option_uses_the_parser(capsys):
    from nnqs_fast.cli import build_parser

    args = build_parser().parse_args(["entropy", "--backend", "CPU", "--out", "x"])
    assert args.backend == "cpu"
    with pytest.raises(SystemExit):
        build_parser().parse_args(["entropy", "--backend", "gpu", "--out", "x"])
    assert "backend must be one of" in capsys.readouterr().err


def test_explicit_cuda_without_a_device_raises_named_error():
    if be.cuda_status().usable:
        pytest.skip("a CUDA device is usable here")
    from nnqs_fast import dynamics

    with pytest.raises(BackendUnavailableError, match="not usable"):
        dynamics.nngp_posterior(np.eye(2), np.ones(2), backend="CUDA")


# ---------------------------------------------------------------------------------------------- registry
def _toy(monkeypatch, cuda_impl):
    """A dispatched toy function ``toy.scale(x, k, backend)`` with the given CUDA implementation (or None)."""
    monkeypatch.setattr(be, "_CUDA_IMPLS", dict(be._CUDA_IMPLS))
    monkeypatch.setattr(be, "_CPU_IMPLS", dict(be._CPU_IMPLS))
    monkeypatch.setitem(be._CUDA_AREAS_LOADED, "toy", "")
    seen = []

    @be.dispatch("toy.scale")
    def scale(x, k=2.0, backend="auto"):
        seen.append(("cpu", type(x).__module__.split(".")[0], backend))
        return {"y": np.asarray(x) * k, "pair": (np.asarray(x), 1.0)}

    if cuda_impl is not None:
        be.register_cuda("toy.scale")(lambda x, k=2.0: cuda_impl(seen, x, k))
    return scale, seen


def test_dispatch_runs_cpu_body_with_resolved_backend(monkeypatch):
    scale, seen = _toy(monkeypatch, None)
    out = scale(np.arange(3.0), 3.0, "CPU")  # positional backend, any case
    assert seen == [("cpu", "numpy", "cpu")]
    np.testing.assert_array_equal(out["y"], [0.0, 3.0, 6.0])
    with pytest.raises(TypeError, match="backend"):
        be.dispatch("toy.bad")(lambda x: x)


def test_cuda_implementation_and_return_type_rule(monkeypatch, fake):
    def cuda(seen, x, k):
        seen.append(("cuda", type(x).__module__.split(".")[0], None))
        xd = fake.asarray(x)
        return {"y": xd * k, "pair": (xd, 1.0)}

    scale, seen = _toy(monkeypatch, cuda)
    # CuPy in -> CuPy out (the CUDA implementation receives the CuPy array as given)
    out = scale(fake.asarray(np.arange(3.0)), backend="cuda")
    assert seen[-1] == ("cuda", "cupy", None)
    assert isinstance(out["y"], fake.ndarray) and isinstance(out["pair"][0], fake.ndarray)
    # NumPy in -> NumPy out, even though the CUDA implementation returned device arrays
    out = scale(np.arange(3.0), backend="auto")
    assert seen[-1] == ("cuda", "numpy", None)
    assert type(out["y"]) is np.ndarray and type(out["pair"][0]) is np.ndarray and out["pair"][1] == 1.0
    np.testing.assert_array_equal(out["y"], [0.0, 2.0, 4.0])


def test_not_implemented_falls_back_to_cpu_with_host_arrays(monkeypatch, fake):
    def cuda(seen, x, k):
        seen.append(("cuda", type(x).__module__.split(".")[0], None))
        return NotImplemented

    scale, seen = _toy(monkeypatch, cuda)
    out = scale(fake.asarray(np.arange(3.0)), 5.0, backend="cuda")
    assert seen == [("cuda", "cupy", None), ("cpu", "numpy", "cuda")]  # the CPU body gets host arrays
    assert isinstance(out["y"], fake.ndarray)                          # and the result goes back to the device
    np.testing.assert_array_equal(out["y"].get(), [0.0, 5.0, 10.0])


def test_every_gpu_registration_names_a_dispatched_cpu_function_or_primitive(fake):
    """A renamed CPU function (or a typo in @register_cuda) fails here instead of silently running on the CPU."""
    for area in ("kernels", "dynamics", "entanglement", "training"):
        importlib.import_module(f"nnqs_fast.gpu.{area}")
    import nnqs_fast.training  # noqa: F401  (the trainer dispatches training.* by lookup, not by decorator)

    known = set(be._CPU_IMPLS) | {"training.make_engine", "training.make_step", "training.max_learning_rate_for"}
    assert set(be._CUDA_IMPLS) <= known, set(be._CUDA_IMPLS) - known
    for name in ("kernels.relu_kernel", "kernels.stationary_kernel", "kernels.empirical_ntk",
                 "kernels.empirical_qsntk", "kernels.qsntk_from_jacobians", "dynamics.eigh",
                 "entanglement.wick_purity", "training.make_step", "training.make_engine",
                 "training.max_learning_rate_for"):
        assert be.cuda_implementation(name) is not None, name


def test_predictors_follow_inputs(monkeypatch, fake, rng):
    """The dynamics predictors: CuPy kernels in -> CuPy predictions out; the CUDA eigensolver is used."""
    import nnqs_fast.gpu.dynamics as gd
    from nnqs_fast import dynamics

    calls = []
    real = be.cuda_implementation("dynamics.eigh")
    monkeypatch.setitem(be._CUDA_IMPLS, "dynamics.eigh", lambda H: (calls.append(H.shape), real(H))[1])
    assert real is gd.device_eigh
    A = rng.standard_normal((6, 6))
    K = A @ A.T + np.eye(6)
    y = rng.standard_normal(6) + 1j * rng.standard_normal(6)
    ref = dynamics.qsntk_mse_predictor(K, y, 0.1, backend="cpu")(np.array([1.0, 7.0]))
    host = dynamics.qsntk_mse_predictor(K, y, 0.1, backend="cuda")(np.array([1.0, 7.0]))
    dev = dynamics.qsntk_mse_predictor(fake.asarray(K), fake.asarray(y), 0.1, backend="cuda")(np.array([1.0, 7.0]))
    assert calls == [(6, 6), (6, 6)]
    assert type(host) is np.ndarray and isinstance(dev, fake.ndarray)
    np.testing.assert_allclose(host, ref, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(dev.get(), ref, rtol=1e-12, atol=1e-14)
    # a NumPy-built predictor called with a CuPy argument returns CuPy
    pred = dynamics.nngp_posterior(K, y, backend="cpu")
    assert isinstance(pred(fake.asarray(K[:2]), get_cov=None).mean, fake.ndarray)


# ---------------------------------------------------------------------------------------------- no cycle
def _run(code: str) -> str:
    r = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120,
                       env={"PYTHONPATH": str(ROOT / "python"), "PATH": "/usr/bin:/bin"})
    assert r.returncode == 0, r.stderr
    return r.stdout


def test_backend_is_the_bottom_layer_and_never_imports_gpu():
    """Static: _backend.py imports no package module but errors; dynamic: importing it (and the whole package)
    in a fresh interpreter imports nothing of nnqs_fast.gpu."""
    tree = ast.parse((PKG / "_backend.py").read_text())
    rel = {(n.module or "") for n in ast.walk(tree) if isinstance(n, ast.ImportFrom) and n.level > 0}
    assert rel == {"errors"}, rel
    out = _run("import sys; import nnqs_fast._backend as b; b.backend_info(); "
               "print(any(m.startswith('nnqs_fast.gpu') for m in sys.modules))")
    assert out.strip() == "False"


def _modules() -> list[str]:
    mods = sorted("nnqs_fast." + ".".join(p.relative_to(PKG).with_suffix("").parts)
                  for p in PKG.rglob("*.py") if p.name != "__main__.py")
    return [m[: -len(".__init__")] if m.endswith(".__init__") else m for m in mods]


def test_every_module_imports_first_without_a_cycle():
    """Every module of the package imported first (all nnqs_fast modules forgotten before each one) in a fresh
    interpreter: no circular-import error; a CPU module never pulls in nnqs_fast.gpu, a gpu module no other
    gpu module (each is imported only by the dispatcher, lazily)."""
    code = ("import importlib, sys\n"
            f"for m in {_modules()!r}:\n"
            "    for k in [k for k in sys.modules if k.startswith('nnqs_fast')]:\n"
            "        del sys.modules[k]\n"
            "    try:\n"
            "        importlib.import_module(m)\n"
            "    except ImportError as e:  # optional-library modules (nnqs_fast.netket, interop.jax/torch)\n"
            "        if type(e).__name__ != 'OptionalDependencyError':\n"
            "            raise\n"
            "        continue\n"
            "    gpu = sorted(k for k in sys.modules if k.startswith('nnqs_fast.gpu.') and k != m)\n"
            "    allowed = ['nnqs_fast.gpu._shim'] if m.startswith('nnqs_fast.gpu.') else []\n"
            "    assert gpu in ([], allowed), (m, gpu)\n"
            "print('ok')\n")
    assert _run(code).strip() == "ok"


def test_gpu_package_writes_no_private_state_of_cpu_objects():
    """No ``obj._name = ...`` / ``setattr`` on objects of other packages inside nnqs_fast/gpu."""
    for path in (PKG / "gpu").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, (ast.Assign, ast.AugAssign)):
                targets = node.targets if isinstance(node, ast.Assign) else [node.target]
                for t in targets:
                    if isinstance(t, ast.Attribute) and t.attr.startswith("_") and not t.attr.startswith("__"):
                        assert isinstance(t.value, ast.Name) and t.value.id == "self", (path.name, t.attr)
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "setattr":
                raise AssertionError(f"setattr in {path.name}")


# ---------------------------------------------------------------------------------------------- CLI
def test_entropy_backend_is_routed_through_the_dispatch(monkeypatch, fake, tmp_path):
    """``nnqs-fast entropy --backend cuda`` takes the CUDA path of wick_purity (the fake device) and gives the
    numbers of ``--backend cpu``; the JSON records the backend used."""
    from nnqs_fast import cli

    calls = []
    real = be.cuda_implementation("entanglement.wick_purity")

    def spy(*args, **kwargs):
        calls.append(kwargs["subsystem"])
        return real(*args, **kwargs)

    monkeypatch.setitem(be._CUDA_IMPLS, "entanglement.wick_purity", spy)
    common = ["entropy", "--network", "cosnet", "--sites", "5", "--members", "2", "--width", "40", "--quiet"]
    assert cli.main([*common, "--backend", "cuda", "--out", str(tmp_path / "gpu")]) == 0
    assert len(calls) == 4  # one Wick call per default cut 1..L-1, all through the CUDA implementation
    assert cli.main([*common, "--backend", "cpu", "--out", str(tmp_path / "cpu")]) == 0
    assert len(calls) == 4
    g = json.loads((tmp_path / "gpu" / "entropy.json").read_text())
    c = json.loads((tmp_path / "cpu" / "entropy.json").read_text())
    assert g["backend"] == "cuda" and c["backend"] == "cpu"
    np.testing.assert_allclose(g["results"]["wick_purity"], c["results"]["wick_purity"], rtol=1e-12)
    # an independent check of the routed numbers: the Haar-like closed form is not available for Cos-net, so
    # compare with the brute four-index Wick sum (the package's oracle path) at this small L
    from nnqs_fast.entanglement import cosnet_gp_kernel, wick_purity_brute

    k = cosnet_gp_kernel(1.0, np.sqrt(10.0), 5)
    brute = [wick_purity_brute(k, "same", n_sites=5, subsystem=list(range(j))).purity for j in range(1, 5)]
    np.testing.assert_allclose(g["results"]["wick_purity"], brute, rtol=1e-10)


# ---------------------------------------------------------------------------------------------- SpectralFlow
def test_spectral_flow_from_precomputed_eigendecomposition(rng):
    """SpectralFlow.from_eigh (the public way to hand in an eigendecomposition computed elsewhere, e.g. on a
    device): the propagator equals exp(-c H t) (scipy.linalg.expm oracle) and the PD checks still apply."""
    import scipy.linalg

    from nnqs_fast.dynamics._spectral import SpectralFlow
    from nnqs_fast.errors import KernelNotPositiveDefiniteError

    A = rng.standard_normal((7, 7))
    H = A @ A.T + 0.1 * np.eye(7)
    lam, V = np.linalg.eigh(H)
    flow = SpectralFlow.from_eigh(H, lam, V, 0.3, discrete=False)
    e0 = rng.standard_normal(7)
    P, _ = flow.factors(np.array([2.5]))
    np.testing.assert_allclose(flow.expand(P[:, 0] * flow.project(e0)), scipy.linalg.expm(-0.3 * 2.5 * H) @ e0,
                               rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(flow.solve(e0), np.linalg.solve(H, e0), rtol=1e-10)
    B = A + A.T
    lb, Vb = np.linalg.eigh(B)
    with pytest.raises(KernelNotPositiveDefiniteError, match="smallest eigenvalue"):
        SpectralFlow.from_eigh(B, lb, Vb, 0.3, discrete=False)
    with pytest.raises(KernelNotPositiveDefiniteError, match="non-finite"):
        SpectralFlow.from_eigh(H, np.r_[lam[:-1], np.nan], V, 0.3, discrete=False)


def test_area_without_gpu_module_has_no_cuda_implementation(monkeypatch):
    monkeypatch.setattr(be, "_CUDA_AREAS_LOADED", {})
    assert be.cuda_implementation("physics.nothing_here") is None
    assert be._CUDA_AREAS_LOADED["physics"] == "no module nnqs_fast.gpu.physics"
