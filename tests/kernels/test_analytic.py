"""Analytic infinite-width kernels against independent oracles: direct numerical integration of the Gaussian
expectations (ReLU), the vectorised NumPy recursion, Monte Carlo over finite networks (ReLU, Cos-net, Gauss-net,
S16 -> S18), symmetry/limits, chunking, dtypes and bad input."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import integrate

import nnqs_fast as nf
from nnqs_fast.errors import DTypeError, InvalidInputError, NonFiniteError, ShapeMismatchError
from nnqs_fast.kernels.analytic import relu_kernels_numpy

PHI = lambda z: np.exp(-0.5 * z * z) / np.sqrt(2 * np.pi)  # noqa: E731


def _quad_relu_layer(K: np.ndarray) -> tuple[np.ndarray, float]:
    """(E[relu(u_a) relu(u_b)] 2x2, E[step(u_0) step(u_1)]) for (u_0, u_1) ~ N(0, K), by dblquad over the
    standard normal coordinates (u_0 = L00 z0, u_1 = L10 z0 + L11 z1), with the kinks as integration limits."""
    L = np.linalg.cholesky(K)
    hi = 9.0
    E = np.zeros((2, 2))
    E[0, 0] = integrate.quad(lambda z: (L[0, 0] * z) ** 2 * PHI(z), 0, hi)[0]
    E[1, 1] = K[1, 1] / 2 * 2 * integrate.quad(lambda z: z * z * PHI(z), 0, hi)[0]  # relu(u)^2 of N(0, K11)
    lo = lambda z0: -L[1, 0] * z0 / L[1, 1]  # noqa: E731  u_1 > 0
    E[0, 1] = E[1, 0] = integrate.dblquad(
        lambda z1, z0: L[0, 0] * z0 * (L[1, 0] * z0 + L[1, 1] * z1) * PHI(z0) * PHI(z1), 0, hi, lo, hi,
        epsabs=1e-11, epsrel=1e-10)[0]
    P = integrate.dblquad(lambda z1, z0: PHI(z0) * PHI(z1), 0, hi, lo, hi, epsabs=1e-12, epsrel=1e-10)[0]
    return E, P


def _quad_relu_kernels(x, y, depth, W_std, b_std):
    d = x.size
    X = np.stack([x, y])
    K = W_std ** 2 * X @ X.T / d + b_std ** 2
    T = K.copy()
    for _ in range(depth):
        E, P = _quad_relu_layer(K)
        Pm = np.array([[0.5, P], [P, 0.5]])  # E[step(u)^2] = 1/2
        K = W_std ** 2 * E + b_std ** 2
        T = W_std ** 2 * Pm * T + K
    return K[0, 1], T[0, 1], K[0, 0], T[0, 0]


@pytest.mark.parametrize("depth,W_std,b_std", [(1, 0.5, 0.1), (2, 1.4, 0.3)])
def test_relu_kernels_match_numerical_integration(depth, W_std, b_std, rng):
    x = rng.standard_normal((3, 4))
    x[2] = -0.7 * x[0] + 0.1 * x[1]  # an obtuse pair
    kf = nf.relu_kernel_fn(depth=depth, W_std=W_std, b_std=b_std)
    k = kf(x)
    for i, j in [(0, 1), (0, 2), (1, 2)]:
        nngp, ntk, nngp_ii, ntk_ii = _quad_relu_kernels(x[i], x[j], depth, W_std, b_std)
        assert k.nngp[i, j] == pytest.approx(nngp, rel=1e-7, abs=1e-10)
        assert k.ntk[i, j] == pytest.approx(ntk, rel=1e-7, abs=1e-10)
        assert k.nngp[i, i] == pytest.approx(nngp_ii, rel=1e-7)
        assert k.ntk[i, i] == pytest.approx(ntk_ii, rel=1e-7)


def test_relu_paper_network_closed_form_limits():
    """Depth 1, W_std = 0.5, b_std = 0.1: x' = x gives K0 = 0.25|x|^2/d + 0.01, nngp = 0.25 K0/2 + 0.01,
    ntk = 0.25 K0 / 2 + nngp; x' = -x (b_std = 0): nngp = b^2, ntk = nngp (t = pi)."""
    x = np.array([[1.0, -1.0, 1.0, 1.0]])
    k = nf.relu_kernel_fn()(x)
    K0 = 0.25 * 1 + 0.01
    assert k.nngp[0, 0] == pytest.approx(0.25 * K0 / 2 + 0.01, rel=1e-14)
    assert k.ntk[0, 0] == pytest.approx(0.25 * K0 / 2 + 0.25 * K0 / 2 + 0.01, rel=1e-14)
    k2 = nf.relu_kernel_fn(W_std=1.0, b_std=0.0)(x, -x)
    assert abs(k2.nngp[0, 0]) < 1e-15 and abs(k2.ntk[0, 0]) < 1e-15


@pytest.mark.parametrize("depth", [1, 2, 4])
def test_relu_core_matches_numpy_recursion(depth, rng):
    x = rng.standard_normal((97, 6)) * rng.uniform(0.1, 3, (97, 1))
    y = np.vstack([rng.standard_normal((20, 6)), x[:3], -x[3:6]])  # parallel and antiparallel pairs
    kf = nf.relu_kernel_fn(depth=depth, W_std=1.2, b_std=0.25)
    for a, b in [(x, None), (x, y)]:
        k = kf(a, b)
        ref_nngp, ref_ntk = relu_kernels_numpy(a, b, depth, 1.2, 0.25)
        # off-diagonal parallel pairs (cos t = 1 up to rounding) are ill-conditioned in any acos formula:
        # an O(eps) change of cos t moves t by O(sqrt(eps)); everything else agrees to rounding
        cols = np.ones(ref_ntk.shape[1], bool) if b is None else np.r_[np.ones(20, bool), np.zeros(6, bool)]
        np.testing.assert_allclose(k.nngp[:, cols], ref_nngp[:, cols], rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(k.ntk[:, cols], ref_ntk[:, cols], rtol=1e-12, atol=1e-14)
        np.testing.assert_allclose(k.ntk, ref_ntk, rtol=1e-7)


def test_relu_symmetric_psd_and_x2_consistency(rng):
    x = np.unique(rng.choice([-1.0, 1.0], (60, 8)), axis=0)  # distinct inputs: positive definite
    kf = nf.relu_kernel_fn()
    k = kf(x)
    assert np.array_equal(k.ntk, k.ntk.T) and np.array_equal(k.nngp, k.nngp.T)
    assert np.linalg.eigvalsh(k.ntk).min() > 0
    kxy = kf(x[:25], x[25:])
    np.testing.assert_allclose(kxy.ntk, k.ntk[:25, 25:], rtol=1e-7)  # duplicate-free but +-x pairs: see above


@pytest.mark.parametrize("chunk", [3, 7, 16, 59, 1000])
def test_chunking_does_not_change_results(chunk, rng):
    x = rng.standard_normal((59, 5))
    y = rng.standard_normal((23, 5))
    for kf in (nf.relu_kernel_fn(depth=2), nf.cosnet_kernel_fn(1.3, 0.8, "all"), nf.gaussnet_kernel_fn(0.9)):
        for b in (None, y):
            ref = kf(x, b)
            got = kf(x, b, chunk_size=chunk)
            np.testing.assert_allclose(got.ntk, ref.ntk, rtol=1e-13, atol=1e-15)
            np.testing.assert_allclose(got.nngp, ref.nngp, rtol=1e-13, atol=1e-15)


def test_float32_agrees_with_float64(rng):
    x = rng.standard_normal((40, 6))
    for kf in (nf.relu_kernel_fn(depth=3, W_std=1.1), nf.cosnet_kernel_fn(), nf.gaussnet_kernel_fn()):
        k64 = kf(x, get="ntk")
        k32 = kf(x.astype(np.float32), get="ntk")
        assert k32.dtype == np.float32 and k64.dtype == np.float64
        np.testing.assert_allclose(k32, k64, rtol=2e-5, atol=2e-6 * np.abs(k64).max())


def test_get_forms(rng):
    x = rng.standard_normal((5, 3))
    kf = nf.relu_kernel_fn()
    both = kf(x)
    assert both._fields == ("nngp", "ntk")
    rev = kf(x, get=("ntk", "nngp"))
    assert rev._fields == ("ntk", "nngp") and np.array_equal(rev.ntk, both.ntk)
    assert np.array_equal(kf(x, get="nngp"), both.nngp)


def _relu_mc(x, width, seeds):
    ks = np.stack([nf.empirical_ntk(nf.init_relu(s, x.shape[1], width), x) for s in seeds])
    return ks


def test_relu_monte_carlo_converges_like_inverse_sqrt_width(rng):
    """Empirical NTKs of finite networks -> the analytic NTK; per-network error ~ 1/sqrt(N) over 3 widths and the
    seed-average within its standard error."""
    x = rng.choice([-1.0, 1.0], (4, 12))
    ref = nf.relu_kernel_fn()(x, get="ntk")
    rms = []
    widths = [64, 256, 1024]
    for N in widths:
        ks = _relu_mc(x, N, range(40))
        dev = ks - ref
        rms.append(np.sqrt((dev ** 2).mean()))
        mean_err = np.abs(ks.mean(0) - ref).max()
        assert mean_err < 5 * rms[-1] / np.sqrt(40) + 2.0 / N  # fluctuation + O(1/N) finite-width bias
    scaled = np.array(rms) * np.sqrt(widths)
    assert rms[0] > rms[1] > rms[2]
    assert scaled.max() / scaled.min() < 1.6, scaled  # flat: error ~ N^(-1/2)
    slope = np.polyfit(np.log(widths), np.log(rms), 1)[0]
    assert -0.7 < slope < -0.3


@pytest.mark.parametrize("trainable", ["last", "all"])
def test_cosnet_and_gaussnet_ntk_monte_carlo(trainable, rng):
    x = 0.4 * rng.standard_normal((5, 3))
    M, N = 30, 3000
    for kf, init, kw in ((nf.cosnet_kernel_fn(1.5, 1.2, trainable), nf.init_cosnet, dict(sigma_a=1.5, sigma_w=1.2)),
                         (nf.gaussnet_kernel_fn(1.1, 1.3, trainable), nf.init_gaussnet, dict(sigma=1.1, sigma_a=1.3))):
        ks = np.stack([nf.empirical_ntk(init(s, 3, N, **kw), x, trainable=trainable) for s in range(M)])
        ref = kf(x, get="ntk")
        se = ks.std(0) / np.sqrt(M)
        assert np.all(np.abs(ks.mean(0) - ref) < 5 * se + 1e-3)
        if trainable == "last":
            np.testing.assert_allclose(ref, kf(x, get="nngp"), rtol=1e-15)  # Case 1: NTK = NNGP


@pytest.mark.parametrize("act", ["relu", "erf"])
def test_s18_limit_of_s16_network(act, rng):
    x = 0.8 * rng.standard_normal((4, 2))
    q = nf.complex_single_qsntk(x, activation=act)
    assert np.all(q.theta == 0) and q.decoupled
    M, N = 30, 3000
    phis = np.stack([nf.empirical_qsntk(nf.init_complex_single(s, 2, N, activation=act), None, x).phi
                     for s in range(M)])
    se = np.abs(phis).std(0) / np.sqrt(M)
    assert np.all(np.abs(phis.mean(0) - q.phi) < 5 * se + 1e-3)
    thetas = np.stack([nf.empirical_qsntk(nf.init_complex_single(s, 2, N, activation=act), None, x).theta
                       for s in range(5)])
    assert np.abs(thetas).max() < 10 * np.abs(q.phi).max() / np.sqrt(N)  # Theta_N = O(1/sqrt(N)) -> 0


def test_decoupled_qsntk(rng):
    x = rng.standard_normal((10, 4))
    k1 = nf.relu_kernel_fn()(x, get="ntk")
    k2f = nf.relu_kernel_fn(depth=2, W_std=1.0)
    k2 = k2f(x, get="ntk")
    q = nf.decoupled_qsntk(x, kernel_fn2=k2f)
    np.testing.assert_allclose(q.theta, k1 - k2, rtol=1e-14)
    np.testing.assert_allclose(q.phi, k1 + k2, rtol=1e-14)
    assert q.decoupled and not np.iscomplexobj(q.theta)
    q0 = nf.decoupled_qsntk(x)
    assert np.all(q0.theta == 0)


def test_bad_input_raises_named_errors(rng):
    kf = nf.relu_kernel_fn()
    x = rng.standard_normal((4, 3))
    with pytest.raises(ShapeMismatchError):
        kf(x, rng.standard_normal((4, 2)))
    with pytest.raises(ShapeMismatchError):
        kf(x[0])
    with pytest.raises(NonFiniteError):
        kf(np.where(np.eye(4, 3) > 0, np.nan, x))
    with pytest.raises(DTypeError):
        kf(x + 1j)
    with pytest.raises(DTypeError):
        kf(x, dtype=np.int32)
    with pytest.raises(InvalidInputError):
        kf(x, get="foo")
    with pytest.raises(InvalidInputError):
        kf(x, chunk_size=0)
    with pytest.raises(InvalidInputError):
        nf.relu_kernel_fn(depth=0)
    with pytest.raises(InvalidInputError):
        nf.cosnet_kernel_fn(trainable="first")
    with pytest.raises(ShapeMismatchError):
        nf.cosnet_kernel_fn()(x[0])


def test_memory_limit_is_enforced(monkeypatch, rng):
    from nnqs_fast import _validation
    from nnqs_fast.errors import MemoryLimitError

    monkeypatch.setattr(_validation, "DEFAULT_MAX_BYTES", 1000)
    x = rng.standard_normal((20, 3))
    with pytest.raises(MemoryLimitError):
        nf.relu_kernel_fn()(x)
    with pytest.raises(MemoryLimitError):
        nf.empirical_ntk(nf.init_relu(0, 3, 5), x)


@pytest.mark.parametrize("d", [12, 80])
@pytest.mark.parametrize("sym", [True, False])
def test_relu_gram_paths_on_the_fly_and_blas_agree_with_numpy(d, sym, monkeypatch):
    """Small d forms x1.x2 inside the fused C++ pass, large d via a BLAS Gram tile; both match the NumPy formula,
    and forcing the other path on the same inputs gives the same kernels (odd tile sizes included)."""
    from nnqs_fast.kernels import analytic

    g = np.random.default_rng(d)
    x1 = g.standard_normal((37, d))
    x2 = None if sym else g.standard_normal((29, d))
    ref = analytic.relu_kernels_numpy(x1, x2, 2, 0.7, 0.2)
    kf = analytic.relu_kernel_fn(depth=2, W_std=0.7, b_std=0.2)
    k = kf(x1, x2, chunk_size=11, backend="cpu")
    np.testing.assert_allclose(k.nngp, ref[0], rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(k.ntk, ref[1], rtol=1e-10, atol=1e-12)
    monkeypatch.setattr(analytic, "_ON_THE_FLY_MAX_DIM", 0 if d <= 64 else 10_000)
    k2 = kf(x1, x2, chunk_size=11, backend="cpu")
    np.testing.assert_allclose(k2.ntk, k.ntk, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(k2.nngp, k.nngp, rtol=1e-12, atol=1e-14)
