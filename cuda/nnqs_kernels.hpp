// Host entry points of the nnqs_fast CUDA kernels. Every function launches on the given stream (CuPy's current
// stream), checks the launch with NNQS_CUDA_CHECK_LAUNCH and never synchronises. Device buffers are allocated by
// the caller (CuPy), so the CuPy memory pool sees every allocation. Matrices are row-major (C order).
#pragma once
#include <cuda_runtime.h>

#include "nnqs/kernel_math.hpp"

namespace nnqs_cuda {

// ---------------------------------------------------------------------------------------------------------------
// (1) Structured empirical NTK: one layer's contribution on one output tile.
//   v(i,j) = (D ? D[i,j] : 1) * (c * H[i,j] + b2)
//   out[r0+i, c0+j] = (accumulate ? out[r0+i, c0+j] : 0) + v(i,j)
// D, H: rows x cols tile buffers with leading dimension ldt (the rank-N products from cuBLAS).
// diag: the tile is a symmetric diagonal tile (rows == cols, r0 == c0) whose D, H hold only the upper triangle
//       (cuBLAS SYRK); the full tile is written.   mirror: also write out[c0+j, r0+i] = the same value (the
//       transposed tile of a symmetric output, for off-diagonal tiles).
// ---------------------------------------------------------------------------------------------------------------
enum TileFlags : int { TILE_ACCUMULATE = 1, TILE_DIAG = 2, TILE_MIRROR = 4 };

template <class T>
void ntk_tile_accumulate(T* out, long long ld_out, long long r0, long long c0, const T* D, const T* H, long long ldt,
                         long long rows, long long cols, double c, double b2, int flags, cudaStream_t stream);

// In place on a square n x n block (leading dimension ld): a[i,j] = a[j,i] for i > j (upper triangle mirrored, so
// a symmetric kernel is exactly symmetric, as on the CPU path). Lower elements are only written, upper only read.
template <class T>
void mirror_upper(T* a, long long n, long long ld, cudaStream_t stream);

// ---------------------------------------------------------------------------------------------------------------
// (2) Analytic infinite-width ReLU NNGP/NTK (arc-cosine recursion, NTK parameterisation), element-wise on a
// rows x cols block whose G holds the raw dot products x1_i . x2_j (from a cuBLAS GEMM).
//   sq1[i] = |x1_i|^2, sq2[j] = |x2_j|^2; d = input dimension; depth L >= 1 hidden layers.
// nngp/ntk may be null (not wanted); either may alias G (in place). ld: leading dimension of G, nngp, ntk.
// ---------------------------------------------------------------------------------------------------------------
template <class T>
void relu_gram(const T* G, const T* sq1, const T* sq2, T* nngp, T* ntk, long long rows, long long cols, long long ld,
               int depth, double W_std, double b_std, double d, cudaStream_t stream);

// Stationary (Cos-net / Gauss-net) kernels from the same dot products, element-wise, in double:
//   nngp = amp exp(-scale max(0, |x|^2 + |x'|^2 - 2 x.x')),   ntk = nngp (c0 + c1 x.x')
// nngp/ntk may be null or alias G.
template <class T>
void stationary_gram(const T* G, const T* sq1, const T* sq2, T* nngp, T* ntk, long long rows, long long cols,
                     long long ld, double amp, double scale, double c0, double c1, cudaStream_t stream);

// ---------------------------------------------------------------------------------------------------------------
// (3) Wick contraction pieces, float64, kernels evaluated on the fly from the inputs x (n_rows x d) with the
// functions of nnqs/kernel_math.hpp (KernelSpec, KernelFamily: zero, rbf, relu, delta, relu_ntk). For the ReLU
// families input_dim <= 0 means the row length d. C = K1 + K2, P = K1 - K2. Sizes whose index arithmetic would
// leave the 64-bit range throw nnqs::size_error.
// ---------------------------------------------------------------------------------------------------------------
using KernelSpec = nnqs::KernelSpec;

// partial[block] (length: wick_ptrace_blocks(P)): block sums of
//   sum_{p,p'} ( sum_q C(x[p*sp + q*sq], x[p'*sp + q*sq]) )^2   into partial_c, and the same with P into
//   partial_p (may be null). With Q = 1 this is ||C||_F^2 (and ||P||_F^2).
long long wick_ptrace_blocks(long long P);
void wick_ptrace_frob2(const double* x, const double* sq, long long d, long long P, long long Q, long long sp,
                       long long sq_stride, KernelSpec k1, KernelSpec k2, double* partial_c, double* partial_p,
                       cudaStream_t stream);
// diag[i] = C(x_i, x_i) for i < n.
void wick_diag(const double* x, const double* sq, long long d, long long n, KernelSpec k1, KernelSpec k2, double* diag,
               cudaStream_t stream);
// partial[block] (length wick_pp_blocks(DA, DB)): block sums of
//   sum_{a,a',b,b'} P(x[a*DB+b], x[a'*DB+b']) * P(x[a'*DB+b], x[a*DB+b'])
long long wick_pp_blocks(long long DA, long long DB);
void wick_pp_term(const double* x, const double* sq, long long d, long long DA, long long DB, KernelSpec k1,
                  KernelSpec k2, double* partial, cudaStream_t stream);

// ---------------------------------------------------------------------------------------------------------------
// (4) Fused gradient-descent step of M one-hidden-layer ReLU networks (NTK parameterisation) sharing the inputs:
//   f_m(x) = (W_std/sqrt(N)) sum_j v[m,j] relu((W_std/sqrt(d)) W[m,j,:] . x + b_std b0[m,j]) + b_std b1[m]
// Loss (1/n) sum_i (f_m(x_i) - y[m,i])^2 per network; g = dL/df = (2/n)(f - y).
// Inputs x: (n, d) with d <= GD_MAX_D. Work buffers sized by the *_size helpers.
// ---------------------------------------------------------------------------------------------------------------
constexpr int GD_MAX_D = 32;

struct GDShape {
  long long M = 0, N = 0, d = 0;
  double W_std = 0.5, b_std = 0.1;
};

// forward: fpart (M, splits_j, n) partial readout sums; splits_j from gd_forward_splits.
int gd_forward_splits(const GDShape& s, long long n);
template <class T>
void gd_forward_partial(const GDShape& s, const T* x, long long n, const T* W, const T* b0, const T* v, T* fpart,
                        int splits_j, cudaStream_t stream);
// f (M, n) = sum over splits + bias; if y != null: g = (2/n)(f - y) (M, n) and sse_part (M, gd_reduce_blocks(n))
// block sums of (f - y)^2 (in double).
long long gd_reduce_blocks(long long n);
template <class T>
void gd_finish_forward(const GDShape& s, long long n, const T* fpart, int splits_j, const T* b1, const T* y, T* f, T* g,
                       double* sse_part, cudaStream_t stream);
// backward: gpart (M, splits_i, N, d + 2) partial sums over samples; splits_i from gd_backward_splits.
int gd_backward_splits(const GDShape& s, long long n);
template <class T>
void gd_backward_partial(const GDShape& s, const T* x, long long n, const T* W, const T* b0, const T* g, T* gpart,
                         int splits_i, cudaStream_t stream);
// update: sums the partials in a fixed order and applies theta -= lr * dL/dtheta to W, b0, v, b1 of the networks
// with active[m] != 0 (active may be null: all).
template <class T>
void gd_update(const GDShape& s, long long n, const T* gpart, int splits_i, const T* g, T* W, T* b0, T* v, T* b1,
               double lr, const int* active, cudaStream_t stream);
// per-step monitor (one thread per network, after the forward pass of step t): loss[m] = sum(sse_part[m,:])/n;
// for active networks: a non-finite loss sets status 2 (diverged), |prev - loss| <= rtol * prev (rtol > 0, prev
// finite) sets status 1 (converged); either deactivates the network and sets stop_step[m] = t; prev[m] = loss.
void gd_monitor(long long M, long long n, const double* sse_part, long long nb, double rtol, long long t, double* loss,
                double* prev, int* active, long long* stop_step, int* status, cudaStream_t stream);

}  // namespace nnqs_cuda
