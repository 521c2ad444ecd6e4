"""Regression tests: every example of issue 11 ("Nothing silent, nothing lost"), item by item.

Each test states the old behaviour and checks the new one against an independent oracle or invariant. Cases that
used to crash or exhaust memory run in a subprocess with an address-space cap (fuzz_harness.Worker), so a
regression is a failed test, not a dead test run.
"""

from __future__ import annotations

import json
import math
import os
import signal
import subprocess
import sys
import time
import warnings
from pathlib import Path

import fuzz_harness
import numpy as np
import pytest

import nnqs_fast as nf
from nnqs_fast import errors

REPO = fuzz_harness.REPO


def _psi(n_sites: int = 6, seed: int = 0) -> np.ndarray:
    r = np.random.default_rng(seed)
    v = r.normal(size=2**n_sites) + 1j * r.normal(size=2**n_sites)
    return v / np.linalg.norm(v)


def _isolated(code: str, *, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    """Run ``code`` in a capped child (3 GiB address space); a segfault shows up as a negative return code."""
    return subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout,
                          env=fuzz_harness.worker_env(env), preexec_fn=fuzz_harness._limit_child, cwd=str(REPO))


def _named_outcome(code: str, **kw: object) -> str:
    """The child prints the name of the exception class (or OK); it must exit normally."""
    wrapped = ("import warnings\nwarnings.simplefilter('error', RuntimeWarning)\n"
               "try:\n" + "\n".join("    " + line for line in code.strip().splitlines())
               + "\n    print('OK')\nexcept Exception as exc:\n    print(type(exc).__module__, type(exc).__name__)\n")
    p = _isolated(wrapped, **kw)  # type: ignore[arg-type]
    assert p.returncode == 0, f"child died with {p.returncode}: {p.stderr[-800:]}"
    return p.stdout.strip().splitlines()[-1]


# ------------------------------------------------------------------------------------------- crashes / hangs
def test_make_step_threads_100000_is_clamped_not_a_segfault():
    out = _named_outcome("""
import nnqs_fast as nf, numpy as np, warnings
p = nf.init_relu(0, 4, 8); x = np.sign(np.random.default_rng(0).normal(size=(8, 4)))
s = nf.make_step(p, x, np.ones(8) * 0.1, 0.1)
with warnings.catch_warnings(record=True) as w:
    warnings.simplefilter('always')
    s.threads = 100000
assert any(issubclass(i.category, nf.errors.ResourceLimitWarning) for i in w)
r = s.run(5, [0, 4])
assert np.all(np.isfinite(r.train_loss)) and s.threads <= 1024
""")
    assert out == "OK"


def test_omp_num_threads_100000_with_relu_kernel_fn():
    out = _named_outcome("""
import warnings, numpy as np
with warnings.catch_warnings(record=True):
    warnings.simplefilter('always')
    import nnqs_fast as nf
    x = np.sign(np.random.default_rng(0).normal(size=(40, 5)))
    k = nf.relu_kernel_fn()(x, None, 'ntk')
    ref = nf.kernels.analytic.relu_kernels_numpy(x, None, 1, 0.5, 0.1)[1]
assert np.allclose(k, ref, rtol=1e-10, atol=1e-12)
""", env={"OMP_NUM_THREADS": "100000"})
    assert out == "OK"


@pytest.mark.parametrize("call", [
    "nf.init_relu(0, 3, 10**9)",
    "nf.train_ensemble(np.ones((4, 2)), np.ones(4), width=10**9, n_members=1, n_steps=1, quiet=True)",
    "nf.train_ensemble(np.ones((4, 2)), np.ones(4), width=8, n_members=10**8, n_steps=1, quiet=True)",
    "nf.sample_nnqs_state('cosnet', n_sites=4, width=10**9, seed=0)",
    "nf.sample_nnqs_state('relu', n_sites=26, width=8, seed=0)",
    "nf.wick_purity(nf.rbf_kernel(1.0, 0.3), n_sites=10**9, subsystem=2)",
    "nf.relu_kernel_fn(depth=10**9)(np.ones((3, 4)))",
])
def test_oversized_requests_are_refused_before_allocating(call):
    assert _named_outcome(f"import nnqs_fast as nf, numpy as np\n{call}") == "nnqs_fast.errors MemoryLimitError"


@pytest.mark.parametrize("call", [
    "nf.wick_purity(nf.relu_nngp_kernel(4, depth=10**9), n_sites=4, subsystem=2)",
    "nf.wick_purity_partial_trace(nf.relu_nngp_kernel(4, depth=10**9), n_sites=4, subsystem=2)",
    "nf.make_target('tfim', lx=2, ly=2, tau=1e9)",
])
def test_hours_long_computations_are_refused_by_their_cost_estimate(call):
    t0 = time.perf_counter()
    assert _named_outcome(f"import nnqs_fast as nf, numpy as np\n{call}") == "nnqs_fast.errors CostLimitError"
    assert time.perf_counter() - t0 < 120  # (loose: the machine is shared) — it used to run for minutes


# ------------------------------------------------------------------------------------------ silent wrong
def test_renyi_300_is_stable():
    psi = _psi()
    p = nf.entanglement_spectrum(psi, 3)
    n = 300
    # oracle: factor out the largest eigenvalue by hand (independent of the package's log-sum-exp)
    pm = p.max()
    ref = (n * math.log(pm) + math.log(np.sum((p / pm) ** n))) / (1 - n)
    got = nf.renyi_entropy(psi, 3, n=n)
    assert math.isfinite(got) and got == pytest.approx(ref, rel=1e-12)
    assert 0 <= got <= math.log(8)


def test_nan_atol_is_refused():
    with pytest.raises(errors.NonFiniteError, match="atol"):
        nf.entanglement_entropy(3 * _psi(), 6 // 2, atol=math.nan)
    with pytest.raises(errors.InvalidInputError, match="not normalised"):
        nf.entanglement_entropy(3 * _psi(), 3)


def test_entropy_from_spectrum_refuses_a_non_density_spectrum():
    with pytest.raises(errors.InvalidInputError, match="negative"):
        nf.entropy_from_spectrum([2.0, -1.0])
    with pytest.raises(errors.InvalidInputError, match="sums to"):
        nf.entropy_from_spectrum([0.5, 0.1])
    assert nf.entropy_from_spectrum([0.5, 0.5]) == pytest.approx(math.log(2))


def test_max_learning_rate_refuses_an_indefinite_kernel():
    with pytest.raises(errors.KernelNotPositiveDefiniteError):
        nf.qsntk_eta_max(np.diag([1.0, -1.0]))
    assert nf.qsntk_eta_max(np.diag([1.0, 2.0])) == pytest.approx(1.0)  # n / lambda_max = 2 / 2


def test_discrete_gd_limit_above_eta_max_raises_like_finite_t():
    K = np.diag([1.0, 2.0, 3.0])
    pred = nf.qsntk_mse_predictor(K, np.ones(3), 10 * nf.qsntk_eta_max(K), discrete=True)
    with pytest.raises(errors.LearningRateTooLargeError):
        pred(5)
    with pytest.raises(errors.LearningRateTooLargeError):
        pred(None)


def test_negative_nngp_cannot_give_negative_l_gamma():
    K = np.eye(4)
    with pytest.raises(errors.KernelNotPositiveDefiniteError):
        nf.qsntk_mse_ensemble(-K, K, np.ones(4), 0.5).losses(10)
    out = nf.qsntk_mse_ensemble(K, K, np.ones(4), 0.5).losses(10)
    assert np.all(np.asarray(out["L_gamma_train"]) >= 0)


def test_relu_kernel_b_std_zero_on_a_zero_row_is_exactly_zero():
    x = np.sign(np.random.default_rng(0).normal(size=(5, 4)))
    x[0] = 0
    k = nf.relu_kernel_fn(b_std=0.0)(x, None, ("nngp", "ntk"))
    # oracle: with b_std = 0 the zero input's pre-activations vanish at every layer, so its rows are 0;
    # the other entries are the NumPy reference recursion on the non-zero rows
    ref_nngp, ref_ntk = nf.kernels.analytic.relu_kernels_numpy(x[1:], None, 1, 0.5, 0.0)
    for got, ref in ((k.nngp, ref_nngp), (k.ntk, ref_ntk)):
        assert np.all(np.isfinite(got))
        assert np.all(got[0] == 0) and np.all(got[:, 0] == 0)
        assert np.allclose(got[1:, 1:], ref, rtol=1e-10)


def test_nan_weights_are_refused_everywhere():
    p = nf.init_relu(0, 4, 8)
    W0 = p.weights[0].copy()
    W0[0, 0] = np.nan
    bad = nf.ReLUParams((W0, p.weights[1]), p.biases, p.W_std, p.b_std)
    x = np.ones((3, 4))
    for f in (lambda: nf.apply_relu(bad, x), lambda: nf.empirical_ntk(bad, x),
              lambda: nf.make_step(bad, x, np.ones(3), 0.1, backend="cpu"),
              lambda: nf.make_step(bad, x, np.ones(3), 0.1, backend="numpy")):
        with pytest.raises(errors.NonFiniteError):
            f()


def test_cpp_and_numpy_steps_both_report_divergence():
    p = nf.init_relu(0, 4, 8)
    x = np.sign(np.random.default_rng(0).normal(size=(8, 4)))
    for backend in ("cpu", "numpy"):
        s = nf.make_step(p, x, np.ones(8), 1e3, backend=backend)
        with pytest.warns(errors.PrecisionLossWarning, match="diverged"):
            r = s.run(50, [0, 10, 49])
        assert r.status == 2


def test_integer_and_complex_inputs_to_real_networks():
    p = nf.init_relu(0, 4, 8)
    x = np.ones((3, 4))
    with pytest.raises(errors.DTypeError):
        nf.apply_relu(p, x + 1j)
    with pytest.raises(errors.DTypeError):
        nf.apply_relu(nf.ReLUParams(tuple(w.astype(np.int64) for w in p.weights), p.biases, 0.5, 0.1), x)
    with pytest.raises(errors.DTypeError):
        nf.init_relu(0, 4, 8, dtype=np.int64)
    cp = nf.init_cosnet(0, 4, 8)
    with pytest.raises(errors.DTypeError):
        nf.apply_cosnet(cp, x + 1j)


def test_uint64_basis_code_does_not_wrap():
    with pytest.raises(errors.InvalidInputError):
        nf.encode_spins(np.array([2**64 - 1], dtype=np.uint64), 4)
    assert np.array_equal(nf.encode_spins(np.array([3], dtype=np.uint64), 2), [[1.0, 1.0]])


def test_float_indices_and_record_steps_are_not_truncated():
    psi = _psi(2)
    with pytest.raises(errors.InvalidInputError, match="integers"):
        nf.assemble_state([0.5, 2], [1, 3], psi[[0, 2]], psi[[1, 3]])
    out = nf.assemble_state(np.array([0.0, 2.0]), [1, 3], psi[[0, 2]], psi[[1, 3]])  # integral floats are fine
    assert np.allclose(out, psi)
    p = nf.init_relu(0, 4, 8)
    s = nf.make_step(p, np.ones((3, 4)), np.ones(3), 0.1)
    with pytest.raises(errors.InvalidInputError):
        s.run(5, [0, 2.5])
    with pytest.raises(errors.InvalidInputError):
        nf.train_ensemble(np.ones((3, 4)), np.ones(3), width=8, n_members=1, n_steps=4, record_steps=[0, 2.5, 4],
                          quiet=True)


def test_renyi_dash_2_is_refused_in_the_api_and_the_cli(tmp_path):
    with pytest.raises(errors.InvalidInputError, match="ambiguous"):
        nf.parse_entropy_kind("renyi-2")
    assert nf.parse_entropy_kind("renyi2") == ("renyi2", "renyi", 2.0)
    p = subprocess.run([sys.executable, "-m", "nnqs_fast.cli", "entropy", "--sites", "4", "--width", "8",
                        "--members", "2", "--kinds", "renyi-2", "--quiet", "--out", str(tmp_path)],
                       capture_output=True, text=True, env=fuzz_harness.worker_env(), timeout=120)
    assert p.returncode == 2 and "Traceback" not in p.stderr and "ambiguous" in p.stderr


def test_wick_from_matrices_needs_a_covariance():
    with pytest.raises(errors.KernelNotPositiveDefiniteError):
        nf.wick_purity_from_matrices(-np.eye(16), n_sites=4, subsystem=2)
    asym = np.eye(16) + np.triu(np.ones((16, 16)), 1)
    with pytest.raises(errors.InvalidInputError, match="symmetric"):
        nf.wick_purity_from_matrices(asym, n_sites=4, subsystem=2)
    # oracle: K = identity is i.i.d. amplitudes, whose Wick purity is the Haar value (D_A + D_B)/(D_A D_B + 1)
    r = nf.wick_purity_from_matrices(np.eye(16), n_sites=4, subsystem=2)
    assert r.purity == pytest.approx(8 / 17)


def test_three_spin_values_are_refused():
    for f in (nf.wick_purity, nf.wick_purity_brute, nf.wick_purity_partial_trace, nf.wick_purity_hamming):
        with pytest.raises(errors.InvalidInputError):
            f(nf.rbf_kernel(1.0, 0.3), n_sites=4, subsystem=2, spin_values=(-1, 0, 1))
    with pytest.raises(errors.InvalidInputError):
        nf.spin_basis_inputs(3, (-1, 0, 1))


def test_wick_relu_depth_beyond_int32_is_refused_not_wrapped():
    with pytest.raises(errors.InvalidInputError):
        nf.relu_nngp_kernel(4, depth=2**31)
    with pytest.raises(errors.InvalidInputError):
        nf.GPKernel("relu", (0.5, 0.1, float(2**40), 4.0))


def test_kernel_fn_returning_the_wrong_shape_is_refused():
    x = np.ones((5, 3))
    with pytest.raises(errors.ShapeMismatchError):
        nf.decoupled_qsntk(x, kernel_fn=lambda a, b=None, get=None, **kw: np.zeros((2, 2)))


# --------------------------------------------------------------------------------------- generic exceptions
def test_relu_kernel_fn_depth_2_31_is_a_named_error():
    with pytest.raises(errors.InvalidInputError, match="depth"):
        nf.relu_kernel_fn(depth=2**31)


def test_get_twice_is_a_named_error():
    with pytest.raises(errors.InvalidInputError, match="more than once"):
        nf.relu_kernel_fn()(np.ones((3, 2)), None, ["nngp", "nngp"])


def test_huge_scales_are_named_errors():
    for f in (lambda: nf.cosnet_kernel_fn(sigma_w=1e200), lambda: nf.relu_kernel_fn(W_std=1e200),
              lambda: nf.cosnet_gp_kernel(1.0, 1e200, 4)):
        with pytest.raises(errors.InvalidInputError):
            f()


def test_haar_purity_of_huge_dimensions():
    assert nf.haar_purity(10**200, 10**200) == pytest.approx(2e-200, rel=1e-12)
    assert nf.haar_purity(2, 3) == pytest.approx(5 / 7)


def test_fidelity_of_scalars_is_a_named_error():
    with pytest.raises(errors.ShapeMismatchError):
        nf.fidelity(1.0, 1.0)
    assert nf.fidelity(np.ones(4) * 1e300, np.ones(4)) == pytest.approx(1.0)


def test_repr_of_a_40000_site_wick_result():
    r = nf.wick_purity(nf.rbf_kernel(1.0, 0.3), n_sites=40000, subsystem=20000)
    s = repr(r)
    assert "dim_a=2**20000" in s
    assert 0.0 <= r.haar_purity <= 1.0


def test_core_invalid_argument_does_not_leak():
    # relu_kernel_fn used to pass depth/scale straight to the core, which raised CoreInvalidArgument
    for f in (lambda: nf.relu_kernel_fn(depth=0), lambda: nf.relu_kernel_fn(W_std=-1.0)):
        with pytest.raises(errors.NnqsError):
            f()


def test_max_bytes_env_written_as_1e9_does_not_break_import():
    out = _named_outcome("import nnqs_fast\nfrom nnqs_fast._validation import max_bytes\nassert max_bytes() == 10**9",
                         env={"NNQS_FAST_MAX_BYTES": "1e9"})
    assert out == "OK"
    out = _named_outcome("import nnqs_fast\nfrom nnqs_fast._validation import check_memory\ncheck_memory(1, 'x')",
                         env={"NNQS_FAST_MAX_BYTES": "lots"})
    assert out == "nnqs_fast.errors InvalidInputError"


# ------------------------------------------------------------------------------------------------ CLI / files
def _cli(args: list[str], timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "nnqs_fast.cli", *args], capture_output=True, text=True,
                          env=fuzz_harness.worker_env(), timeout=timeout, cwd=str(REPO))


@pytest.mark.parametrize("where", ["existing-file", "under-file", "unwritable"])
@pytest.mark.parametrize("cmd", [["reproduce", "fig2"], ["targets", "--lx", "2", "--ly", "2"]])
def test_out_is_checked_before_any_work(tmp_path, where, cmd):
    f = tmp_path / "f"
    f.write_text("")
    out = {"existing-file": f, "under-file": f / "sub", "unwritable": Path("/proc/nnqs_fuzz")}[where]
    t0 = time.perf_counter()
    p = _cli([*cmd, "--quiet", "--out", str(out)])
    assert p.returncode == 2
    assert "Traceback" not in p.stderr and "OutputPathError" in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1
    assert time.perf_counter() - t0 < 60  # fig2 used to fail only after 46 s of work


@pytest.mark.parametrize("kind", ["truncated", "corrupt", "empty", "0d", "2d", "missing", "pickle"])
def test_bad_state_files_give_one_line_named_errors(tmp_path, kind):
    f = tmp_path / "s.npz"
    good = _psi(4)
    if kind == "truncated":
        np.savez(f, psi=good)
        f.write_bytes(f.read_bytes()[:200])
    elif kind == "corrupt":
        f.write_bytes(b"PK\x03\x04" + b"garbage" * 20)
    elif kind == "empty":
        f.write_bytes(b"")
    elif kind == "0d":
        np.savez(f, psi=np.float64(1.0))
    elif kind == "2d":
        np.savez(f, psi=np.ones((4, 4)))
    elif kind == "pickle":
        np.savez(f, psi=np.array([object()], dtype=object))
    p = _cli(["entropy", "--state", str(f), "--quiet", "--out", str(tmp_path / "o")])
    assert p.returncode == 2, p.stderr
    assert "Traceback" not in p.stderr and "error:" in p.stderr
    assert len(p.stderr.strip().splitlines()) == 1


def test_targets_huge_coupling_is_a_named_error(tmp_path):
    p = _cli(["targets", "--lx", "2", "--ly", "2", "--J", "1e308", "--quiet", "--out", str(tmp_path)])
    assert p.returncode == 2 and "Traceback" not in p.stderr and "error:" in p.stderr


def test_sigint_during_save_never_leaves_a_partial_file(tmp_path):
    """Interrupt a process that is writing a large NPZ through save_results: afterwards the directory holds
    either no result or complete, loadable JSON + NPZ — never a truncated file (temporary files excepted)."""
    code = (
        "import numpy as np, sys\n"
        "from nnqs_fast.experiments.io import save_results\n"
        "a = np.random.default_rng(0).normal(size=(4_000_000,))\n"
        "print('ready', flush=True)\n"
        "for i in range(1000):\n"
        "    save_results(sys.argv[1], 'r', config={'i': i}, results={'i': i}, arrays={'a': a + i})\n"
    )
    for delay in (0.3, 0.9):
        out = tmp_path / f"d{delay}"
        p = subprocess.Popen([sys.executable, "-c", code, str(out)], stdout=subprocess.PIPE, text=True,
                             env=fuzz_harness.worker_env())
        assert p.stdout is not None and p.stdout.readline().strip() == "ready"
        time.sleep(delay)
        p.send_signal(signal.SIGINT)
        p.wait(timeout=120)
        p.stdout.close()
        files = sorted(x.name for x in out.iterdir() if not x.name.endswith(".tmp")) if out.exists() else []
        if "r.npz" in files:
            with np.load(out / "r.npz") as d:
                assert d["a"].shape == (4_000_000,)
        if "r.json" in files:
            meta = json.loads((out / "r.json").read_text())
            assert meta["results"]["i"] == meta["config"]["i"]
        assert not [x for x in (out.iterdir() if out.exists() else []) if x.name.endswith(".tmp")], \
            "a temporary file was left behind"


# ------------------------------------------------------------------------------------------------ determinism
def test_wick_partial_trace_uncompressed_is_run_to_run_identical():
    k = nf.rbf_kernel(1.0, 0.3)
    runs = {nf.wick_purity_partial_trace(k, n_sites=10, subsystem=5, compress=False).purity for _ in range(4)}
    assert len(runs) == 1
    # and it agrees with the compressed path and the brute-force oracle
    ref = nf.wick_purity_brute(k, n_sites=8, subsystem=4).purity
    assert nf.wick_purity_partial_trace(k, n_sites=8, subsystem=4, compress=False).purity == pytest.approx(ref)


def test_named_warnings_are_warnings():
    assert issubclass(errors.ResourceLimitWarning, UserWarning)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        nf.haar_purity(2, 2)
    _ = os
