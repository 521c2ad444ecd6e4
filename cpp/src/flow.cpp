// The fused Walsh-domain energy-flow step (nnqs/flow.hpp).
#include "nnqs/flow.hpp"

#include <algorithm>
#include <vector>

namespace nnqs {

namespace {

constexpr index_t W = kFlowLanes;
// Rows per block: the unit of parallel work (with a panel) and of the fixed-order reduction.
constexpr index_t RB = 128;
// Below this many multiply-adds per step a parallel region costs more than it saves (results do not depend on it).
constexpr double kParallelWork = 2e6;

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define NNQS_FLOW_HOT __attribute__((target_clones("arch=x86-64-v3", "default")))
#else
#define NNQS_FLOW_HOT
#endif

// One panel, rows [r0, r1): hu = A u; q[l] = Σ_rows u², s[l] = Σ_rows u · hu per lane. A row of a panel is two
// 4-double vectors (GCC/Clang vector extensions; the AVX2 clone keeps each in one register).
typedef double v4d __attribute__((vector_size(32)));

NNQS_FLOW_HOT void product_block(const CsrView& a, const double* u, double* hu, index_t r0, index_t r1, double* q,
                                 double* s) {
  static_assert(W == 8, "two 4-double vectors per panel row");
  const index_t* ip = a.indptr;
  const index_t* ix = a.indices;
  const double* ax = a.data;
  v4d q0 = {0, 0, 0, 0}, q1 = q0, s0 = q0, s1 = q0;
  for (index_t i = r0; i < r1; ++i) {
    v4d h0 = {0, 0, 0, 0}, h1 = h0;
    for (index_t p = ip[i]; p < ip[i + 1]; ++p) {
      const double v = ax[p];
      v4d x0, x1;
      __builtin_memcpy(&x0, u + ix[p] * W, sizeof(v4d));
      __builtin_memcpy(&x1, u + ix[p] * W + 4, sizeof(v4d));
      h0 += v * x0;
      h1 += v * x1;
    }
    v4d u0, u1;
    __builtin_memcpy(&u0, u + i * W, sizeof(v4d));
    __builtin_memcpy(&u1, u + i * W + 4, sizeof(v4d));
    __builtin_memcpy(hu + i * W, &h0, sizeof(v4d));
    __builtin_memcpy(hu + i * W + 4, &h1, sizeof(v4d));
    q0 += u0 * u0;
    q1 += u1 * u1;
    s0 += u0 * h0;
    s1 += u1 * h1;
  }
  for (int l = 0; l < 4; ++l) {
    q[l] = q0[l];
    q[4 + l] = q1[l];
    s[l] = s0[l];
    s[4 + l] = s1[l];
  }
}

// One panel, rows [r0, r1): g = coef ⊙ λ_part ⊙ (hu − e u); u −= g (update) or hu = g. pf[l] ∈ {0, 1}: the part
// (ψ1 or ψ2) of lane l, λ_part = λ0 (1 − pf) + λ1 pf (exact for pf ∈ {0, 1}).
NNQS_FLOW_HOT void update_block(double* u, double* hu, const double* lam, const double* coef, const double* ec,
                                const double* pf, bool update, index_t r0, index_t r1) {
  v4d c0, c1, e0, e1, p0, p1;
  __builtin_memcpy(&c0, coef, sizeof(v4d));
  __builtin_memcpy(&c1, coef + 4, sizeof(v4d));
  __builtin_memcpy(&e0, ec, sizeof(v4d));
  __builtin_memcpy(&e1, ec + 4, sizeof(v4d));
  __builtin_memcpy(&p0, pf, sizeof(v4d));
  __builtin_memcpy(&p1, pf + 4, sizeof(v4d));
  const v4d q0 = 1.0 - p0, q1 = 1.0 - p1;
  for (index_t i = r0; i < r1; ++i) {
    double* ui = u + i * W;
    double* hi = hu + i * W;
    const double l0 = lam[2 * i], l1 = lam[2 * i + 1];
    v4d u0, u1, h0, h1;
    __builtin_memcpy(&u0, ui, sizeof(v4d));
    __builtin_memcpy(&u1, ui + 4, sizeof(v4d));
    __builtin_memcpy(&h0, hi, sizeof(v4d));
    __builtin_memcpy(&h1, hi + 4, sizeof(v4d));
    const v4d g0 = (l0 * q0 + l1 * p0) * c0 * (h0 - e0 * u0);
    const v4d g1 = (l0 * q1 + l1 * p1) * c1 * (h1 - e1 * u1);
    if (update) {
      u0 -= g0;
      u1 -= g1;
      __builtin_memcpy(ui, &u0, sizeof(v4d));
      __builtin_memcpy(ui + 4, &u1, sizeof(v4d));
    } else {
      __builtin_memcpy(hi, &g0, sizeof(v4d));
      __builtin_memcpy(hi + 4, &g1, sizeof(v4d));
    }
  }
}

}  // namespace

void walsh_energy_step(const CsrView& a, index_t k, index_t m, double* u, double* hu, const double* lam, double factor,
                       bool update, double* e, double* n2, int threads) {
  require(k > 0 && a.n > 0, "walsh_energy_step: need at least one state and one basis state");
  require(m >= 2 * k && m % W == 0, "walsh_energy_step: the column count must be >= 2K and a multiple of 8");
  const index_t n = a.n, np = m / W, nb = n_blocks(n, RB), tasks = np * nb;
  std::vector<double> q(static_cast<size_t>(nb * m)), s(static_cast<size_t>(nb * m));
  const int team = threads > 0 ? threads : max_threads();
  // an explicit thread count is obeyed; the default team only for enough work
  const bool par = threads > 1 || (threads <= 0 && team > 1 &&
                                   static_cast<double>(a.indptr[n]) * static_cast<double>(m) >= kParallelWork);
  (void)team;
  (void)par;
#pragma omp parallel for schedule(static) if (par) num_threads(team)
  for (index_t t = 0; t < tasks; ++t) {
    const index_t pnl = t / nb, b = t % nb;
    product_block(a, u + pnl * n * W, hu + pnl * n * W, b * RB, std::min(n, (b + 1) * RB), q.data() + b * m + pnl * W,
                  s.data() + b * m + pnl * W);
  }
  std::vector<double> coef(static_cast<size_t>(m), 0.0), ec(static_cast<size_t>(m), 0.0);
  std::vector<double> part(static_cast<size_t>(m), 0.0);
  for (index_t j = 0; j < k; ++j) {
    double qq = 0.0, ss = 0.0;
    for (index_t b = 0; b < nb; ++b) {  // block order: independent of the thread count
      qq += q[b * m + j] + q[b * m + k + j];
      ss += s[b * m + j] + s[b * m + k + j];
    }
    n2[j] = qq;
    e[j] = ss / qq;
    coef[j] = coef[k + j] = 2.0 * factor / qq;
    ec[j] = ec[k + j] = e[j];
    part[k + j] = 1.0;
  }
#pragma omp parallel for schedule(static) if (par) num_threads(team)
  for (index_t t = 0; t < tasks; ++t) {
    const index_t pnl = t / nb, b = t % nb;
    update_block(u + pnl * n * W, hu + pnl * n * W, lam, coef.data() + pnl * W, ec.data() + pnl * W,
                 part.data() + pnl * W, update, b * RB, std::min(n, (b + 1) * RB));
  }
}

}  // namespace nnqs
