// Fused full-batch gradient-descent step for an ensemble of M one-hidden-layer ReLU networks (issue 5/7), NTK
// parameterisation (cw = W_std/sqrt(d), cv = W_std/sqrt(N), cb = b_std):
//   z_ij = cw W_j . x_i + cb b0_j,   f_i = cv sum_j v_j relu(z_ij) + cb b1,   g_i = (2/n)(f_i - y_i)
//   dL/dv_j = cv sum_i relu(z_ij) g_i,   dL/db0_j = cv v_j cb sum_{i: z_ij>0} g_i,
//   dL/dW_jk = cv v_j cw sum_{i: z_ij>0} g_i x_ik,   dL/db1 = cb sum_i g_i.
// The n x N pre-activations are never stored: the forward kernel recomputes z on the fly (input dim d <= 32, held
// in registers), the backward kernel recomputes it again. Four launches per step, no allocation, all reductions in
// a fixed order (bit-reproducible for fixed sizes):
//   1. gd_fwd_kernel     grid (ceil(n/128), splits_j, M), 128 threads = samples; hidden units streamed through
//                        shared memory 64 at a time; partial readouts per hidden split.
//   2. gd_finish_kernel  grid (ceil(n/256), M): f, g and block sums of the squared residuals.
//   3. gd_bwd_kernel     grid (ceil(N/128), splits_i, M), 128 threads = hidden units; samples (x_i, g_i) streamed
//                        through shared memory 64 at a time; d+2 partial sums per unit and sample split.
//   4. gd_update_kernel  grid (ceil(N/128), M): sums the sample splits, applies theta -= lr grad to W, b0, v;
//      gd_b1_kernel      one block per network for b1. Networks with active[m] == 0 are frozen (early stop).
//   gd_monitor_kernel (between 2 and 3): per-network loss, divergence / early-stop detection, freezing.
#include <cuda_runtime.h>
#include <cmath>
#include "cuda_check.hpp"
#include "device_utils.cuh"
#include "nnqs_kernels.hpp"

namespace nnqs_cuda {

namespace {
constexpr int FWD_THREADS = 128, FWD_JT = 64;
constexpr int BWD_THREADS = 128, BWD_IT = 64;
constexpr int FIN_THREADS = 256;
constexpr int MAXD = GD_MAX_D;

template <class T>
__global__ void __launch_bounds__(FWD_THREADS)
    gd_fwd_kernel(long long N, int d, long long n, const T* __restrict__ x, const T* __restrict__ W,
                  const T* __restrict__ b0, const T* __restrict__ v, T* __restrict__ fpart, int splits_j, T cw, T cb) {
  __shared__ T sw[FWD_JT][MAXD];
  __shared__ T sb[FWD_JT], sv[FWD_JT];
  const long long m = blockIdx.z;
  const int sj = blockIdx.y;
  const long long i = blockIdx.x * (long long)FWD_THREADS + threadIdx.x;
  const long long chunk = (N + splits_j - 1) / splits_j;
  const long long j0 = sj * chunk, j1 = (j0 + chunk < N) ? j0 + chunk : N;
  T xi[MAXD];
#pragma unroll
  for (int k = 0; k < MAXD; ++k) xi[k] = (i < n && k < d) ? x[i * d + k] : T(0);
  const T* Wm = W + m * N * d;
  const T* bm = b0 + m * N;
  const T* vm = v + m * N;
  T acc = T(0);
  for (long long jt = j0; jt < j1; jt += FWD_JT) {
    const int cnt = static_cast<int>((j1 - jt) < FWD_JT ? (j1 - jt) : FWD_JT);
    __syncthreads();
    for (int e = threadIdx.x; e < FWD_JT * MAXD; e += FWD_THREADS) {
      const int jj = e / MAXD, k = e % MAXD;
      sw[jj][k] = (jj < cnt && k < d) ? Wm[(jt + jj) * d + k] : T(0);
    }
    for (int jj = threadIdx.x; jj < FWD_JT; jj += FWD_THREADS) {
      sb[jj] = jj < cnt ? bm[jt + jj] : T(0);
      sv[jj] = jj < cnt ? vm[jt + jj] : T(0);
    }
    __syncthreads();
    for (int jj = 0; jj < cnt; ++jj) {
      T z = T(0);
#pragma unroll
      for (int k = 0; k < MAXD; ++k)
        if (k < d) z += xi[k] * sw[jj][k];
      z = cw * z + cb * sb[jj];
      if (z > T(0)) acc += sv[jj] * z;
    }
  }
  if (i < n) fpart[(m * splits_j + sj) * n + i] = acc;
}

template <class T>
__global__ void __launch_bounds__(FIN_THREADS)
    gd_finish_kernel(long long n, const T* __restrict__ fpart, int splits_j, const T* __restrict__ b1,
                     const T* __restrict__ y, T* __restrict__ f, T* __restrict__ g, double* __restrict__ sse_part, T cv,
                     T cb) {
  const long long m = blockIdx.y;
  const long long i = blockIdx.x * (long long)FIN_THREADS + threadIdx.x;
  double e2 = 0.0;
  if (i < n) {
    T s = T(0);
    for (int sj = 0; sj < splits_j; ++sj) s += fpart[(m * splits_j + sj) * n + i];
    const T fi = cv * s + cb * b1[m];
    if (f) f[m * n + i] = fi;
    if (y) {
      const T e = fi - y[m * n + i];
      g[m * n + i] = (T(2) / static_cast<T>(n)) * e;
      e2 = static_cast<double>(e) * static_cast<double>(e);
    }
  }
  if (y && sse_part) {
    e2 = block_reduce_sum(e2);
    if (threadIdx.x == 0) sse_part[m * gridDim.x + blockIdx.x] = e2;
  }
}

template <class T>
__global__ void __launch_bounds__(BWD_THREADS)
    gd_bwd_kernel(long long N, int d, long long n, const T* __restrict__ x, const T* __restrict__ W,
                  const T* __restrict__ b0, const T* __restrict__ g, T* __restrict__ gpart, int splits_i, T cw, T cb) {
  __shared__ T sx[BWD_IT][MAXD];
  __shared__ T sg[BWD_IT];
  const long long m = blockIdx.z;
  const int si = blockIdx.y;
  const long long j = blockIdx.x * (long long)BWD_THREADS + threadIdx.x;
  const long long chunk = (n + splits_i - 1) / splits_i;
  const long long i0 = si * chunk, i1 = (i0 + chunk < n) ? i0 + chunk : n;
  T wj[MAXD], aw[MAXD];
#pragma unroll
  for (int k = 0; k < MAXD; ++k) {
    wj[k] = (j < N && k < d) ? W[(m * N + j) * d + k] : T(0);
    aw[k] = T(0);
  }
  const T bj = j < N ? cb * b0[m * N + j] : T(0);
  const T* gm = g + m * n;
  T ab = T(0), av = T(0);
  for (long long it = i0; it < i1; it += BWD_IT) {
    const int cnt = static_cast<int>((i1 - it) < BWD_IT ? (i1 - it) : BWD_IT);
    __syncthreads();
    for (int e = threadIdx.x; e < BWD_IT * MAXD; e += BWD_THREADS) {
      const int ii = e / MAXD, k = e % MAXD;
      sx[ii][k] = (ii < cnt && k < d) ? x[(it + ii) * d + k] : T(0);
    }
    for (int ii = threadIdx.x; ii < BWD_IT; ii += BWD_THREADS) sg[ii] = ii < cnt ? gm[it + ii] : T(0);
    __syncthreads();
    for (int ii = 0; ii < cnt; ++ii) {
      T z = T(0);
#pragma unroll
      for (int k = 0; k < MAXD; ++k)
        if (k < d) z += wj[k] * sx[ii][k];
      z = cw * z + bj;
      if (z > T(0)) {
        const T gi = sg[ii];
        av += z * gi;
        ab += gi;
#pragma unroll
        for (int k = 0; k < MAXD; ++k)
          if (k < d) aw[k] += gi * sx[ii][k];
      }
    }
  }
  if (j < N) {
    T* out = gpart + ((m * splits_i + si) * N + j) * (d + 2);
#pragma unroll
    for (int k = 0; k < MAXD; ++k)
      if (k < d) out[k] = aw[k];
    out[d] = ab;
    out[d + 1] = av;
  }
}

template <class T>
__global__ void gd_update_kernel(long long N, int d, const T* __restrict__ gpart, int splits_i, T* __restrict__ W,
                                 T* __restrict__ b0, T* __restrict__ v, T cw, T cv, T cb, T lr,
                                 const int* __restrict__ active) {
  const long long m = blockIdx.y;
  const long long j = blockIdx.x * (long long)blockDim.x + threadIdx.x;
  if (j >= N || (active && !active[m])) return;
  const long long stride = N * (d + 2);
  const T* p = gpart + (m * splits_i * N + j) * (d + 2);
  const T vj = v[m * N + j];
  T* Wj = W + (m * N + j) * d;
  for (int k = 0; k < d + 2; ++k) {
    T s = T(0);
    for (int si = 0; si < splits_i; ++si) s += p[si * stride + k];
    if (k < d)
      Wj[k] -= lr * (cv * vj * cw * s);
    else if (k == d)
      b0[m * N + j] -= lr * (cv * vj * cb * s);
    else
      v[m * N + j] = vj - lr * (cv * s);
  }
}

template <class T>
__global__ void gd_b1_kernel(long long n, const T* __restrict__ g, T* __restrict__ b1, T cb, T lr,
                             const int* __restrict__ active) {
  const long long m = blockIdx.x;
  if (active && !active[m]) return;  // uniform over the block
  double s = 0.0;
  for (long long i = threadIdx.x; i < n; i += blockDim.x) s += static_cast<double>(g[m * n + i]);
  s = block_reduce_sum(s);
  if (threadIdx.x == 0) b1[m] -= lr * cb * static_cast<T>(s);
}

__global__ void gd_monitor_kernel(long long M, long long n, const double* __restrict__ sse_part, long long nb,
                                  double rtol, long long t, double* __restrict__ loss, double* __restrict__ prev,
                                  int* __restrict__ active, long long* __restrict__ stop_step,
                                  int* __restrict__ status) {
  const long long m = blockIdx.x * (long long)blockDim.x + threadIdx.x;
  if (m >= M) return;
  double s = 0.0;
  for (long long b = 0; b < nb; ++b) s += sse_part[m * nb + b];
  const double L = s / static_cast<double>(n);
  loss[m] = L;
  if (!active[m]) return;
  const double p = prev[m];
  if (!isfinite(L)) {
    status[m] = 2;
    active[m] = 0;
    stop_step[m] = t;
  } else if (rtol > 0.0 && isfinite(p) && fabs(p - L) <= rtol * p) {
    status[m] = 1;
    active[m] = 0;
    stop_step[m] = t;
  }
  prev[m] = L;
}

void check_shape(const GDShape& s) {
  if (s.M < 1 || s.N < 1 || s.d < 1) throw cuda_error("gd step: M, N and d must be positive");
  if (s.d > GD_MAX_D) throw cuda_error("gd step: the fused CUDA step supports input dimension d <= 32");
  if (s.M > 65535) throw cuda_error("gd step: at most 65535 networks per call");
}
}  // namespace

int gd_forward_splits(const GDShape& s, long long n) {
  // aim for >= ~2048 blocks in flight (H100: 132 SMs), each split keeping >= 256 hidden units
  const long long base = ((n + FWD_THREADS - 1) / FWD_THREADS) * s.M;
  long long sp = (2048 + base - 1) / base;
  const long long maxsp = (s.N + 255) / 256;
  if (sp > maxsp) sp = maxsp;
  if (sp > 64) sp = 64;
  return static_cast<int>(sp < 1 ? 1 : sp);
}

int gd_backward_splits(const GDShape& s, long long n) {
  const long long base = ((s.N + BWD_THREADS - 1) / BWD_THREADS) * s.M;
  long long sp = (2048 + base - 1) / base;
  const long long maxsp = (n + 255) / 256;
  if (sp > maxsp) sp = maxsp;
  if (sp > 64) sp = 64;
  return static_cast<int>(sp < 1 ? 1 : sp);
}

long long gd_reduce_blocks(long long n) { return (n + FIN_THREADS - 1) / FIN_THREADS; }

template <class T>
void gd_forward_partial(const GDShape& s, const T* x, long long n, const T* W, const T* b0, const T* v, T* fpart,
                        int splits_j, cudaStream_t stream) {
  check_shape(s);
  if (n <= 0) return;
  const long long gx = (n + FWD_THREADS - 1) / FWD_THREADS;
  if (gx > 2147483647LL || splits_j < 1 || splits_j > 65535) throw cuda_error("gd forward: bad launch shape");
  dim3 grid(static_cast<unsigned>(gx), static_cast<unsigned>(splits_j), static_cast<unsigned>(s.M));
  const T cw = static_cast<T>(s.W_std / std::sqrt(static_cast<double>(s.d)));
  gd_fwd_kernel<T><<<grid, FWD_THREADS, 0, stream>>>(s.N, static_cast<int>(s.d), n, x, W, b0, v, fpart, splits_j, cw,
                                                     static_cast<T>(s.b_std));
  NNQS_CUDA_CHECK_LAUNCH();
}

template <class T>
void gd_finish_forward(const GDShape& s, long long n, const T* fpart, int splits_j, const T* b1, const T* y, T* f, T* g,
                       double* sse_part, cudaStream_t stream) {
  check_shape(s);
  if (n <= 0) return;
  if (y && !g) throw cuda_error("gd finish: g is required with y");
  dim3 grid(static_cast<unsigned>(gd_reduce_blocks(n)), static_cast<unsigned>(s.M));
  const T cv = static_cast<T>(s.W_std / std::sqrt(static_cast<double>(s.N)));
  gd_finish_kernel<T>
      <<<grid, FIN_THREADS, 0, stream>>>(n, fpart, splits_j, b1, y, f, g, sse_part, cv, static_cast<T>(s.b_std));
  NNQS_CUDA_CHECK_LAUNCH();
}

template <class T>
void gd_backward_partial(const GDShape& s, const T* x, long long n, const T* W, const T* b0, const T* g, T* gpart,
                         int splits_i, cudaStream_t stream) {
  check_shape(s);
  if (n <= 0) return;
  const long long gx = (s.N + BWD_THREADS - 1) / BWD_THREADS;
  if (splits_i < 1 || splits_i > 65535) throw cuda_error("gd backward: bad launch shape");
  dim3 grid(static_cast<unsigned>(gx), static_cast<unsigned>(splits_i), static_cast<unsigned>(s.M));
  const T cw = static_cast<T>(s.W_std / std::sqrt(static_cast<double>(s.d)));
  gd_bwd_kernel<T><<<grid, BWD_THREADS, 0, stream>>>(s.N, static_cast<int>(s.d), n, x, W, b0, g, gpart, splits_i, cw,
                                                     static_cast<T>(s.b_std));
  NNQS_CUDA_CHECK_LAUNCH();
}

template <class T>
void gd_update(const GDShape& s, long long n, const T* gpart, int splits_i, const T* g, T* W, T* b0, T* v, T* b1,
               double lr, const int* active, cudaStream_t stream) {
  check_shape(s);
  const T cw = static_cast<T>(s.W_std / std::sqrt(static_cast<double>(s.d)));
  const T cv = static_cast<T>(s.W_std / std::sqrt(static_cast<double>(s.N)));
  dim3 grid(static_cast<unsigned>((s.N + 127) / 128), static_cast<unsigned>(s.M));
  gd_update_kernel<T><<<grid, 128, 0, stream>>>(s.N, static_cast<int>(s.d), gpart, splits_i, W, b0, v, cw, cv,
                                                static_cast<T>(s.b_std), static_cast<T>(lr), active);
  NNQS_CUDA_CHECK_LAUNCH();
  gd_b1_kernel<T>
      <<<static_cast<unsigned>(s.M), 256, 0, stream>>>(n, g, b1, static_cast<T>(s.b_std), static_cast<T>(lr), active);
  NNQS_CUDA_CHECK_LAUNCH();
}

void gd_monitor(long long M, long long n, const double* sse_part, long long nb, double rtol, long long t, double* loss,
                double* prev, int* active, long long* stop_step, int* status, cudaStream_t stream) {
  if (M <= 0) return;
  gd_monitor_kernel<<<static_cast<unsigned>((M + 127) / 128), 128, 0, stream>>>(M, n, sse_part, nb, rtol, t, loss, prev,
                                                                                active, stop_step, status);
  NNQS_CUDA_CHECK_LAUNCH();
}

#define NNQS_GD_INSTANTIATE(T)                                                                                       \
  template void gd_forward_partial<T>(const GDShape&, const T*, long long, const T*, const T*, const T*, T*, int,    \
                                      cudaStream_t);                                                                 \
  template void gd_finish_forward<T>(const GDShape&, long long, const T*, int, const T*, const T*, T*, T*, double*,  \
                                     cudaStream_t);                                                                  \
  template void gd_backward_partial<T>(const GDShape&, const T*, long long, const T*, const T*, const T*, T*, int,   \
                                       cudaStream_t);                                                                \
  template void gd_update<T>(const GDShape&, long long, const T*, int, const T*, T*, T*, T*, T*, double, const int*, \
                             cudaStream_t);
NNQS_GD_INSTANTIATE(float)
NNQS_GD_INSTANTIATE(double)
#undef NNQS_GD_INSTANTIATE

}  // namespace nnqs_cuda
