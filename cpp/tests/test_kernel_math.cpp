// Unit tests of nnqs/kernel_math.hpp against independent oracles: std::acos, closed forms of the arc-cosine
// kernel at known angles, Gaussian integrals by quadrature (ReLU NNGP/NTK, Cos-net, Gauss-net), direct
// distances.
#include <cmath>
#include <cstring>
#include <vector>

#include "nnqs/kernel_math.hpp"
#include "nnqs_test.hpp"
#include "quadrature.hpp"

using nnqs::KernelFamily;
using nnqs::KernelSpec;
namespace km = nnqs::km;
using nnqs_test::kPi;

TEST_CASE("acos_poly matches std::acos on [-1, 1]") {
  double worst = 0.0;
  const int n = 200000;
  for (int i = 0; i <= n; ++i) {
    const double c = -1.0 + 2.0 * i / n;
    worst = std::fmax(worst, std::fabs(km::acos_poly(c) - std::acos(c)));
  }
  for (double c : {-1.0, -0.5, -1e-300, 0.0, 1e-17, 0.5, std::nextafter(0.5, 1.0), 1.0 - 1e-16, 1.0}) {
    worst = std::fmax(worst, std::fabs(km::acos_poly(c) - std::acos(c)));
  }
  CHECK(worst <= 2e-15);
  CHECK(km::acos_poly(1.0) == 0.0);
  CHECK_CLOSE(km::acos_poly(-1.0), kPi, 0.0, 1e-15);
}

TEST_CASE("one ReLU layer at known angles (closed forms, W=1, b=0, unit variances)") {
  // E[relu(u) relu(v)] = (sin t + (pi - t) cos t) / (2 pi), E[step step] = (pi - t) / (2 pi)
  struct Angle {
    double c, e_relu, e_step;
  };
  const Angle angles[] = {
      {1.0, 0.5, 0.5},
      {0.5, (std::sqrt(3.0) / 2.0 + (2.0 * kPi / 3.0) * 0.5) / (2.0 * kPi), (2.0 * kPi / 3.0) / (2.0 * kPi)},
      {0.0, 1.0 / (2.0 * kPi), 0.25},
      {-0.5, (std::sqrt(3.0) / 2.0 - (kPi / 3.0) * 0.5) / (2.0 * kPi), (kPi / 3.0) / (2.0 * kPi)},
      {-1.0, 0.0, 0.0},
  };
  for (const Angle& a : angles) {
    double k = a.c, kxx = 1.0, kyy = 1.0, th = 1.0;  // Theta_0 = 1 isolates E[step step]
    km::relu_layer(k, kxx, kyy, th, 1.0, 0.0);
    CHECK_CLOSE(k, a.e_relu, 1e-14, 1e-16);
    CHECK_CLOSE(th - k, a.e_step, 1e-14, 1e-16);
    CHECK_CLOSE(kxx, 0.5, 0.0, 0.0);
  }
}

TEST_CASE("ReLU NNGP/NTK depth 1-2 equal Gaussian integrals (quadrature)") {
  const double W = 1.3, b = 0.2, d = 3.0;
  const double x[3] = {0.3, -1.1, 0.7}, y[3] = {-0.4, -0.9, 1.5};
  double dot = 0, n1 = 0, n2 = 0;
  for (int i = 0; i < 3; ++i) {
    dot += x[i] * y[i];
    n1 += x[i] * x[i];
    n2 += y[i] * y[i];
  }
  const double w2 = W * W, b2 = b * b;
  // oracle: the NNGP/NTK definitions with expectations by quadrature
  double kxy = w2 * dot / d + b2, kxx = w2 * n1 / d + b2, kyy = w2 * n2 / d + b2, th = kxy;
  for (int depth = 1; depth <= 2; ++depth) {
    double er, es, exx, esx, eyy, esy;
    nnqs_test::relu_gauss_moments(kxx, kyy, kxy, &er, &es);
    nnqs_test::relu_gauss_moments(kxx, kxx, kxx, &exx, &esx);
    nnqs_test::relu_gauss_moments(kyy, kyy, kyy, &eyy, &esy);
    kxy = w2 * er + b2;
    th = kxy + w2 * es * th;
    kxx = w2 * exx + b2;
    kyy = w2 * eyy + b2;
    double nngp = 0, ntk = 0;
    km::relu_kernel_pair(dot, n1, n2, depth, w2, b2, w2 / d, nngp, ntk);
    CHECK_CLOSE(nngp, kxy, 1e-9, 0.0);
    CHECK_CLOSE(ntk, th, 1e-9, 0.0);
  }
}

TEST_CASE("ReLU depth-1 NNGP at x = x' is the Gaussian integral W^2 E[relu(u)^2] + b^2") {
  const double W = 0.9, b = 0.35, d = 4.0, sq = 2.7;
  const double k0 = W * W * sq / d + b * b;
  const double e = nnqs_test::gauss_expect([&](double z) {
    const double u = std::sqrt(k0) * z;
    return u > 0 ? u * u : 0.0;
  });
  double nngp = 0, ntk = 0;
  km::relu_kernel_diag(sq, 1, W * W, b * b, W * W / d, nngp, ntk);
  CHECK_CLOSE(nngp, W * W * e + b * b, 1e-10, 0.0);
  // Theta_1(x, x) = K_1 + W^2 P(u > 0) Theta_0 = K_1 + W^2 K_0 / 2
  CHECK_CLOSE(ntk, nngp + 0.5 * W * W * k0, 1e-14, 0.0);
  // the generic pair formula agrees with the exact diagonal (to the conditioning of arccos at c = 1: an error
  // eps in c moves t by ~sqrt(2 eps) ~ 1e-8, which enters the NTK linearly)
  double np = 0, tp = 0;
  km::relu_kernel_pair(sq, sq, sq, 3, W * W, b * b, W * W / d, np, tp);
  km::relu_kernel_diag(sq, 3, W * W, b * b, W * W / d, nngp, ntk);
  CHECK_CLOSE(np, nngp, 1e-12, 0.0);
  CHECK_CLOSE(tp, ntk, 1e-7, 0.0);
}

TEST_CASE("ReLU diagonal follows the geometric closed form K_L = a^L K_0 + b^2 (1 - a^L)/(1 - a)") {
  const double W = 1.1, b = 0.3, d = 2.0, sq = 1.7, w2 = W * W, b2 = b * b, a = 0.5 * w2;
  const double k0 = w2 * sq / d + b2;
  for (int L = 1; L <= 5; ++L) {
    double nngp = 0, ntk = 0;
    km::relu_kernel_diag(sq, L, w2, b2, w2 / d, nngp, ntk);
    CHECK_CLOSE(nngp, std::pow(a, L) * k0 + b2 * (1.0 - std::pow(a, L)) / (1.0 - a), 1e-14, 0.0);
  }
}

TEST_CASE("zero variance: E[relu relu] = E[step step] = 0") {
  double k = 0.0, kxx = 0.0, kyy = 2.0, th = 5.0;
  km::relu_layer(k, kxx, kyy, th, 1.5, 0.0);
  CHECK(k == 0.0);
  CHECK(th == 0.0);
  double nngp = -1, ntk = -1;
  km::relu_kernel_pair(0.0, 0.0, 3.0, 2, 1.0, 0.04, 0.5, nngp, ntk);
  CHECK(std::isfinite(nngp) && std::isfinite(ntk));
}

TEST_CASE("Cos-net NNGP (Eq. 4) equals its Gaussian/uniform integral") {
  // f = sum_i a_i cos(w_i . x + b_i), a ~ N(0, sigma_a^2), w ~ N(0, sigma_w^2 / d), b ~ U[0, 2 pi):
  // K = sigma_a^2 E_w E_b[cos(w.x + b) cos(w.y + b)]; w.x - w.y ~ N(0, sigma_w^2 |x - y|^2 / d).
  const double sa = 1.4, sw = 0.8, d = 3.0;
  const double x[3] = {1, -1, 1}, y[3] = {-1, -1, 1};
  double r2 = 0;
  for (int i = 0; i < 3; ++i) r2 += (x[i] - y[i]) * (x[i] - y[i]);
  const double s = sw * std::sqrt(r2 / d);
  // E_b[cos(t + b) cos(b)] by quadrature over b, then E over t = s z
  auto eb = [](double t) {
    return nnqs_test::simpson([&](double bb) { return std::cos(t + bb) * std::cos(bb); }, 0.0, 2.0 * kPi, 200) /
           (2.0 * kPi);
  };
  const double oracle = sa * sa * nnqs_test::gauss_expect([&](double z) { return eb(s * z); });
  KernelSpec k;
  k.family = KernelFamily::rbf;
  k.amp = sa * sa / 2.0;
  k.gamma = sw * sw / (2.0 * d);
  double dot = 0, n1 = 0, n2 = 0;
  for (int i = 0; i < 3; ++i) {
    dot += x[i] * y[i];
    n1 += x[i] * x[i];
    n2 += y[i] * y[i];
  }
  CHECK_CLOSE(km::kernel_value(k, dot, n1, n2, n1 + n2 - 2 * dot), oracle, 1e-9, 0.0);
  CHECK_CLOSE(km::kernel_value(k, dot, n1, n2, r2), oracle, 1e-9, 0.0);
}

TEST_CASE("Gauss-net NNGP (Eq. S27) equals its Gaussian integral") {
  // g(x) = exp(w.x) / sqrt(exp(2 sigma^2 |x|^2 / d)), w ~ N(0, sigma^2 / d): E[g(x) g(y)] per coordinate.
  const double sigma = 0.9, sa = 1.2, d = 2.0;
  const double x[2] = {0.5, -1.0}, y[2] = {1.5, 0.25};
  const double sw = sigma / std::sqrt(d);
  double e = 1.0, n1 = 0, n2 = 0, dot = 0;
  for (int i = 0; i < 2; ++i) {
    e *= nnqs_test::gauss_expect([&](double z) { return std::exp(sw * z * (x[i] + y[i])); });
    n1 += x[i] * x[i];
    n2 += y[i] * y[i];
    dot += x[i] * y[i];
  }
  const double oracle =
      sa * sa * e / std::sqrt(std::exp(2 * sigma * sigma * n1 / d) * std::exp(2 * sigma * sigma * n2 / d));
  KernelSpec k;
  k.family = KernelFamily::rbf;
  k.amp = sa * sa;
  k.gamma = sigma * sigma / (2.0 * d);
  CHECK_CLOSE(km::kernel_value(k, dot, n1, n2, n1 + n2 - 2 * dot), oracle, 1e-9, 0.0);
}

TEST_CASE("delta, zero and stationary NTK factor") {
  KernelSpec k;
  k.family = KernelFamily::delta;
  k.amp = 2.5;
  CHECK(km::kernel_value(k, 3.0, 3.0, 3.0, 0.0) == 2.5);
  CHECK(km::kernel_value(k, 1.0, 3.0, 3.0, 4.0) == 0.0);
  k.family = KernelFamily::zero;
  CHECK(km::kernel_value(k, 1.0, 3.0, 3.0, 4.0) == 0.0);
  CHECK_CLOSE(km::stationary_ntk(2.0, 0.5, 0.25, 4.0), 2.0 * (0.5 + 1.0), 1e-15, 0.0);
  CHECK(km::sq_dist(1.0, 0.5, 0.5) == 0.0);  // clamped: 0.5 + 0.5 - 2 < 0
}

TEST_CASE("kernel family codes and names") {
  CHECK(static_cast<int>(KernelFamily::zero) == 0);
  CHECK(static_cast<int>(KernelFamily::rbf) == 1);
  CHECK(static_cast<int>(KernelFamily::relu) == 2);
  CHECK(static_cast<int>(KernelFamily::delta) == 3);
  CHECK(static_cast<int>(KernelFamily::relu_ntk) == 4);
  CHECK(std::strcmp(nnqs::kernel_family_name(2), "relu") == 0);
  CHECK(nnqs::kernel_family_name(nnqs::kNumKernelFamilies) == nullptr);
  CHECK(nnqs::kernel_family_name(-1) == nullptr);
}

NNQS_TEST_MAIN
