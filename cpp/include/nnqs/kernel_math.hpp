// nnqs/kernel_math.hpp — the one home of the infinite-width kernel formulas, for host and device.
//
// Every recursion and closed form of the built-in GP/NTK kernels is written here exactly once, as inline
// functions usable from C++ (cpp/src/*.cpp) and from CUDA kernels (cuda/*.cu, where NNQS_HD expands to
// __host__ __device__). Callers differ only in how they loop and store, never in the arithmetic.
//
// Kernel families (one numbering for the C++ core, the CUDA module and Python: nnqs_fast._core.KernelFamily):
//   zero      k = 0
//   rbf       k = amp exp(-gamma |x - y|^2)                  Cos-net NNGP (paper Eq. 4), Gauss-net NNGP (Eq. S27)
//   relu      NNGP of the NTK-parameterised ReLU MLP (arc-cosine recursion below)
//   delta     k = amp [x == y]                               (sigma_w -> infinity: i.i.d. amplitudes)
//   relu_ntk  NTK of the same ReLU MLP
//
// ReLU recursion (NTK parameterisation, neural-tangents Dense(W_std, b_std) + Relu, `depth` hidden layers):
//   K_0(x, y) = W^2 x.y / d + b^2,                     Theta_0 = K_0
//   c = K_l(x, y) / sqrt(K_l(x, x) K_l(y, y)),          t = arccos c
//   K_{l+1}(x, y) = W^2 sqrt(K_l(x, x) K_l(y, y)) (sin t + (pi - t) c) / (2 pi) + b^2     (Cho & Saul, degree 1)
//   Theta_{l+1}   = K_{l+1} + W^2 (pi - t) / (2 pi) Theta_l                                 (degree 0)
//   K_{l+1}(x, x) = W^2 K_l(x, x) / 2 + b^2            (E[relu(u)^2] = Var u / 2)
// A zero variance (x = 0 with b = 0) gives E[relu(u) relu(v)] = E[step(u) step(v)] = 0 (step(0) = 0).
#pragma once
#include <cmath>

#if defined(__CUDACC__)
#define NNQS_HD __host__ __device__
#define NNQS_INLINE __forceinline__
#elif defined(__GNUC__)
#define NNQS_HD
#define NNQS_INLINE inline __attribute__((always_inline))
#else
#define NNQS_HD
#define NNQS_INLINE inline
#endif

namespace nnqs {

// The built-in kernel families; the numbers are part of the Python interface (_core and _cuda kernel specs).
enum class KernelFamily : int {
  zero = 0,
  rbf = 1,
  relu = 2,
  delta = 3,
  relu_ntk = 4,
};
constexpr int kNumKernelFamilies = 5;

// A built-in kernel with its parameters (fields not used by a family are ignored).
struct KernelSpec {
  KernelFamily family = KernelFamily::zero;
  int depth = 1;           // relu, relu_ntk: number of hidden layers (>= 1)
  double W_std = 0.0;      // relu, relu_ntk
  double b_std = 0.0;      // relu, relu_ntk
  double input_dim = 0.0;  // relu, relu_ntk: the d of K_0 = W^2 x.y / d + b^2 (> 0)
  double amp = 0.0;        // rbf, delta
  double gamma = 0.0;      // rbf
};

namespace km {

constexpr double kPi = 3.14159265358979323846;
constexpr double kInv2Pi = 1.0 / (2.0 * kPi);

// arccos(c) for c in [-1, 1]: a degree-12 polynomial for asin on [0, 1/2] plus the half-angle identity
// acos|c| = 2 asin(sqrt((1 - |c|)/2)) for |c| > 1/2. Branch-free (vectorises); error <= a few ulp of pi
// (checked against std::acos in cpp/tests/test_kernel_math.cpp).
NNQS_HD NNQS_INLINE double acos_poly(double c) {
  const double a = fabs(c);
  const bool big = a > 0.5;
  const double zb = 0.5 * (1.0 - a);
  const double sb = sqrt(zb);  // computed unconditionally (branch-free, vectorisable)
  const double z = big ? zb : a * a;
  const double s = big ? sb : a;
  double p = 2.88230457737578757e-02;
  p = p * z - 1.49458264126297799e-02;
  p = p * z + 1.74624979205019182e-02;
  p = p * z + 5.43311050359036960e-03;
  p = p * z + 1.03292806517379480e-02;
  p = p * z + 1.14779845036934239e-02;
  p = p * z + 1.39713667066653779e-02;
  p = p * z + 1.73523791479220819e-02;
  p = p * z + 2.23721737320617016e-02;
  p = p * z + 3.03819441100729032e-02;
  p = p * z + 4.46428571469224128e-02;
  p = p * z + 7.49999999999795830e-02;
  p = p * z + 1.66666666666666685e-01;
  const double as = s + s * z * p;                   // asin(s)
  const double r = big ? 2.0 * as : 0.5 * kPi - as;  // acos(|c|)
  return c < 0.0 ? kPi - r : r;
}

// ---- ReLU (arc-cosine) recursion -------------------------------------------------------------------------------

// K_0 = W^2 x.y / d + b^2 with wd = W^2 / d (also the input variance for x.y = |x|^2).
NNQS_HD NNQS_INLINE double relu_input_cov(double dot, double wd, double b2) { return wd * dot + b2; }

// The diagonal of one layer: K_{l+1}(x, x) = W^2 K_l(x, x) / 2 + b^2.
NNQS_HD NNQS_INLINE double relu_diag_step(double kxx, double w2, double b2) { return 0.5 * w2 * kxx + b2; }

// Scalar primitives of the generic layer formula (nnqs/relu_layer-inl.hpp); the SIMD ones live in
// cpp/src/relu_gram_simd.cpp (Highway). min/max keep a NaN of their first argument (as the comparisons do).
struct ScalarOps {
  NNQS_HD NNQS_INLINE double c(double x) const { return x; }
  NNQS_HD NNQS_INLINE bool gt(double a, double b) const { return a > b; }
  NNQS_HD NNQS_INLINE double select(bool m, double a, double b) const { return m ? a : b; }
  NNQS_HD NNQS_INLINE double min(double a, double b) const { return b < a ? b : a; }
  NNQS_HD NNQS_INLINE double max(double a, double b) const { return b > a ? b : a; }
  NNQS_HD NNQS_INLINE double acos(double x) const { return acos_poly(x); }
  NNQS_HD NNQS_INLINE double sqrt(double x) const { return ::sqrt(x); }
};

#include "nnqs/relu_layer-inl.hpp"  // relu_layer_ops: the layer formula, generic over the arithmetic

// One hidden layer for one pair, in place (scalar double): see relu_layer_ops.
NNQS_HD NNQS_INLINE void relu_layer_normed(double& k, double& th, double rx, double qx, double ry, double qy, double w2,
                                           double b2) {
  relu_layer_ops(ScalarOps{}, k, th, rx, qx, ry, qy, w2, b2);
}

// One hidden layer carrying the two variances: (kxy, kxx, kyy, th) -> next layer, in place. Per pair: one root
// and one division, sqrt(K(x, x) K(y, y)) taken as a whole (row/column loops precompute the factors instead).
NNQS_HD NNQS_INLINE void relu_layer(double& kxy, double& kxx, double& kyy, double& th, double w2, double b2) {
  const double r = sqrt(kxx * kyy);
  relu_layer_normed(kxy, th, r, 1.0 / r, 1.0, 1.0, w2, b2);
  kxx = relu_diag_step(kxx, w2, b2);
  kyy = relu_diag_step(kyy, w2, b2);
}

// NNGP and NTK of the depth-`depth` ReLU MLP for one pair from (x.y, |x|^2, |y|^2); wd = W^2 / d.
NNQS_HD NNQS_INLINE void relu_kernel_pair(double dot, double n1, double n2, int depth, double w2, double b2, double wd,
                                          double& nngp, double& ntk) {
  double kxy = relu_input_cov(dot, wd, b2), kxx = relu_input_cov(n1, wd, b2), kyy = relu_input_cov(n2, wd, b2);
  double th = kxy;
  for (int l = 0; l < depth; ++l) relu_layer(kxy, kxx, kyy, th, w2, b2);
  nngp = kxy;
  ntk = th;
}

// Exact values at x = y (t = 0; the arccos form is ill-conditioned there): from sq = |x|^2.
NNQS_HD NNQS_INLINE void relu_kernel_diag(double sq, int depth, double w2, double b2, double wd, double& nngp,
                                          double& ntk) {
  double k = relu_input_cov(sq, wd, b2), th = k;
  for (int l = 0; l < depth; ++l) {
    k = relu_diag_step(k, w2, b2);
    th = 0.5 * w2 * th + k;
  }
  nngp = k;
  ntk = th;
}

// ---- stationary kernels (Cos-net Eq. 4, Gauss-net Eq. S27) ---------------------------------------------------

// |x - y|^2 from the products, clamped at 0 against rounding.
NNQS_HD NNQS_INLINE double sq_dist(double dot, double n1, double n2) {
  const double r2 = n1 + n2 - 2.0 * dot;
  return r2 > 0.0 ? r2 : 0.0;
}

// amp exp(-gamma r2).
NNQS_HD NNQS_INLINE double rbf(double amp, double gamma, double r2) { return amp * exp(-gamma * r2); }

// The Cos-net / Gauss-net NTK from its NNGP value k: k (c0 + c1 x.y).
NNQS_HD NNQS_INLINE double stationary_ntk(double k, double c0, double c1, double dot) { return k * (c0 + c1 * dot); }

// amp [x == y] from the squared distance (exact zero only).
NNQS_HD NNQS_INLINE double delta(double amp, double r2) { return r2 == 0.0 ? amp : 0.0; }

// ---- dispatch over the families --------------------------------------------------------------------------------

// k(x, y) from dot = x.y, n1 = |x|^2, n2 = |y|^2 and the squared distance r2 (callers pass n1 + n2 - 2 dot, or
// |x - y|^2 summed directly when they have the inputs).
NNQS_HD NNQS_INLINE double kernel_value(const KernelSpec& k, double dot, double n1, double n2, double r2) {
  switch (k.family) {
    case KernelFamily::rbf:
      return rbf(k.amp, k.gamma, r2 > 0.0 ? r2 : 0.0);
    case KernelFamily::delta:
      return delta(k.amp, r2);
    case KernelFamily::relu:
    case KernelFamily::relu_ntk: {
      const double w2 = k.W_std * k.W_std, b2 = k.b_std * k.b_std;
      double nngp = 0.0, ntk = 0.0;
      relu_kernel_pair(dot, n1, n2, k.depth, w2, b2, w2 / k.input_dim, nngp, ntk);
      return k.family == KernelFamily::relu ? nngp : ntk;
    }
    case KernelFamily::zero:
    default:
      return 0.0;
  }
}

// Whether evaluating k needs the dot products / the squared distance.
NNQS_HD NNQS_INLINE bool needs_dot(KernelFamily f) { return f == KernelFamily::relu || f == KernelFamily::relu_ntk; }
NNQS_HD NNQS_INLINE bool needs_dist(KernelFamily f) { return f == KernelFamily::rbf || f == KernelFamily::delta; }

}  // namespace km

// Name of a family (as used by Python's GPKernel), or nullptr for an unknown code.
inline const char* kernel_family_name(int code) {
  switch (code) {
    case static_cast<int>(KernelFamily::zero):
      return "zero";
    case static_cast<int>(KernelFamily::rbf):
      return "rbf";
    case static_cast<int>(KernelFamily::relu):
      return "relu";
    case static_cast<int>(KernelFamily::delta):
      return "delta";
    case static_cast<int>(KernelFamily::relu_ntk):
      return "relu_ntk";
    default:
      return nullptr;
  }
}

}  // namespace nnqs
