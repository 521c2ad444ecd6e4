// Unit tests of the fused kernel passes (nnqs/kernels.hpp): the tiled ReLU recursion against a textbook scalar
// implementation (std::acos, divisions) and the exact diagonal closed form, stationary kernels against direct
// distances, the symmetric-tile modes, float32 vs float64, and thread-count independence.
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <random>
#include <vector>

#include "nnqs/common.hpp"
#include "nnqs/kernels.hpp"
#include "nnqs_test.hpp"

#if __has_include(<hwy/targets.h>)
#include <hwy/targets.h>
#endif

using nnqs::index_t;

namespace {

constexpr double kPi = 3.14159265358979323846;

// The NTK-parameterised ReLU NNGP/NTK written out as in the paper/neural-tangents (independent of
// kernel_math.hpp: std::acos, explicit divisions).
void textbook_relu(const double* x, const double* y, int d, int depth, double W, double b, double* nngp, double* ntk) {
  double dot = 0, n1 = 0, n2 = 0;
  for (int k = 0; k < d; ++k) {
    dot += x[k] * y[k];
    n1 += x[k] * x[k];
    n2 += y[k] * y[k];
  }
  double kxy = W * W * dot / d + b * b, kxx = W * W * n1 / d + b * b, kyy = W * W * n2 / d + b * b, th = kxy;
  for (int l = 0; l < depth; ++l) {
    const double s = std::sqrt(kxx * kyy);
    const double c = std::fmin(1.0, std::fmax(-1.0, kxy / s));
    const double t = std::acos(c);
    kxy = W * W * s * (std::sin(t) + (kPi - t) * std::cos(t)) / (2 * kPi) + b * b;
    th = kxy + W * W * (kPi - t) / (2 * kPi) * th;
    kxx = W * W * kxx / 2 + b * b;
    kyy = W * W * kyy / 2 + b * b;
  }
  *nngp = kxy;
  *ntk = th;
}

struct Data {
  int d;
  index_t n1, n2;
  std::vector<double> x1, x2, g, s1, s2;
};

Data make_data(index_t n1, index_t n2, int d, unsigned seed) {
  std::mt19937_64 gen(seed);
  std::normal_distribution<double> nd;
  Data D{d, n1, n2, {}, {}, {}, {}, {}};
  D.x1.resize(n1 * d);
  D.x2.resize(n2 * d);
  for (auto& v : D.x1) v = nd(gen);
  for (auto& v : D.x2) v = nd(gen);
  D.g.resize(n1 * n2);
  D.s1.assign(n1, 0.0);
  D.s2.assign(n2, 0.0);
  for (index_t i = 0; i < n1; ++i)
    for (int k = 0; k < d; ++k) D.s1[i] += D.x1[i * d + k] * D.x1[i * d + k];
  for (index_t j = 0; j < n2; ++j)
    for (int k = 0; k < d; ++k) D.s2[j] += D.x2[j * d + k] * D.x2[j * d + k];
  for (index_t i = 0; i < n1; ++i)
    for (index_t j = 0; j < n2; ++j) {
      double s = 0;
      for (int k = 0; k < d; ++k) s += D.x1[i * d + k] * D.x2[j * d + k];
      D.g[i * n2 + j] = s;
    }
  return D;
}

}  // namespace

TEST_CASE("relu_kernel_tile (Gram and on-the-fly) matches the textbook recursion") {
  const Data D = make_data(37, 53, 5, 1);
  for (int depth : {1, 3}) {
    std::vector<double> k(D.n1 * D.n2), t(D.n1 * D.n2), k2(D.n1 * D.n2), t2(D.n1 * D.n2);
    nnqs::relu_kernel_tile<double>(D.g.data(), D.n1, D.n2, D.s1.data(), D.s2.data(), k.data(), t.data(), D.n2, depth,
                                   1.3, 0.2, D.d, 0, nullptr, nullptr);
    nnqs::relu_kernel_tile<double>(nullptr, D.n1, D.n2, D.s1.data(), D.s2.data(), k2.data(), t2.data(), D.n2, depth,
                                   1.3, 0.2, D.d, 0, nullptr, nullptr, D.x1.data(), D.x2.data());
    double worst = 0;
    for (index_t i = 0; i < D.n1; ++i)
      for (index_t j = 0; j < D.n2; ++j) {
        double rk, rt;
        textbook_relu(&D.x1[i * D.d], &D.x2[j * D.d], D.d, depth, 1.3, 0.2, &rk, &rt);
        const index_t p = i * D.n2 + j;
        // relative, floored at 1e-2 (the kernels are O(0.1 - 1) here): an NTK entry near 0 is a cancellation
        // between K_1 and the carried Theta_0 = K_0 < 0, where an ulp of either is a large relative change
        worst = std::fmax(worst, std::fabs(k[p] - rk) / std::fmax(std::fabs(rk), 1e-2));
        worst = std::fmax(worst, std::fabs(t[p] - rt) / std::fmax(std::fabs(rt), 1e-2));
        worst = std::fmax(worst, std::fabs(k2[p] - rk) / std::fmax(std::fabs(rk), 1e-2));
        worst = std::fmax(worst, std::fabs(t2[p] - rt) / std::fmax(std::fabs(rt), 1e-2));
      }
    CHECK(worst < 1e-12);
  }
}

TEST_CASE("relu_kernel_tile symmetric diagonal tile: exactly symmetric, exact diagonal") {
  const Data D = make_data(70, 70, 4, 2);
  std::vector<double> g(70 * 70), k(70 * 70, -1.0), t(70 * 70, -1.0);
  // the same inputs on both sides
  Data S = D;
  S.x2 = S.x1;
  S.s2 = S.s1;
  for (index_t i = 0; i < 70; ++i)
    for (index_t j = 0; j < 70; ++j) {
      double s = 0;
      for (int q = 0; q < 4; ++q) s += S.x1[i * 4 + q] * S.x1[j * 4 + q];
      g[i * 70 + j] = s;
    }
  const double W = 0.8, b = 0.3, w2 = W * W, b2 = b * b, a = 0.5 * w2;
  const int depth = 2;
  nnqs::relu_kernel_tile<double>(g.data(), 70, 70, S.s1.data(), S.s1.data(), k.data(), t.data(), 70, depth, W, b, 4, 1,
                                 nullptr, nullptr);
  bool sym = true;
  for (index_t i = 0; i < 70; ++i)
    for (index_t j = 0; j < 70; ++j) sym = sym && k[i * 70 + j] == k[j * 70 + i] && t[i * 70 + j] == t[j * 70 + i];
  CHECK(sym);
  for (index_t i = 0; i < 70; i += 7) {
    const double k0 = w2 * S.s1[i] / 4 + b2;
    // K_L(x, x) = a^L K_0 + b^2 (1 - a^L) / (1 - a); Theta_L(x, x) = sum_l a^(L-l) K_l(x, x)
    double kl = k0, th = k0;
    for (int l = 1; l <= depth; ++l) {
      kl = std::pow(a, l) * k0 + b2 * (1 - std::pow(a, l)) / (1 - a);
      th = a * th + kl;
    }
    CHECK_CLOSE(k[i * 70 + i], kl, 1e-14, 0.0);
    CHECK_CLOSE(t[i * 70 + i], th, 1e-14, 0.0);
  }
}

TEST_CASE("relu_kernel_tile float32 storage agrees with float64") {
  const Data D = make_data(20, 30, 3, 3);
  std::vector<float> g(D.g.begin(), D.g.end()), s1(D.s1.begin(), D.s1.end()), s2(D.s2.begin(), D.s2.end());
  std::vector<float> kf(600), tf(600);
  std::vector<double> k(600), t(600);
  nnqs::relu_kernel_tile<float>(g.data(), 20, 30, s1.data(), s2.data(), kf.data(), tf.data(), 30, 2, 1.0, 0.1, 3, 0,
                                nullptr, nullptr);
  nnqs::relu_kernel_tile<double>(D.g.data(), 20, 30, D.s1.data(), D.s2.data(), k.data(), t.data(), 30, 2, 1.0, 0.1, 3,
                                 0, nullptr, nullptr);
  double worst = 0;
  for (int p = 0; p < 600; ++p) worst = std::fmax(worst, std::fabs(kf[p] - k[p]) / std::fabs(k[p]));
  CHECK(worst < 1e-5);
}

TEST_CASE("relu_kernel_tile is bit-identical for 1 and 2 OpenMP threads") {
  const Data D = make_data(300, 310, 6, 4);  // above the parallel threshold (2^16 elements)
  std::vector<double> k1(300 * 310), t1(300 * 310), k2(300 * 310), t2(300 * 310);
  nnqs::set_num_threads(1);
  nnqs::relu_kernel_tile<double>(D.g.data(), 300, 310, D.s1.data(), D.s2.data(), k1.data(), t1.data(), 310, 3, 0.5, 0.1,
                                 6, 0, nullptr, nullptr);
  nnqs::set_num_threads(2);
  nnqs::relu_kernel_tile<double>(D.g.data(), 300, 310, D.s1.data(), D.s2.data(), k2.data(), t2.data(), 310, 3, 0.5, 0.1,
                                 6, 0, nullptr, nullptr);
  nnqs::set_num_threads(0);
  CHECK(k1 == k2);
  CHECK(t1 == t2);
}

TEST_CASE("relu_kernel_tile: streaming stores (aligned, >= 2 MiB outputs) give the plain-store result exactly") {
  const index_t n = 520;  // 520^2 doubles = 2.06 MiB per output; symmetric (mode 1: both halves, mirror staging)
  const Data D = make_data(n, n, 5, 9);
  const std::size_t bytes = static_cast<std::size_t>(n * n) * sizeof(double);
  auto* k1 = static_cast<double*>(std::aligned_alloc(64, bytes));
  auto* t1 = static_cast<double*>(std::aligned_alloc(64, bytes));
  std::vector<double> k2(n * n, -1.0), t2(n * n, -1.0);
  for (index_t i = 0; i < n * n; ++i) k1[i] = t1[i] = std::nan("");  // every entry must be overwritten
  nnqs::relu_kernel_tile<double>(nullptr, n, n, D.s1.data(), D.s1.data(), k1, t1, n, 2, 0.5, 0.1, 5, 1, nullptr,
                                 nullptr, D.x1.data(), D.x1.data(), /*stream=*/true);
  nnqs::relu_kernel_tile<double>(nullptr, n, n, D.s1.data(), D.s1.data(), k2.data(), t2.data(), n, 2, 0.5, 0.1, 5, 1,
                                 nullptr, nullptr, D.x1.data(), D.x1.data(), /*stream=*/false);
  CHECK(std::memcmp(k1, k2.data(), bytes) == 0);
  CHECK(std::memcmp(t1, t2.data(), bytes) == 0);
  std::free(k1);
  std::free(t1);
}

#if __has_include(<hwy/targets.h>)
// Every SIMD target compiled into the core (SSE4, AVX2, AVX-512, ... that this CPU supports), selected one at a time
// through Highway's test hook: symmetric tiles (mirror staging and gathered copy-out, partial vectors and blocks)
// in float64 and float32 against the textbook recursion.
TEST_CASE("relu_kernel_tile: every compiled SIMD target matches the textbook recursion (symmetric, f64 and f32)") {
  const index_t n = 263;  // two 128-blocks and a partial one; odd: partial vectors
  const Data D = make_data(n, n, 5, 11);
  std::vector<float> x1f(D.x1.begin(), D.x1.end()), s1f(D.s1.begin(), D.s1.end());
  std::vector<double> rk(n * n), rt(n * n);
  for (index_t i = 0; i < n; ++i)
    for (index_t j = 0; j < n; ++j)
      textbook_relu(&D.x1[i * D.d], &D.x1[j * D.d], D.d, 2, 1.3, 0.2, &rk[i * n + j], &rt[i * n + j]);
  int tested = 0;
  for (int64_t target : hwy::SupportedAndGeneratedTargets()) {
    hwy::SetSupportedTargetsForTest(target);
    std::vector<double> k(n * n, std::nan("")), t(n * n, std::nan(""));
    std::vector<float> kf(n * n, std::nanf("")), tf(n * n, std::nanf(""));
    nnqs::relu_kernel_tile<double>(nullptr, n, n, D.s1.data(), D.s1.data(), k.data(), t.data(), n, 2, 1.3, 0.2, D.d, 1,
                                   nullptr, nullptr, D.x1.data(), D.x1.data());
    nnqs::relu_kernel_tile<float>(nullptr, n, n, s1f.data(), s1f.data(), kf.data(), tf.data(), n, 2, 1.3, 0.2, D.d, 1,
                                  nullptr, nullptr, x1f.data(), x1f.data());
    double w64 = 0, w32 = 0, scale = 0;
    for (index_t p = 0; p < n * n; ++p) scale = std::fmax(scale, std::fabs(rt[p]));
    for (index_t p = 0; p < n * n; ++p) {
      if (p % (n + 1) == 0) continue;  // the diagonal: exact in the core, arccos(1 - eps) in the textbook
      w64 = std::fmax(w64, std::fabs(k[p] - rk[p]) / std::fmax(std::fabs(rk[p]), 1e-2));
      w64 = std::fmax(w64, std::fabs(t[p] - rt[p]) / std::fmax(std::fabs(rt[p]), 1e-2));
      w32 = std::fmax(w32, std::fmax(std::fabs(kf[p] - rk[p]), std::fabs(tf[p] - rt[p])) / scale);
    }
    if (!(w64 < 1e-12 && w32 < 3e-5))
      std::printf("  target %s: float64 %.2e, float32 %.2e\n", hwy::TargetName(target), w64, w32);
    CHECK(w64 < 1e-12);  // (NaN fails: every entry written)
    CHECK(w32 < 3e-5);
    ++tested;
  }
  hwy::SetSupportedTargetsForTest(0);  // back to the CPU's own
  CHECK(tested >= 1);
}
#endif

TEST_CASE("stationary_tile equals amp exp(-scale |x - y|^2) (c0 + c1 x.y) from direct distances") {
  const Data D = make_data(11, 13, 4, 5);
  std::vector<double> out(11 * 13);
  nnqs::stationary_tile<double>(D.g.data(), 11, 13, D.s1.data(), D.s2.data(), out.data(), 13, 0.7, 0.3, 1.0, 0.5,
                                false);
  double worst = 0;
  for (index_t i = 0; i < 11; ++i)
    for (index_t j = 0; j < 13; ++j) {
      double r2 = 0, dot = 0;
      for (int q = 0; q < 4; ++q) {
        const double u = D.x1[i * 4 + q], v = D.x2[j * 4 + q];
        r2 += (u - v) * (u - v);
        dot += u * v;
      }
      const double ref = 0.7 * std::exp(-0.3 * r2) * (1.0 + 0.5 * dot);
      worst = std::fmax(worst, std::fabs(out[i * 13 + j] - ref) / (std::fabs(ref) + 1e-300));
    }
  CHECK(worst < 1e-12);
}

TEST_CASE("fused_ntk_tile, mirror_upper, combine_decoupled, relu_layer_features element-wise definitions") {
  const index_t r = 5, c = 5;
  std::vector<double> base(r * c), B(r * c), C(r * c), out(r * c, 0.0);
  for (index_t p = 0; p < r * c; ++p) {
    base[p] = 0.1 * p;
    B[p] = 1.0 + 0.01 * p;
    C[p] = 2.0 - 0.02 * p;
  }
  nnqs::fused_ntk_tile<double>(out.data(), c, r, c, base.data(), 2.0, 0.5, {B.data()}, {C.data()}, {3.0}, {0.25},
                               false);
  for (index_t p = 0; p < r * c; p += 3)
    CHECK_CLOSE(out[p], 2.0 * base[p] + 0.5 + B[p] * (3.0 * C[p] + 0.25), 1e-15, 0);
  std::vector<double> m(r * c);
  for (index_t p = 0; p < r * c; ++p) m[p] = static_cast<double>(p);
  nnqs::mirror_upper<double>(m.data(), r);
  for (index_t i = 0; i < r; ++i)
    for (index_t j = 0; j < r; ++j) CHECK(m[i * r + j] == static_cast<double>(std::min(i, j) * r + std::max(i, j)));
  std::vector<double> th(r * c), ph(r * c);
  nnqs::combine_decoupled<double>(base.data(), B.data(), th.data(), ph.data(), r * c);
  CHECK(th[7] == base[7] - B[7] && ph[7] == base[7] + B[7]);
  // z = bias + a0 wt with a0 = identity rows: z = {{-1, 0}, {2, 3}} (a zero pre-activation is "off").
  std::vector<double> a0 = {1.0, 0.0, 0.0, 1.0}, wt = {-2.0, -1.0, 1.0, 2.0}, bias = {1.0, 1.0};
  std::vector<double> h(4), dh(4), v = {1.0, 2.0};
  nnqs::relu_layer_features<double>(a0.data(), 2, wt.data(), bias.data(), v.data(), h.data(), dh.data(), 2, 2, 0.5,
                                    3.0);
  CHECK(h[0] == 0.0 && h[1] == 0.0 && h[2] == 1.0 && h[3] == 1.5);
  CHECK(dh[0] == 0.0 && dh[1] == 0.0 && dh[2] == 3.0 && dh[3] == 6.0);
  // Several column blocks of 512, several rows, in_dim 3: against the sum written out.
  const index_t R = 7, K = 3, N = 1100;
  std::vector<double> A(R * K), W(K * N), b(N), vv(N), H(R * N), D(R * N);
  for (index_t p = 0; p < R * K; ++p) A[p] = std::sin(0.7 * p + 0.1);
  for (index_t p = 0; p < K * N; ++p) W[p] = std::cos(0.37 * p);
  for (index_t j = 0; j < N; ++j) {
    b[j] = 0.1 * std::sin(1.3 * j);
    vv[j] = 1.0 + 0.001 * j;
  }
  nnqs::relu_layer_features<double>(A.data(), K, W.data(), b.data(), vv.data(), H.data(), D.data(), R, N, 2.0, 0.5);
  double worst = 0.0;
  for (index_t i = 0; i < R; ++i)
    for (index_t j = 0; j < N; ++j) {
      double z = b[j];
      for (index_t k = 0; k < K; ++k) z += A[i * K + k] * W[k * N + j];
      const double hr = z > 0 ? 2.0 * z : 0.0, dr = z > 0 ? 0.5 * vv[j] : 0.0;
      worst = std::fmax(worst, std::fabs(H[i * N + j] - hr) + std::fabs(D[i * N + j] - dr));
    }
  CHECK(worst < 1e-14);
}

NNQS_TEST_MAIN
