// nnqs/flow.hpp — the fused step of the constant-kernel energy flow in the Walsh domain
// (python/nnqs_fast/dynamics/_walsh.py; docs/groundstate.md).
//
// K states ψ̃_k = W ψ_k are held as real columns: column k is Re ψ̃_k, column K + k is Im ψ̃_k, columns 2K..M−1 are
// zero padding (M a multiple of kFlowLanes). The columns are stored in panels of kFlowLanes: u has shape
// (M / kFlowLanes, D, kFlowLanes) row-major, so one row of a panel is one 64-byte cache line and a panel
// (D · 64 bytes) stays in L2 while the sparse product gathers its rows. With the real sparse H̃ = W H W (CSR) and the kernel eigenvalues λ (D, 2: part 0 for the real columns,
// part 1 for the imaginary columns), one call computes, per state,
//   n_k = Σ_x |ψ̃_k(x)|²,  E_k = ⟨ψ̃_k|H̃|ψ̃_k⟩ / n_k,  g = factor · λ ⊙ 2 (H̃u − E u) / n   (per column),
// and either updates u ← u − g (update = true: one gradient-descent step with factor = η) or leaves g in hu
// (update = false: the velocity of the continuous-time flow). Two passes over the rows: H̃u with the per-column
// sums (in fixed row blocks, reduced in block order: bit-identical for any thread count), then the update.
#pragma once
#include "nnqs/common.hpp"

namespace nnqs {

struct CsrView {
  index_t n;               // rows = columns
  const index_t* indptr;   // n + 1
  const index_t* indices;  // nnz
  const double* data;      // nnz
};

constexpr index_t kFlowLanes = 8;

// u: (m / kFlowLanes, n, kFlowLanes) with m >= 2k a multiple of kFlowLanes (padding columns zero); hu: same shape, scratch (holds g on return when !update); lam: (n, 2);
// e, n2: k outputs (energy and norm² of the states in u before the step). threads <= 0: the core's default
// team when the step is large enough to gain from it; threads > 0: exactly that many.
void walsh_energy_step(const CsrView& a, index_t k, index_t m, double* u, double* hu, const double* lam, double factor,
                       bool update, double* e, double* n2, int threads);

}  // namespace nnqs
