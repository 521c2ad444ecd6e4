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

// One panel, rows [r0, r1): hu = A u; q[l] = Σ_rows u², s[l] = Σ_rows u · hu per lane.
NNQS_FLOW_HOT void product_block(const CsrView& a, const double* u, double* hu, index_t r0, index_t r1, double* q,
                                 double* s) {
  double qa[W] = {}, sa[W] = {};
  for (index_t i = r0; i < r1; ++i) {
    double h[W] = {};
    for (index_t p = a.indptr[i]; p < a.indptr[i + 1]; ++p) {
      const double v = a.data[p];
      const double* x = u + a.indices[p] * W;
      for (index_t l = 0; l < W; ++l) h[l] += v * x[l];
    }
    const double* ui = u + i * W;
    double* hi = hu + i * W;
    for (index_t l = 0; l < W; ++l) {
      hi[l] = h[l];
      qa[l] += ui[l] * ui[l];
      sa[l] += ui[l] * h[l];
    }
  }
  for (index_t l = 0; l < W; ++l) {
    q[l] = qa[l];
    s[l] = sa[l];
  }
}

// One panel, rows [r0, r1): g = coef ⊙ λ_part ⊙ (hu − e u); u −= g (update) or hu = g.
NNQS_FLOW_HOT void update_block(double* u, double* hu, const double* lam, const double* coef, const double* ec,
                                const index_t* part, bool update, index_t r0, index_t r1) {
  for (index_t i = r0; i < r1; ++i) {
    double* ui = u + i * W;
    double* hi = hu + i * W;
    double g[W];
    for (index_t l = 0; l < W; ++l) g[l] = lam[2 * i + part[l]] * coef[l] * (hi[l] - ec[l] * ui[l]);
    if (update) {
      for (index_t l = 0; l < W; ++l) ui[l] -= g[l];
    } else {
      for (index_t l = 0; l < W; ++l) hi[l] = g[l];
    }
  }
}

}  // namespace

void walsh_energy_step(const CsrView& a, index_t k, index_t m, double* u, double* hu, const double* lam,
                       double factor, bool update, double* e, double* n2, int threads) {
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
    product_block(a, u + pnl * n * W, hu + pnl * n * W, b * RB, std::min(n, (b + 1) * RB),
                  q.data() + b * m + pnl * W, s.data() + b * m + pnl * W);
  }
  std::vector<double> coef(static_cast<size_t>(m), 0.0), ec(static_cast<size_t>(m), 0.0);
  std::vector<index_t> part(static_cast<size_t>(m), 0);
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
    part[k + j] = 1;
  }
#pragma omp parallel for schedule(static) if (par) num_threads(team)
  for (index_t t = 0; t < tasks; ++t) {
    const index_t pnl = t / nb, b = t % nb;
    update_block(u + pnl * n * W, hu + pnl * n * W, lam, coef.data() + pnl * W, ec.data() + pnl * W,
                 part.data() + pnl * W, update, b * RB, std::min(n, (b + 1) * RB));
  }
}

}  // namespace nnqs
