// Wick contractions on the fly (see nnqs/wick.hpp for the formulas and the data layout).
#include "nnqs/wick.hpp"

#include <algorithm>
#include <cmath>
#include <vector>

namespace nnqs {

namespace {
constexpr double kPi = 3.14159265358979323846;

inline double relu_nngp(const KernelSpec& k, double dot, double n1, double n2) {
  const double w2 = k.p[0] * k.p[0], b2 = k.p[1] * k.p[1];
  const int depth = static_cast<int>(k.p[2]);
  const double d = k.p[3];
  // input layer: pre-activation covariances
  double kxy = w2 * dot / d + b2, kxx = w2 * n1 / d + b2, kyy = w2 * n2 / d + b2;
  for (int l = 0; l < depth; ++l) {
    const double s = std::sqrt(kxx * kyy);
    double c = s > 0.0 ? kxy / s : 0.0;
    c = std::min(1.0, std::max(-1.0, c));
    const double th = std::acos(c);
    // E[relu(u) relu(v)] = s (sin θ + (π − θ) cos θ) / (2π), sin θ = √(1 − c²) for θ ∈ [0, π]
    const double e = s * (std::sqrt(std::max(0.0, 1.0 - c * c)) + (kPi - th) * c) / (2.0 * kPi);
    kxy = w2 * e + b2;
    kxx = w2 * 0.5 * kxx + b2;  // E[relu(u)²] = k/2
    kyy = w2 * 0.5 * kyy + b2;
  }
  return kxy;
}
}  // namespace

double kernel_eval(const KernelSpec& k, double dot, double n1, double n2) {
  switch (k.family) {
    case KernelFamily::zero:
      return 0.0;
    case KernelFamily::rbf: {
      const double r2 = std::max(0.0, n1 + n2 - 2.0 * dot);
      return k.p[0] * std::exp(-k.p[1] * r2);
    }
    case KernelFamily::relu:
      return relu_nngp(k, dot, n1, n2);
    case KernelFamily::delta:
      return (n1 + n2 - 2.0 * dot) == 0.0 ? k.p[0] : 0.0;
  }
  return 0.0;
}

PairSums pair_sums(const KernelSpec& k1, const KernelSpec& k2, bool same, const PairTable& a, const PairTable& b,
                   index_t tile) {
  if (tile <= 0) tile = 4096;
  double fc = 0.0, fp = 0.0, pp = 0.0;
  // j (B table) is tiled so a tile stays in cache while all i (A table) sweep it.
  for (index_t j0 = 0; j0 < b.n; j0 += tile) {
    const index_t j1 = std::min(b.n, j0 + tile);
    // threads only when there is enough work (tiny compressed tables run serially: no fork/join cost)
#pragma omp parallel for schedule(dynamic, 16) reduction(+ : fc, fp, pp) if (a.n * (j1 - j0) > 32768)
    for (index_t i = 0; i < a.n; ++i) {
      const double da = a.dot[i], n1a = a.n1[i], n2a = a.n2[i], wa = a.w[i];
      double sc = 0.0, sp = 0.0, ss = 0.0;
      if (same) {
        for (index_t j = j0; j < j1; ++j) {
          const double c = 2.0 * kernel_eval(k1, da + b.dot[j], n1a + b.n1[j], n2a + b.n2[j]);
          sc += b.w[j] * c * c;
        }
      } else {
        for (index_t j = j0; j < j1; ++j) {
          const double dot = da + b.dot[j], m1 = n1a + b.n1[j], m2 = n2a + b.n2[j];
          const double x1 = kernel_eval(k1, dot, m1, m2), x2 = kernel_eval(k2, dot, m1, m2);
          const double c = x1 + x2, p = x1 - x2;
          const double s1 = n2a + b.n1[j], s2 = n1a + b.n2[j];  // P(a2 b1, a1 b2): A norms swapped
          const double q = kernel_eval(k1, dot, s1, s2) - kernel_eval(k2, dot, s1, s2);
          sc += b.w[j] * c * c;
          sp += b.w[j] * p * p;
          ss += b.w[j] * p * q;
        }
      }
      fc += wa * sc;
      fp += wa * sp;
      pp += wa * ss;
    }
  }
  return PairSums{fc, fp, pp};
}

PartialTraceSums partial_trace_sums(const KernelSpec& k1, const KernelSpec& k2, bool same, const PairTable& pairs,
                                    const PairTable& diag) {
  double lin = 0.0, sq = 0.0;
#pragma omp parallel for schedule(dynamic, 16) reduction(+ : lin, sq) if (pairs.n * diag.n > 32768)
  for (index_t i = 0; i < pairs.n; ++i) {
    const double da = pairs.dot[i], n1a = pairs.n1[i], n2a = pairs.n2[i];
    double r = 0.0;
    for (index_t j = 0; j < diag.n; ++j) {
      const double dot = da + diag.dot[j], m1 = n1a + diag.n1[j], m2 = n2a + diag.n2[j];
      const double c = same ? 2.0 * kernel_eval(k1, dot, m1, m2)
                            : kernel_eval(k1, dot, m1, m2) + kernel_eval(k2, dot, m1, m2);
      r += diag.w[j] * c;
    }
    lin += pairs.w[i] * r;
    sq += pairs.w[i] * r * r;
  }
  return PartialTraceSums{lin, sq};
}

}  // namespace nnqs
