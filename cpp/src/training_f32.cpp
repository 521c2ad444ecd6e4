// Fused full-batch gradient descent of a one-hidden-layer ReLU network in float32 (see nnqs/training.hpp,
// GDStepReLU1F32): float32 parameters and activations, float64 outputs, residuals and losses.
#include <algorithm>
#include <cmath>
#include <cstdint>
#include <limits>
#include <vector>

#include "gd_run_loop.hpp"
#include "nnqs/training.hpp"

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"  // GCC 12's _mm512_reduce_add_ps (an undefined __Y)
#pragma GCC diagnostic ignored "-Wpsabi"                // the v8 helpers are always inlined into the target clones
#endif

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#define NNQS_F32_X86 1
#include <immintrin.h>
#endif

namespace nnqs {

namespace {

constexpr double kParallelWork32 = 4e6;  // multiply-adds below which a sweep runs serially (as GDStepReLU1)
constexpr index_t VL = 16;               // units per vector (one AVX-512 register of float32)
constexpr index_t BV = 16;               // unit vectors per block: the unit of parallel work (256 units)

using u16 = std::uint16_t;

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define NNQS_HOT32 __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define NNQS_HOT32
#endif

// ---- portable kernels (any d; the same layout and algorithm as the AVX-512 ones; GCC/Clang vector extensions,
// 8 floats per vector: one AVX2 register in the x86-64-v3 clone) ----
typedef float v8 __attribute__((vector_size(32)));
typedef float v8u __attribute__((vector_size(32), aligned(4)));
typedef int i8v __attribute__((vector_size(32)));

inline v8 ld8(const float* p) { return *reinterpret_cast<const v8u*>(p); }
inline void st8(float* p, v8 v) { *reinterpret_cast<v8u*>(p) = v; }
inline v8 bc8(float s) { return v8{} + s; }  // vector op scalar: one vbroadcastss (no insert chains)

#ifdef __clang__
#define NNQS_SHUFFLE8(v, a, b, c, d, e, f, g, h) __builtin_shufflevector(v, v, a, b, c, d, e, f, g, h)
#else
#define NNQS_SHUFFLE8(v, a, b, c, d, e, f, g, h) __builtin_shuffle(v, i8v{a, b, c, d, e, f, g, h})
#endif

// 16 sign bits (bit l: lane l of m0, bit 8 + l: lane l of m1; lanes -1 or 0) by a vector OR-reduction (no scalar
// lane extraction).
inline u16 sign_bits(i8v m0, i8v m1) {
  const i8v sel = {1, 2, 4, 8, 16, 32, 64, 128};
  i8v t = (m0 & sel) | (m1 & (sel << 8));
  t |= NNQS_SHUFFLE8(t, 4, 5, 6, 7, 0, 1, 2, 3);
  t |= NNQS_SHUFFLE8(t, 2, 3, 0, 1, 6, 7, 4, 5);
  t |= NNQS_SHUFFLE8(t, 1, 0, 3, 2, 5, 4, 7, 6);
  return static_cast<u16>(t[0]);
}

// Forward over unit vectors [v0, v1) for ms samples (a multiple of 4): partial[i] = sum_j a_j relu(z_ij),
// z = xs W^T + bstd b1; the sign bits of z go to mask[v * mstride + i] (bit l: unit 16 v + l) when mask is
// non-null. 4 samples x 16 units at a time.
NNQS_HOT32 void fwd_portable(const float* W, const float* b1, const float* a, float bstd, index_t v0, index_t v1,
                             index_t d, const float* xs, index_t ms, u16* mask, index_t mstride, float* partial) {
  const v8 zero = bc8(0.0f), bs = bc8(bstd);
  for (index_t i = 0; i < ms; i += 4) {
    v8 acc[4][2];
    for (int s = 0; s < 4; ++s) acc[s][0] = acc[s][1] = zero;
    for (index_t v = v0; v < v1; ++v) {
      const v8 bb0 = bs * ld8(b1 + v * VL), bb1 = bs * ld8(b1 + v * VL + 8);
      v8 z[4][2];
      for (int s = 0; s < 4; ++s) {
        z[s][0] = bb0;
        z[s][1] = bb1;
      }
      const float* w = W + v * d * VL;
      for (index_t k = 0; k < d; ++k) {
        const v8 w0 = ld8(w + k * VL), w1 = ld8(w + k * VL + 8);
        for (int s = 0; s < 4; ++s) {
          const float xk = xs[(i + s) * d + k];
          z[s][0] += w0 * xk;
          z[s][1] += w1 * xk;
        }
      }
      const v8 a0 = ld8(a + v * VL), a1 = ld8(a + v * VL + 8);
      for (int s = 0; s < 4; ++s) {
        const i8v m0 = z[s][0] > zero, m1 = z[s][1] > zero;
        acc[s][0] += m0 ? a0 * z[s][0] : zero;
        acc[s][1] += m1 ? a1 * z[s][1] : zero;
        if (mask) mask[v * mstride + i + s] = sign_bits(m0, m1);
      }
    }
    for (int s = 0; s < 4; ++s) {
      const v8 t = acc[s][0] + acc[s][1];
      partial[i + s] = ((t[0] + t[4]) + (t[1] + t[5])) + ((t[2] + t[6]) + (t[3] + t[7]));
    }
  }
}

// Backward + update over unit vectors [v0, v1): g_jk = sum_i m_ij E_ik (k <= d; E_i = e_i [xs_i, 1]),
// ga_j = sum_k W_jk g_jk + bstd b1_j g_jd, then a -= s ga, b1 -= s a_old bstd g_d, W_k -= s a_old g_k.
// acc: a workspace of 16 (d + 1) floats.
NNQS_HOT32 void bwd_portable(float* W, float* b1, float* a, float bstd, float s, index_t v0, index_t v1, index_t d,
                             const float* E, index_t ms, const u16* mask, index_t mstride, float* acc) {
  const index_t K = d + 1;
  const v8 zero = bc8(0.0f), one = bc8(1.0f);
  const i8v sel = {1, 2, 4, 8, 16, 32, 64, 128};
  constexpr index_t CH = 6;  // k values per pass: 2 x 6 accumulators stay in the 16 AVX2 registers
  for (index_t v = v0; v < v1; ++v) {
    const u16* mk = mask + v * mstride;
    for (index_t k0 = 0; k0 < K; k0 += CH) {
      v8 r[CH][2];
      for (index_t c = 0; c < CH; ++c) r[c][0] = r[c][1] = zero;
      for (index_t i = 0; i < ms; ++i) {
        const int m = mk[i];
        if (m == 0) continue;
        const i8v mb = i8v{} + m;
        const v8 mv0 = (mb & sel) != 0 ? one : zero, mv1 = (mb & (sel << 8)) != 0 ? one : zero;
        const float* Ei = E + i * K + k0;
        for (index_t c = 0; c < CH; ++c) {
          if (k0 + c < K) {
            const float e = Ei[c];
            r[c][0] += mv0 * e;
            r[c][1] += mv1 * e;
          }
        }
      }
      for (index_t c = 0; c < CH && k0 + c < K; ++c) {
        st8(acc + (k0 + c) * VL, r[c][0]);
        st8(acc + (k0 + c) * VL + 8, r[c][1]);
      }
    }
    float* w = W + v * d * VL;
    for (index_t l = 0; l < VL; ++l) {
      const index_t j = v * VL + l;
      float ga = bstd * b1[j] * acc[d * VL + l];
      for (index_t k = 0; k < d; ++k) ga += w[k * VL + l] * acc[k * VL + l];
      const float sa = s * a[j];
      a[j] -= s * ga;
      b1[j] -= sa * bstd * acc[d * VL + l];
      for (index_t k = 0; k < d; ++k) w[k * VL + l] -= sa * acc[k * VL + l];
    }
  }
}

// ---- AVX-512F kernels for a compile-time input dimension D (register-blocked) ----
#ifdef NNQS_F32_X86
#define NNQS_AVX512 __attribute__((target("avx512f")))
#define NNQS_AVX512_INLINE __attribute__((target("avx512f"), always_inline)) inline

// Forward: 4 samples x 2 unit vectors (8 independent accumulation chains of D FMAs); the weight vectors are
// loaded once per k for the 4 samples, the inputs broadcast. The readout a_j relu(z) is a masked FMA into one
// 16-lane accumulator per sample, reduced once per block.
template <int D, bool STORE>
NNQS_AVX512_INLINE void fwd512(const float* W, const float* b1, const float* a, float bstd, index_t v0, index_t v1,
                               const float* xs, index_t ms, u16* mask, index_t mstride, float* partial) {
  const __m512 zero = _mm512_setzero_ps();
  const __m512 bs = _mm512_set1_ps(bstd);
  for (index_t i = 0; i < ms; i += 4) {
    __m512 acc[4] = {zero, zero, zero, zero};
    const float* x0 = xs + i * D;
    for (index_t v = v0; v < v1; v += 2) {
      const __m512 bb0 = _mm512_mul_ps(bs, _mm512_load_ps(b1 + v * VL));
      const __m512 bb1 = _mm512_mul_ps(bs, _mm512_load_ps(b1 + v * VL + VL));
      __m512 z[4][2];
#pragma GCC unroll 4
      for (int s = 0; s < 4; ++s) {
        z[s][0] = bb0;
        z[s][1] = bb1;
      }
      const float* w0 = W + v * D * VL;
      const float* w1 = w0 + D * VL;
#pragma GCC unroll 16
      for (int k = 0; k < D; ++k) {
        const __m512 wa = _mm512_load_ps(w0 + k * VL), wb = _mm512_load_ps(w1 + k * VL);
#pragma GCC unroll 4
        for (int s = 0; s < 4; ++s) {
          const __m512 xb = _mm512_set1_ps(x0[s * D + k]);
          z[s][0] = _mm512_fmadd_ps(xb, wa, z[s][0]);
          z[s][1] = _mm512_fmadd_ps(xb, wb, z[s][1]);
        }
      }
      const __m512 a0 = _mm512_load_ps(a + v * VL), a1 = _mm512_load_ps(a + v * VL + VL);
#pragma GCC unroll 4
      for (int s = 0; s < 4; ++s) {
        const __mmask16 m0 = _mm512_cmp_ps_mask(z[s][0], zero, _CMP_GT_OQ);
        const __mmask16 m1 = _mm512_cmp_ps_mask(z[s][1], zero, _CMP_GT_OQ);
        if (STORE) {
          mask[v * mstride + i + s] = static_cast<u16>(m0);
          mask[(v + 1) * mstride + i + s] = static_cast<u16>(m1);
        }
        acc[s] = _mm512_mask3_fmadd_ps(a0, z[s][0], acc[s], m0);
        acc[s] = _mm512_mask3_fmadd_ps(a1, z[s][1], acc[s], m1);
      }
    }
#pragma GCC unroll 4
    for (int s = 0; s < 4; ++s) partial[i + s] = _mm512_reduce_add_ps(acc[s]);
  }
}

// Backward + update: UV unit vectors at a time with their UV x (D+1) gradient accumulators in registers over all
// samples; one FMA per (sample, unit vector, k): acc += m_ij E_ik (E_ik broadcast, m as a 0/1 vector).
template <int D>
NNQS_AVX512_INLINE void bwd512(float* W, float* b1, float* a, float bstd, float s, index_t v0, index_t v1,
                               const float* E, index_t ms, const u16* mask, index_t mstride) {
  constexpr int K = D + 1;
  constexpr int UV = 2 * K <= 30 ? 2 : 1;
  const __m512 bs = _mm512_set1_ps(bstd), sv = _mm512_set1_ps(s), one = _mm512_set1_ps(1.0f);
  for (index_t v = v0; v < v1; v += UV) {
    __m512 acc[UV][K];
#pragma GCC unroll 2
    for (int u = 0; u < UV; ++u)
#pragma GCC unroll 17
      for (int k = 0; k < K; ++k) acc[u][k] = _mm512_setzero_ps();
    const u16* mk = mask + v * mstride;
    for (index_t i = 0; i < ms; ++i) {
      __m512 m[UV];  // the mask as a 0/1 vector: one mask-register use per (sample, unit vector), then FMAs
#pragma GCC unroll 2
      for (int u = 0; u < UV; ++u) m[u] = _mm512_maskz_mov_ps(static_cast<__mmask16>(mk[u * mstride + i]), one);
      const float* Ei = E + i * K;
#pragma GCC unroll 17
      for (int k = 0; k < K; ++k) {
        const __m512 eb = _mm512_set1_ps(Ei[k]);
#pragma GCC unroll 2
        for (int u = 0; u < UV; ++u) acc[u][k] = _mm512_fmadd_ps(m[u], eb, acc[u][k]);
      }
    }
#pragma GCC unroll 2
    for (int u = 0; u < UV; ++u) {
      const index_t vu = v + u;
      float* w = W + vu * D * VL;
      const __m512 b1v = _mm512_load_ps(b1 + vu * VL);
      __m512 ga = _mm512_mul_ps(_mm512_mul_ps(bs, b1v), acc[u][D]);
#pragma GCC unroll 16
      for (int k = 0; k < D; ++k) ga = _mm512_fmadd_ps(_mm512_load_ps(w + k * VL), acc[u][k], ga);
      const __m512 ao = _mm512_load_ps(a + vu * VL);
      const __m512 sa = _mm512_mul_ps(sv, ao);
      _mm512_store_ps(a + vu * VL, _mm512_fnmadd_ps(sv, ga, ao));
      _mm512_store_ps(b1 + vu * VL, _mm512_fnmadd_ps(_mm512_mul_ps(sa, bs), acc[u][D], b1v));
#pragma GCC unroll 16
      for (int k = 0; k < D; ++k)
        _mm512_store_ps(w + k * VL, _mm512_fnmadd_ps(sa, acc[u][k], _mm512_load_ps(w + k * VL)));
    }
  }
}

using Fwd512 = void (*)(const float*, const float*, const float*, float, index_t, index_t, const float*, index_t, u16*,
                        index_t, float*);
using Bwd512 = void (*)(float*, float*, float*, float, float, index_t, index_t, const float*, index_t, const u16*,
                        index_t);

template <int D>
NNQS_AVX512 void fwd512_store(const float* W, const float* b1, const float* a, float bstd, index_t v0, index_t v1,
                              const float* xs, index_t ms, u16* mask, index_t mstride, float* partial) {
  fwd512<D, true>(W, b1, a, bstd, v0, v1, xs, ms, mask, mstride, partial);
}
template <int D>
NNQS_AVX512 void fwd512_nostore(const float* W, const float* b1, const float* a, float bstd, index_t v0, index_t v1,
                                const float* xs, index_t ms, u16* mask, index_t mstride, float* partial) {
  fwd512<D, false>(W, b1, a, bstd, v0, v1, xs, ms, mask, mstride, partial);
}
template <int D>
NNQS_AVX512 void bwd512_fn(float* W, float* b1, float* a, float bstd, float s, index_t v0, index_t v1, const float* E,
                           index_t ms, const u16* mask, index_t mstride) {
  bwd512<D>(W, b1, a, bstd, s, v0, v1, E, ms, mask, mstride);
}

constexpr index_t kMinD512 = 2, kMaxD512 = 16;

template <int D>
void table_entry(Fwd512* fs, Fwd512* fn, Bwd512* bw) {
  fs[D] = fwd512_store<D>;
  fn[D] = fwd512_nostore<D>;
  bw[D] = bwd512_fn<D>;
  if constexpr (D < kMaxD512) table_entry<D + 1>(fs, fn, bw);
}

struct Table512 {
  Fwd512 fwd_store[kMaxD512 + 1] = {};
  Fwd512 fwd_nostore[kMaxD512 + 1] = {};
  Bwd512 bwd[kMaxD512 + 1] = {};
  Table512() { table_entry<kMinD512>(fwd_store, fwd_nostore, bwd); }
};
const Table512& table512() {
  static const Table512 t;
  return t;
}

bool have_avx512() {
  static const bool ok = [] {
    __builtin_cpu_init();
    return __builtin_cpu_supports("avx512f") != 0;
  }();
  return ok;
}
#else
bool have_avx512() { return false; }
constexpr index_t kMinD512 = 2, kMaxD512 = 16;
#endif

float* align64(float* p) {
  const auto u = reinterpret_cast<std::uintptr_t>(p);
  return p + ((64 - u % 64) % 64) / sizeof(float);
}

index_t round_up(index_t x, index_t m) { return (x + m - 1) / m * m; }

// (m, d) row-major doubles -> cw * x as float32, rows zero-padded to ms.
std::vector<float> scaled_rows(const double* x, index_t m, index_t d, index_t ms, double cw) {
  std::vector<float> out(static_cast<size_t>(ms * d), 0.0f);
  for (index_t i = 0; i < m * d; ++i) out[i] = static_cast<float>(cw * x[i]);
  return out;
}

}  // namespace

GDStepReLU1F32::GDStepReLU1F32(const double* W1, const double* b1, const double* a, double b2, index_t N, index_t d,
                               double W_std, double b_std, const double* x, const double* y, index_t n, double lr,
                               const double* x_test, const double* y_test, index_t n_test)
    : N_(N), d_(d), n_(n), nt_(x_test && y_test ? n_test : 0), W_std_(W_std), b_std_(b_std), lr_(lr), b2_(b2) {
  require(N > 0 && d > 0 && n > 0, "GDStepReLU1F32: width, input_dim and n must be positive");
  Np_ = round_up(N, 2 * VL);  // whole pairs of unit vectors (the forward kernel's blocking)
  nuv_ = Np_ / VL;
  nb_ = (nuv_ + BV - 1) / BV;
  ca_ = W_std / std::sqrt(static_cast<double>(N));
  cw_ = W_std / std::sqrt(static_cast<double>(d));
  const index_t nW = round_up(nuv_ * d * VL, VL), nP = round_up(Np_, VL);
  pbuf_.assign(static_cast<size_t>(nW + 2 * nP + VL), 0.0f);  // padded units: W = b1 = a = 0 stay exactly zero
  W_ = align64(pbuf_.data());
  b1_ = W_ + nW;
  a_ = b1_ + nP;
  for (index_t j = 0; j < N; ++j) {
    const index_t v = j / VL, l = j % VL;
    for (index_t k = 0; k < d; ++k) W_[(v * d + k) * VL + l] = static_cast<float>(W1[j * d + k]);
    b1_[j] = static_cast<float>(b1[j]);
    a_[j] = static_cast<float>(a[j]);
  }
  ns_ = round_up(n, 4);
  nts_ = round_up(nt_, 4);
  xs_ = scaled_rows(x, n, d, ns_, cw_);
  if (nt_ > 0) {
    xts_ = scaled_rows(x_test, nt_, d, nts_, cw_);
    yt_.assign(y_test, y_test + nt_);
  }
  y_.assign(y, y + n);
  f_.assign(n, 0.0);
  e_.assign(n, 0.0);
  ft_.assign(nt_, 0.0);
  E_.assign(static_cast<size_t>(ns_ * (d + 1)), 0.0f);
  part_.assign(static_cast<size_t>(nb_ * ns_), 0.0f);
  partt_.assign(static_cast<size_t>(nb_ * nts_), 0.0f);
  mask_.assign(static_cast<size_t>(nuv_ * ns_), 0);
  set_portable(false);
}

void GDStepReLU1F32::set_portable(bool p) {
  simd_ = !p && have_avx512() && d_ >= kMinD512 && d_ <= kMaxD512;
  mask_valid_ = fwd_valid_ = false;  // the kernels may round differently: recompute the forward state
}

int GDStepReLU1F32::team() const { return threads_ > 0 ? threads_ : max_threads(); }

double GDStepReLU1F32::flops_per_step() const {
  // the same nominal count as GDStepReLU1 (the step's work in the standard formulation), for throughput reports
  return static_cast<double>(n_) * static_cast<double>(N_) * (6.0 * d_ + 9.0) + 3.0 * N_ * (d_ + 2);
}

void GDStepReLU1F32::forward(const float* xs, index_t ms, index_t m, float* partial, u16* mask, double* out) const {
  if (m == 0) return;
  const bool par = static_cast<double>(ms) * static_cast<double>(Np_ * d_) > kParallelWork32;
  (void)par;
  const float bstd = static_cast<float>(b_std_);
#ifdef NNQS_HAVE_OPENMP
#pragma omp parallel for schedule(static) if (par) num_threads(team())
#endif
  for (index_t b = 0; b < nb_; ++b) {
    const index_t v0 = b * BV, v1 = std::min(v0 + BV, nuv_);
#ifdef NNQS_F32_X86
    if (simd_) {
      const Table512& t = table512();
      (mask ? t.fwd_store : t.fwd_nostore)[d_](W_, b1_, a_, bstd, v0, v1, xs, ms, mask, ms, partial + b * ms);
      continue;
    }
#endif
    fwd_portable(W_, b1_, a_, bstd, v0, v1, d_, xs, ms, mask, ms, partial + b * ms);
  }
  const double cb2 = b_std_ * b2_;
#ifdef NNQS_HAVE_OPENMP
#pragma omp parallel for schedule(static) if (par) num_threads(team())
#endif
  for (index_t i = 0; i < m; ++i) {
    double s = 0.0;
    for (index_t b = 0; b < nb_; ++b) s += static_cast<double>(partial[b * ms + i]);  // fixed order, in float64
    out[i] = ca_ * s + cb2;
  }
}

void GDStepReLU1F32::ensure_forward() {
  if (fwd_valid_) return;
  forward(xs_.data(), ns_, n_, part_.data(), mask_.data(), f_.data());
  mask_valid_ = true;
  double s = 0.0;
  for (index_t i = 0; i < n_; ++i) {
    e_[i] = f_[i] - y_[i];
    s += e_[i] * e_[i];
  }
  loss_ = s / static_cast<double>(n_);
  fwd_valid_ = true;
}

void GDStepReLU1F32::backward_update(double num, double den) {
  if (!mask_valid_) {  // the sign mask of the current parameters (apply_gradient without forward_train)
    forward(xs_.data(), ns_, n_, part_.data(), mask_.data(), f_.data());
    mask_valid_ = true;
  }
  const index_t K = d_ + 1;
  for (index_t i = 0; i < n_; ++i) {
    const double ei = e_[i];
    for (index_t k = 0; k < d_; ++k) E_[i * K + k] = static_cast<float>(ei * static_cast<double>(xs_[i * d_ + k]));
    E_[i * K + d_] = static_cast<float>(ei);
  }
  const float s = static_cast<float>(lr_ * num / den * ca_), bstd = static_cast<float>(b_std_);
  const bool par = static_cast<double>(ns_) * static_cast<double>(Np_ * d_) > kParallelWork32;
  (void)par;
#ifdef NNQS_HAVE_OPENMP
#pragma omp parallel for schedule(static) if (par) num_threads(team())
#endif
  for (index_t b = 0; b < nb_; ++b) {
    const index_t v0 = b * BV, v1 = std::min(v0 + BV, nuv_);
#ifdef NNQS_F32_X86
    if (simd_) {
      table512().bwd[d_](W_, b1_, a_, bstd, s, v0, v1, E_.data(), ns_, mask_.data(), ns_);
      continue;
    }
#endif
    std::vector<float> acc(static_cast<size_t>(K * VL));
    bwd_portable(W_, b1_, a_, bstd, s, v0, v1, d_, E_.data(), ns_, mask_.data(), ns_, acc.data());
  }
  double se = 0.0;
  for (index_t i = 0; i < n_; ++i) se += e_[i];
  b2_ -= lr_ * num / den * b_std_ * se;
  fwd_valid_ = mask_valid_ = false;
  ++step_;
}

const double* GDStepReLU1F32::forward_train() {
  forward(xs_.data(), ns_, n_, part_.data(), mask_.data(), f_.data());
  mask_valid_ = true;
  fwd_valid_ = false;  // e_ / loss_ are not the supervised residual any more
  return f_.data();
}

void GDStepReLU1F32::apply_gradient(const double* dL_df) {
  std::copy(dL_df, dL_df + n_, e_.begin());
  backward_update(1.0, 1.0);
}

double GDStepReLU1F32::train_loss() {
  ensure_forward();
  return loss_;
}

double GDStepReLU1F32::test_loss() {
  if (nt_ == 0) return std::numeric_limits<double>::quiet_NaN();
  forward(xts_.data(), nts_, nt_, partt_.data(), nullptr, ft_.data());
  double s = 0.0;
  for (index_t i = 0; i < nt_; ++i) {
    const double r = ft_[i] - yt_[i];
    s += r * r;
  }
  return s / static_cast<double>(nt_);
}

GDRunResult GDStepReLU1F32::run(index_t n_steps, const index_t* rec_steps, index_t n_rec, double* train_loss_out,
                                double* test_loss_out, double* train_pred_out, double* test_pred_out,
                                double early_stop_rtol) {
  require(n_steps >= 0, "GDStepReLU1F32::run: n_steps must be >= 0");
  return detail::run_recording_loop(*this, n_steps, rec_steps, n_rec, train_loss_out, test_loss_out, train_pred_out,
                                    test_pred_out, early_stop_rtol);
}

void GDStepReLU1F32::predict(const double* x, index_t m, double* out) const {
  if (m == 0) return;
  const index_t ms = round_up(m, 4);
  const std::vector<float> xs = scaled_rows(x, m, d_, ms, cw_);
  std::vector<float> part(static_cast<size_t>(nb_ * ms));
  forward(xs.data(), ms, m, part.data(), nullptr, out);
}

void GDStepReLU1F32::get_params(double* W1, double* b1, double* a, double* b2) const {
  for (index_t j = 0; j < N_; ++j) {
    const index_t v = j / VL, l = j % VL;
    for (index_t k = 0; k < d_; ++k) W1[j * d_ + k] = W_[(v * d_ + k) * VL + l];
    b1[j] = b1_[j];
    a[j] = a_[j];
  }
  *b2 = b2_;
}

}  // namespace nnqs
