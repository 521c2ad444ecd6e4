// nnqs/walsh.hpp — the fast Walsh–Hadamard transform, the package's one home for it
// (python/nnqs_fast/dynamics/_walsh.py: fwht_rows; dynamics/ensemble.py: the XOR-kernel test sums).
//
// Convention: the normalised transform Ĥ = H^{⊗L} / √D on vectors of length D = 2^L, H = [[1, 1], [1, −1]],
// Ĥ(s, x) = (−1)^{popcount(s & x)} / √D (real, symmetric, Ĥ² = 1). Basis index x of the spin basis in NetKet's
// all_states() order (bit b of x is site L − 1 − b); the transform does not depend on the order of the sites.
//
// Implementation: kWalshLanes vectors are transformed together in one lane-interleaved panel (element x of lane l
// at p[x · kWalshLanes + l]), so every butterfly is one full-width vector operation; two stages per pass
// (radix 4), the stages with short strides run on sub-blocks that stay in L1/L2. Each vector is transformed
// independently and every sum has a fixed order: results are bit-identical for any thread count.
#pragma once
#include "nnqs/common.hpp"

namespace nnqs {

constexpr index_t kWalshLanes = 8;

// In place: each of the r rows of x (r × d, row-major, d a power of two) becomes Ĥ x_row.
// threads <= 0: the core's default team (for enough work); > 0: exactly that many.
void fwht_rows(double* x, index_t r, index_t d, int threads);

// out[k] = Σ_s spec[s] (Ĥ ṽ_k)(s)² for k < c, where ṽ_k ∈ R^d is column k of v (n × c, element (i, k) at
// v[i · row_stride + k · col_stride]: row- or column-major, no copy) scattered to the basis positions idx[0..n)
// (in [0, d)) and zero elsewhere: diag(Vᵀ A_BB V) for the XOR kernel A = Ĥ diag(spec) Ĥ restricted to the
// rows/columns idx (O(c d log d) instead of an O(n² c) product).
void xor_diag_congruence(const double* v, index_t n, index_t c, index_t row_stride, index_t col_stride,
                         const index_t* idx, index_t d, const double* spec, double* out, int threads);

}  // namespace nnqs
