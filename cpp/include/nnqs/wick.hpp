// nnqs/wick.hpp — on-the-fly Wick contractions of the GP-limit Rényi-2 estimate (paper Eqs. 1–2, S36–S39).
//
// Setting. The full basis is a product basis x = (a, b), a in subsystem A, b in B, with network inputs the
// concatenation x = (x_A, x_B). Every built-in kernel depends on a pair of inputs only through
// (dot = x·y, n1 = |x|², n2 = |y|²), and each of the three splits additively over the bipartition:
//   dot = G_A[a,a'] + G_B[b,b'],  n1 = nA[a] + nB[b],  n2 = nA[a'] + nB[b'].
// So a pair of full-basis points is a pair (A-pair, B-pair), and a "pair table" lists triples
// (dot, n1, n2) with an integer weight (how many index pairs share that triple; 1 each when not compressed).
//
// With C = K1 + K2 = E[ψψ*] and P = K1 − K2 = E[ψψ] (ψ = f1 + i f2, f1 ~ GP(K1), f2 ~ GP(K2) independent):
//   numerator   E Σ ψ(a1b1)ψ(a2b2)ψ*(a2b1)ψ*(a1b2) = Tr R_A² + Tr R_B² + PP,   R_A = Tr_B C, R_B = Tr_A C,
//               PP = Σ P(a1b1, a2b2) P(a2b1, a1b2);
//   denominator E (Σ|ψ|²)² = (Tr C)² + ‖C‖_F² + ‖P‖_F².
// Two primitives compute all of these without storing any D×D matrix:
//   pair_sums:         Σ_{i∈T_A, j∈T_B} w_i w_j {C², P², P·P_swap}(t_i ⊕ t_j)          — O(|T_A|·|T_B|)
//   partial_trace_sums: R_i = Σ_{j∈diag} w_j C(t_i ⊕ d_j);  returns Σ_i w_i R_i and Σ_i w_i R_i²  — O(|T|·|diag|)
// (R_A(a,a') = Σ_b C((a,b),(a',b)) uses the B diagonal b = b'.) The CUDA module (cuda/wick.cu) evaluates the same
// kernel functions (nnqs/kernel_math.hpp) from the inputs directly, without pair tables.
#pragma once
#include <cstdint>

#include "nnqs/common.hpp"
#include "nnqs/kernel_math.hpp"

namespace nnqs {

// The kernels (families, parameters and formulas) live in nnqs/kernel_math.hpp. Wick tables carry products and
// norms, so a kernel is evaluated with r2 = n1 + n2 - 2 dot.
inline double kernel_eval(const KernelSpec& k, double dot, double n1, double n2) {
  return km::kernel_value(k, dot, n1, n2, n1 + n2 - 2.0 * dot);
}

// A KernelSpec from Python's (family code, params[4]) convention (GPKernel.param_array()):
//   rbf (amp, gamma), relu / relu_ntk (W_std, b_std, depth, input_dim), delta (amp,), zero ().
// Throws invalid_argument for an unknown family or invalid parameters.
KernelSpec kernel_spec_from_params(int family, const double* p);

// Struct-of-arrays pair table: n rows of (dot, n1, n2, weight).
struct PairTable {
  const double* dot;
  const double* n1;
  const double* n2;
  const double* w;
  index_t n;
};

struct PairSums {
  double frob_c2 = 0.0;  // Σ w C²
  double frob_p2 = 0.0;  // Σ w P²
  double pp_swap = 0.0;  // Σ w P(dot, n1A+n1B, n2A+n2B) P(dot, n2A+n1B, n1A+n2B)
};

// same = true means K2 == K1 (then P ≡ 0 and only frob_c2 is computed, with C = 2 K1).
// Both primitives sum in a fixed order that depends only on the table sizes (rows are split into fixed chunks
// whose partial sums are added serially), so results are bit-identical for any thread count or schedule.
// Tables with a.n * b.n beyond int64 are refused with size_error.
PairSums pair_sums(const KernelSpec& k1, const KernelSpec& k2, bool same, const PairTable& a, const PairTable& b,
                   index_t tile = 4096);

struct PartialTraceSums {
  double lin = 0.0;  // Σ_i w_i R_i
  double sq = 0.0;   // Σ_i w_i R_i²
};

// diag rows are (dot, n, n, w) entries of the other subsystem's diagonal pairs (b, b).
PartialTraceSums partial_trace_sums(const KernelSpec& k1, const KernelSpec& k2, bool same, const PairTable& pairs,
                                    const PairTable& diag);

}  // namespace nnqs
