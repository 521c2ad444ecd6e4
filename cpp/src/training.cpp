// Fused full-batch gradient descent of a one-hidden-layer ReLU network (see nnqs/training.hpp).
#include "nnqs/training.hpp"

#include "gd_run_loop.hpp"

#include <algorithm>
#include <cmath>
#include <limits>

#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wpsabi"  // the v4 helpers are always inlined into the target clones
#endif

namespace nnqs {

namespace {

// Below this many multiply-adds per sweep a parallel region costs more than it saves (and on a loaded machine
// every barrier waits for a descheduled thread): run serially. Results do not depend on this choice.
constexpr double kParallelWork = 4e6;

constexpr index_t U = 8;    // hidden units per micro-kernel (vector width of the inner loops)
constexpr index_t JB = 32;  // hidden units per block: the unit of parallel work and of the fixed-order reduction

// Portable wheels are compiled without -march; the two hot kernels get an AVX2+FMA clone chosen at load time.
#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define NNQS_HOT __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define NNQS_HOT
#endif

// Forward sweep of one block [j0, j0+jb) (jb a multiple of U) over m samples:
// partial[i] = sum_{j in block} a_j relu(bb_j + sum_k xs_ik Wt_kj).
NNQS_HOT void fwd_block(const double* Wt, index_t Np, index_t j0, index_t jb, const double* bb, const double* a,
                        const double* xs, index_t m, index_t d, double* partial) {
  for (index_t i = 0; i < m; ++i) {
    const double* xi = xs + i * d;
    double acc[U] = {0, 0, 0, 0, 0, 0, 0, 0};
    for (index_t jj = 0; jj < jb; jj += U) {
      double z[U];
      for (index_t u = 0; u < U; ++u) z[u] = bb[jj + u];
      const double* w = Wt + j0 + jj;
      for (index_t k = 0; k < d; ++k) {
        const double xk = xi[k];
        const double* wk = w + k * Np;
        for (index_t u = 0; u < U; ++u) z[u] += xk * wk[u];
      }
      for (index_t u = 0; u < U; ++u) acc[u] += a[jj + u] * (z[u] > 0.0 ? z[u] : 0.0);
    }
    partial[i] = ((acc[0] + acc[4]) + (acc[1] + acc[5])) + ((acc[2] + acc[6]) + (acc[3] + acc[7]));
  }
}

// Backward sweep of one block: g[k*jb + j] = sum_i e_i 1[z_ij > 0] xs_ik, ga[j] = sum_i e_i relu(z_ij),
// gb[j] = sum_i e_i 1[z_ij > 0].
NNQS_HOT void bwd_block(const double* Wt, index_t Np, index_t j0, index_t jb, const double* bb, const double* xs,
                        const double* e, index_t m, index_t d, double* g, double* ga, double* gb) {
  std::fill(g, g + d * jb, 0.0);
  std::fill(ga, ga + jb, 0.0);
  std::fill(gb, gb + jb, 0.0);
  for (index_t i = 0; i < m; ++i) {
    const double* xi = xs + i * d;
    const double ei = e[i];
    for (index_t jj = 0; jj < jb; jj += U) {
      double z[U];
      for (index_t u = 0; u < U; ++u) z[u] = bb[jj + u];
      const double* w = Wt + j0 + jj;
      for (index_t k = 0; k < d; ++k) {
        const double xk = xi[k];
        const double* wk = w + k * Np;
        for (index_t u = 0; u < U; ++u) z[u] += xk * wk[u];
      }
      double mm[U];
      for (index_t u = 0; u < U; ++u) {
        const bool on = z[u] > 0.0;
        mm[u] = on ? ei : 0.0;
        ga[jj + u] += ei * (on ? z[u] : 0.0);
        gb[jj + u] += mm[u];
      }
      for (index_t k = 0; k < d; ++k) {
        const double xk = xi[k];
        double* gk = g + k * jb + jj;
        for (index_t u = 0; u < U; ++u) gk[u] += mm[u] * xk;
      }
    }
  }
}

// ---- register-blocked kernels for a compile-time input dimension D (GCC/Clang vector extensions) ----
typedef double v4 __attribute__((vector_size(32)));
typedef double v4u __attribute__((vector_size(32), aligned(8)));

inline v4 bc(double s) { return v4{s, s, s, s}; }
inline v4 ld(const double* p) { return *reinterpret_cast<const v4u*>(p); }
inline void st(double* p, v4 v) { *reinterpret_cast<v4u*>(p) = v; }

// Forward, vectorised over 4 samples at a time: xsT is (D, ms) (samples padded with zeros to ms, a multiple of
// 4); partial[i] for i < ms. The 4-sample input tile stays in registers while the block's units stream by.
template <int D>
inline __attribute__((always_inline)) void fwd_block_v(const double* Wt, index_t Np, index_t j0, index_t jb,
                                                       const double* bb, const double* a, const double* xsT, index_t ms,
                                                       double* partial) {
  const v4 zero = bc(0.0);
  for (index_t i = 0; i < ms; i += 4) {
    v4 xk[D];
    for (int k = 0; k < D; ++k) xk[k] = ld(xsT + k * ms + i);
    v4 f = zero;
    for (index_t j = 0; j < jb; ++j) {
      v4 z = bc(bb[j]);
      const double* w = Wt + j0 + j;
      for (int k = 0; k < D; ++k) z += bc(w[k * Np]) * xk[k];
      f += bc(a[j]) * (z > zero ? z : zero);
    }
    st(partial + i, f);
  }
}

// Backward, 4 units at a time with the 4 x D gradient accumulators in registers over all samples.
template <int D>
inline __attribute__((always_inline)) void bwd_block_v(const double* Wt, index_t Np, index_t j0, index_t jb,
                                                       const double* bb, const double* xs, const double* e, index_t m,
                                                       double* g, double* ga, double* gb) {
  const v4 zero = bc(0.0);
  for (index_t q = 0; q < jb; q += 4) {
    v4 acc[D];
    for (int k = 0; k < D; ++k) acc[k] = zero;
    v4 gav = zero, gbv = zero;
    const v4 bbv = ld(bb + q);
    const double* w = Wt + j0 + q;
    for (index_t i = 0; i < m; ++i) {
      const double* xi = xs + i * D;
      v4 z = bbv;
      for (int k = 0; k < D; ++k) z += bc(xi[k]) * ld(w + k * Np);
      const v4 ev = bc(e[i]);
      const v4 mk = z > zero ? ev : zero;
      gav += ev * (z > zero ? z : zero);
      gbv += mk;
      for (int k = 0; k < D; ++k) acc[k] += mk * bc(xi[k]);
    }
    for (int k = 0; k < D; ++k) st(g + k * jb + q, acc[k]);
    st(ga + q, gav);
    st(gb + q, gbv);
  }
}

#define NNQS_FWD_V(D)                                                                                                  \
  NNQS_HOT void fwd_block_##D(const double* Wt, index_t Np, index_t j0, index_t jb, const double* bb, const double* a, \
                              const double* xsT, index_t ms, double* partial) {                                        \
    fwd_block_v<D>(Wt, Np, j0, jb, bb, a, xsT, ms, partial);                                                           \
  }                                                                                                                    \
  NNQS_HOT void bwd_block_##D(const double* Wt, index_t Np, index_t j0, index_t jb, const double* bb,                  \
                              const double* xs, const double* e, index_t m, double* g, double* ga, double* gb) {       \
    bwd_block_v<D>(Wt, Np, j0, jb, bb, xs, e, m, g, ga, gb);                                                           \
  }
NNQS_FWD_V(4)
NNQS_FWD_V(6)
NNQS_FWD_V(8)
NNQS_FWD_V(9)
NNQS_FWD_V(12)
NNQS_FWD_V(16)

// The register-blocked kernels exist for these input dimensions (lattices of 4..16 sites); others use the generic
// blocked loops. Both give the same sums in the same order per sample, up to FMA contraction.
using FwdV = void (*)(const double*, index_t, index_t, index_t, const double*, const double*, const double*, index_t,
                      double*);
using BwdV = void (*)(const double*, index_t, index_t, index_t, const double*, const double*, const double*, index_t,
                      double*, double*, double*);
inline FwdV fwd_v(index_t d) {
  switch (d) {
    case 4:
      return fwd_block_4;
    case 6:
      return fwd_block_6;
    case 8:
      return fwd_block_8;
    case 9:
      return fwd_block_9;
    case 12:
      return fwd_block_12;
    case 16:
      return fwd_block_16;
    default:
      return nullptr;
  }
}
inline BwdV bwd_v(index_t d) {
  switch (d) {
    case 4:
      return bwd_block_4;
    case 6:
      return bwd_block_6;
    case 8:
      return bwd_block_8;
    case 9:
      return bwd_block_9;
    case 12:
      return bwd_block_12;
    case 16:
      return bwd_block_16;
    default:
      return nullptr;
  }
}

// (m, d) row-major -> (d, ms) with zero columns m..ms-1.
std::vector<double> transpose_padded(const std::vector<double>& x, index_t m, index_t d, index_t ms) {
  std::vector<double> t(static_cast<size_t>(d * ms), 0.0);
  for (index_t i = 0; i < m; ++i)
    for (index_t k = 0; k < d; ++k) t[k * ms + i] = x[i * d + k];
  return t;
}

}  // namespace

GDStepReLU1::GDStepReLU1(const double* W1, const double* b1, const double* a, double b2, index_t N, index_t d,
                         double W_std, double b_std, const double* x, const double* y, index_t n, double lr,
                         const double* x_test, const double* y_test, index_t n_test)
    : N_(N), d_(d), n_(n), nt_(x_test && y_test ? n_test : 0), W_std_(W_std), b_std_(b_std), lr_(lr), b2_(b2) {
  require(N > 0 && d > 0 && n > 0, "GDStepReLU1: width, input_dim and n must be positive");
  Np_ = (N + U - 1) / U * U;
  nb_ = (Np_ + JB - 1) / JB;
  ca_ = W_std / std::sqrt(static_cast<double>(N));
  cw_ = W_std / std::sqrt(static_cast<double>(d));
  Wt_.assign(static_cast<size_t>(d * Np_), 0.0);
  b1_.assign(static_cast<size_t>(Np_), 0.0);
  a_.assign(static_cast<size_t>(Np_), 0.0);  // padded units have a = 0, W = b = 0: they stay exactly zero
  for (index_t j = 0; j < N; ++j) {
    for (index_t k = 0; k < d; ++k) Wt_[k * Np_ + j] = W1[j * d + k];
    b1_[j] = b1[j];
    a_[j] = a[j];
  }
  xs_.resize(static_cast<size_t>(n * d));
  for (index_t i = 0; i < n * d; ++i) xs_[i] = cw_ * x[i];
  y_.assign(y, y + n);
  xts_.resize(static_cast<size_t>(nt_ * d));
  for (index_t i = 0; i < nt_ * d; ++i) xts_[i] = cw_ * x_test[i];
  if (nt_ > 0) yt_.assign(y_test, y_test + nt_);
  f_.assign(n, 0.0);
  e_.assign(n, 0.0);
  ft_.assign(nt_, 0.0);
  ns_ = (n + 3) / 4 * 4;
  nts_ = (nt_ + 3) / 4 * 4;
  xsT_ = transpose_padded(xs_, n, d, ns_);
  xtsT_ = transpose_padded(xts_, nt_, d, nts_);
  part_.assign(static_cast<size_t>(nb_ * ns_), 0.0);
  partt_.assign(static_cast<size_t>(nb_ * nts_), 0.0);
  gwork_.assign(static_cast<size_t>(nb_ * (d + 2) * JB), 0.0);
}

int GDStepReLU1::team() const { return threads_ > 0 ? threads_ : max_threads(); }

double GDStepReLU1::flops_per_step() const {
  // forward: (2d + 3) per (sample, unit); backward: (4d + 6) per (sample, unit); plus the O(N d) update.
  return static_cast<double>(n_) * static_cast<double>(N_) * (6.0 * d_ + 9.0) + 3.0 * N_ * (d_ + 2);
}

void GDStepReLU1::forward(const double* xs, const double* xsT, index_t m, index_t ms, double* partial,
                          double* out) const {
  if (m == 0) return;
  const bool par = static_cast<double>(m) * static_cast<double>(Np_ * d_) > kParallelWork;
  (void)par;
#ifdef NNQS_HAVE_OPENMP
#pragma omp parallel for schedule(dynamic, 1) if (par) num_threads(team())
#endif
  for (index_t b = 0; b < nb_; ++b) {
    const index_t j0 = b * JB, jb = std::min(JB, Np_ - j0);
    double bb[JB];
    for (index_t j = 0; j < jb; ++j) bb[j] = b_std_ * b1_[j0 + j];
    if (const FwdV f = fwd_v(d_))
      f(Wt_.data(), Np_, j0, jb, bb, a_.data() + j0, xsT, ms, partial + b * ms);
    else
      fwd_block(Wt_.data(), Np_, j0, jb, bb, a_.data() + j0, xs, m, d_, partial + b * ms);
  }
  const double cb2 = b_std_ * b2_;
#ifdef NNQS_HAVE_OPENMP
#pragma omp parallel for schedule(static) if (par) num_threads(team())
#endif
  for (index_t i = 0; i < m; ++i) {
    double s = 0.0;
    for (index_t b = 0; b < nb_; ++b) s += partial[b * ms + i];  // fixed order: thread-count independent
    out[i] = ca_ * s + cb2;
  }
}

void GDStepReLU1::ensure_forward() {
  if (fwd_valid_) return;
  forward(xs_.data(), xsT_.data(), n_, ns_, part_.data(), f_.data());
  double s = 0.0;
  for (index_t i = 0; i < n_; ++i) {
    e_[i] = f_[i] - y_[i];
    s += e_[i] * e_[i];
  }
  loss_ = s / static_cast<double>(n_);
  fwd_valid_ = true;
}

void GDStepReLU1::backward_update() { backward_update(2.0, static_cast<double>(n_)); }

void GDStepReLU1::backward_update(double num, double den) {
  // dL/dtheta = (num/den) sum_i e_i df_i/dtheta (supervised: num/den = 2/n, e = f - y; external residual:
  // 1/1, e = dL/df); every block updates its own units (using the old a_j). The factors are applied in the
  // order lr * num / den so that the supervised path rounds exactly as before.
  const double s = lr_ * num / den * ca_;
  const index_t wlen = (d_ + 2) * JB;
  const bool par = static_cast<double>(n_) * static_cast<double>(Np_ * d_) > kParallelWork;
  (void)par;
#ifdef NNQS_HAVE_OPENMP
#pragma omp parallel for schedule(dynamic, 1) if (par) num_threads(team())
#endif
  for (index_t b = 0; b < nb_; ++b) {
    const index_t j0 = b * JB, jb = std::min(JB, Np_ - j0);
    double bb[JB];
    for (index_t j = 0; j < jb; ++j) bb[j] = b_std_ * b1_[j0 + j];
    double* g = gwork_.data() + b * wlen;
    double* ga = g + d_ * jb;
    double* gb = ga + jb;
    if (const BwdV f = bwd_v(d_))
      f(Wt_.data(), Np_, j0, jb, bb, xs_.data(), e_.data(), n_, g, ga, gb);
    else
      bwd_block(Wt_.data(), Np_, j0, jb, bb, xs_.data(), e_.data(), n_, d_, g, ga, gb);
    for (index_t j = 0; j < jb; ++j) {
      const double aj = a_[j0 + j];
      a_[j0 + j] = aj - s * ga[j];
      b1_[j0 + j] -= s * aj * b_std_ * gb[j];
      for (index_t k = 0; k < d_; ++k) Wt_[k * Np_ + j0 + j] -= s * aj * g[k * jb + j];
    }
  }
  double se = 0.0;
  for (index_t i = 0; i < n_; ++i) se += e_[i];
  b2_ -= lr_ * num / den * b_std_ * se;
  fwd_valid_ = false;
  ++step_;
}

const double* GDStepReLU1::forward_train() {
  forward(xs_.data(), xsT_.data(), n_, ns_, part_.data(), f_.data());
  fwd_valid_ = false;  // e_ / loss_ are not the supervised residual any more
  return f_.data();
}

void GDStepReLU1::apply_gradient(const double* dL_df) {
  // The residual of the supervised step replaced by the caller's dL/df_i (the backward sweep recomputes the
  // pre-activations, so it needs no state from forward_train).
  std::copy(dL_df, dL_df + n_, e_.begin());
  backward_update(1.0, 1.0);
}

double GDStepReLU1::train_loss() {
  ensure_forward();
  return loss_;
}

double GDStepReLU1::test_loss() {
  if (nt_ == 0) return std::numeric_limits<double>::quiet_NaN();
  forward(xts_.data(), xtsT_.data(), nt_, nts_, partt_.data(), ft_.data());
  double s = 0.0;
  for (index_t i = 0; i < nt_; ++i) {
    const double r = ft_[i] - yt_[i];
    s += r * r;
  }
  return s / static_cast<double>(nt_);
}

GDRunResult GDStepReLU1::run(index_t n_steps, const index_t* rec_steps, index_t n_rec, double* train_loss_out,
                             double* test_loss_out, double* train_pred_out, double* test_pred_out,
                             double early_stop_rtol) {
  require(n_steps >= 0, "GDStepReLU1::run: n_steps must be >= 0");
  return detail::run_recording_loop(*this, n_steps, rec_steps, n_rec, train_loss_out, test_loss_out, train_pred_out,
                                    test_pred_out, early_stop_rtol);
}

void GDStepReLU1::predict(const double* x, index_t m, double* out) const {
  const index_t ms = (m + 3) / 4 * 4;
  std::vector<double> xs(static_cast<size_t>(m * d_)), part(static_cast<size_t>(nb_ * ms));
  for (index_t i = 0; i < m * d_; ++i) xs[i] = cw_ * x[i];
  const std::vector<double> xsT = transpose_padded(xs, m, d_, ms);
  forward(xs.data(), xsT.data(), m, ms, part.data(), out);
}

void GDStepReLU1::get_params(double* W1, double* b1, double* a, double* b2) const {
  for (index_t j = 0; j < N_; ++j) {
    for (index_t k = 0; k < d_; ++k) W1[j * d_ + k] = Wt_[k * Np_ + j];
    b1[j] = b1_[j];
    a[j] = a_[j];
  }
  *b2 = b2_;
}

}  // namespace nnqs
