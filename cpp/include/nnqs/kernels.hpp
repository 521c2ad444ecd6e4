// nnqs/kernels.hpp — fused element-wise passes of the QS-NTK kernels (no Python, no BLAS inside).
//
// The Python layer forms the Gram products (x x'^T, sigma(h) sigma(h')^T, ...) with BLAS GEMM/SYRK tile by
// tile; these functions do the one fused element-wise pass per tile and write straight into the big output
// matrix (row stride `ld`, tile origin already applied to the pointer). `upper` tiles are diagonal tiles of a
// symmetric result: only j >= i is written, and mirror_upper() fills the lower triangle at the end.
#pragma once
#include <vector>

#include "nnqs/common.hpp"

namespace nnqs {

// The SIMD instruction set the analytic ReLU Gram runs on here (Highway's name of the target dispatched on this
// CPU, e.g. "AVX3" = AVX-512, "AVX2"), or "none" for a build without Highway (portable float64 loop).
const char* simd_target();

// Infinite-width ReLU NNGP / NTK (NTK parameterisation, `depth` hidden layers, arc-cosine recursion) from the
// input Gram tile g[i*cols + j] = x1_i . x2_j and the squared norms sq1[i] = |x1_i|^2, sq2[j] = |x2_j|^2.
// nngp / ntk may be null (not requested). mode 0: plain tile; mode 1: diagonal tile of a symmetric result (g
// valid on and above its diagonal; both triangles of the tile are written); mode 2: off-diagonal tile of a
// symmetric result, also written transposed at nngp_t / ntk_t (the (j0, i0) tile origin, same row stride).
// g may be null: then x1 (rows x d) and x2 (cols x d), row-major, are given and the dot products are formed on
// the fly inside the fused pass (no Gram buffer; the better choice for small input dimension d).
// Built with Highway (NNQS_HAVE_HWY): SIMD in T precision (float32 tiles in float32), each symmetric off-diagonal
// block stored to both halves while hot; returns true when every stored value is finite (checked in registers).
// Without Highway: the portable float64 loop; returns false (finiteness not checked: the caller scans).
// stream: allow streaming (non-temporal) stores for large, vector-aligned outputs — pass true only when the
// output pages are already mapped (e.g. reused pool blocks): on fresh pages, which the OS zeroes through the cache
// on first touch, plain stores measured ~1.8x faster.
template <class T>
bool relu_kernel_tile(const T* g, index_t rows, index_t cols, const T* sq1, const T* sq2, T* nngp, T* ntk, index_t ld,
                      int depth, double W_std, double b_std, int d, int mode, T* nngp_t, T* ntk_t,
                      const T* x1 = nullptr, const T* x2 = nullptr, bool stream = false);

// out[i, j] = alpha * base[i, j] + beta + sum_p B_p[i, j] * (gamma_p * C_p[i, j] + delta_p)
// (base may be null: then alpha * base is dropped). Tiles B_p, C_p, base are rows x cols C-contiguous.
// This is the per-layer NTK sum Theta = sum_l G_delta^l (c_l G_h^{l-1} + b^2) of a fully connected network.
template <class T>
void fused_ntk_tile(T* out, index_t ld, index_t rows, index_t cols, const T* base, double alpha, double beta,
                    const std::vector<const T*>& B, const std::vector<const T*>& C, const std::vector<double>& gamma,
                    const std::vector<double>& delta, bool upper);

// Stationary kernels of Cos-net / Gauss-net (Eq. 4, S27) with an optional dot-product factor:
// out[i, j] = amp * exp(-scale * max(0, sq1_i + sq2_j - 2 g_ij)) * (c0 + c1 * g_ij).
template <class T>
void stationary_tile(const T* g, index_t rows, index_t cols, const T* sq1, const T* sq2, T* out, index_t ld, double amp,
                     double scale, double c0, double c1, bool upper);

// First-layer ReLU features in one pass (no pre-activation matrix): with z_ij = bias_j + sum_k a0[i, k] wt[k, j]
// (a0: rows x in_dim, wt: in_dim x cols, both C-contiguous), h[i, j] = relu(z_ij) * hscale and
// dh[i, j] = step(z_ij) * v[j] * dscale (step(0) = 0). The sum runs in T, bias first, then k = 0, 1, ...
template <class T>
void relu_layer_features(const T* a0, index_t in_dim, const T* wt, const T* bias, const T* v, T* h, T* dh, index_t rows,
                         index_t cols, double hscale, double dscale);

// Copy the upper triangle of the n x n C-contiguous matrix m to its lower triangle (blocked, OpenMP).
template <class T>
void mirror_upper(T* m, index_t n);

// theta = t1 - t2, phi = t1 + t2 (S10-S11 with zero mixing), n elements.
template <class T>
void combine_decoupled(const T* t1, const T* t2, T* theta, T* phi, index_t n);

}  // namespace nnqs
