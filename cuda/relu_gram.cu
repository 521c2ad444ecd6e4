// Analytic infinite-width ReLU NNGP/NTK Gram block, fused element-wise after the cuBLAS GEMM that forms
// G = x1 x2^T: the arc-cosine recursion of nnqs/kernel_math.hpp (NTK parameterisation, depth L, scalar readout),
// and the stationary Cos-net / Gauss-net kernels. The recursion runs in double for both float32 and float64 storage (accurate arccos near the diagonal; FP64 is
// full rate on A100/H100). Launch: 2-D grid-stride over the rows x cols block, 32x8 threads, coalesced along rows.
// May run in place (nngp or ntk == G): each element is read and written by the same thread.
#include <cuda_runtime.h>
#include "cuda_check.hpp"
#include "device_utils.cuh"
#include "nnqs/kernel_math.hpp"
#include "nnqs_kernels.hpp"

namespace nnqs_cuda {

namespace {
template <class T>
__global__ void relu_gram_kernel(const T* G, const T* __restrict__ sq1, const T* __restrict__ sq2, T* nngp, T* ntk,
                                 long long rows, long long cols, long long ld, int depth, double W2, double b2,
                                 double wd) {
  for (long long i = blockIdx.y * (long long)blockDim.y + threadIdx.y; i < rows;
       i += (long long)gridDim.y * blockDim.y) {
    const double s1 = static_cast<double>(sq1[i]);
    for (long long j = blockIdx.x * (long long)blockDim.x + threadIdx.x; j < cols;
         j += (long long)gridDim.x * blockDim.x) {
      const long long t = i * ld + j;
      double k = 0.0, th = 0.0;
      nnqs::km::relu_kernel_pair(static_cast<double>(G[t]), s1, static_cast<double>(sq2[j]), depth, W2, b2, wd, k, th);
      if (nngp) nngp[t] = static_cast<T>(k);
      if (ntk) ntk[t] = static_cast<T>(th);
    }
  }
}

template <class T>
__global__ void stationary_gram_kernel(const T* G, const T* __restrict__ sq1, const T* __restrict__ sq2, T* nngp,
                                       T* ntk, long long rows, long long cols, long long ld, double amp, double scale,
                                       double c0, double c1) {
  for (long long i = blockIdx.y * (long long)blockDim.y + threadIdx.y; i < rows;
       i += (long long)gridDim.y * blockDim.y) {
    const double s1 = static_cast<double>(sq1[i]);
    for (long long j = blockIdx.x * (long long)blockDim.x + threadIdx.x; j < cols;
         j += (long long)gridDim.x * blockDim.x) {
      const long long t = i * ld + j;
      const double g = static_cast<double>(G[t]);
      const double k = nnqs::km::rbf(amp, scale, nnqs::km::sq_dist(g, s1, static_cast<double>(sq2[j])));
      if (nngp) nngp[t] = static_cast<T>(k);
      if (ntk) ntk[t] = static_cast<T>(nnqs::km::stationary_ntk(k, c0, c1, g));
    }
  }
}

dim3 gram_grid(long long rows, long long cols) {
  long long gx = (cols + 31) / 32, gy = (rows + 7) / 8;
  if (gx > 4096) gx = 4096;
  if (gy > 8192) gy = 8192;
  return dim3(static_cast<unsigned>(gx), static_cast<unsigned>(gy));
}
}  // namespace

template <class T>
void stationary_gram(const T* G, const T* sq1, const T* sq2, T* nngp, T* ntk, long long rows, long long cols,
                     long long ld, double amp, double scale, double c0, double c1, cudaStream_t stream) {
  if (rows <= 0 || cols <= 0) return;
  stationary_gram_kernel<T>
      <<<gram_grid(rows, cols), dim3(32, 8), 0, stream>>>(G, sq1, sq2, nngp, ntk, rows, cols, ld, amp, scale, c0, c1);
  NNQS_CUDA_CHECK_LAUNCH();
}

template void stationary_gram<float>(const float*, const float*, const float*, float*, float*, long long, long long,
                                     long long, double, double, double, double, cudaStream_t);
template void stationary_gram<double>(const double*, const double*, const double*, double*, double*, long long,
                                      long long, long long, double, double, double, double, cudaStream_t);

template <class T>
void relu_gram(const T* G, const T* sq1, const T* sq2, T* nngp, T* ntk, long long rows, long long cols, long long ld,
               int depth, double W_std, double b_std, double d, cudaStream_t stream) {
  if (rows <= 0 || cols <= 0) return;
  if (depth < 1) throw cuda_error("relu_gram: depth must be >= 1");
  if (!(d > 0.0)) throw cuda_error("relu_gram: the input dimension d must be > 0");
  const double w2 = W_std * W_std;
  relu_gram_kernel<T><<<gram_grid(rows, cols), dim3(32, 8), 0, stream>>>(G, sq1, sq2, nngp, ntk, rows, cols, ld, depth,
                                                                         w2, b_std * b_std, w2 / d);
  NNQS_CUDA_CHECK_LAUNCH();
}

template void relu_gram<float>(const float*, const float*, const float*, float*, float*, long long, long long,
                               long long, int, double, double, double, cudaStream_t);
template void relu_gram<double>(const double*, const double*, const double*, double*, double*, long long, long long,
                                long long, int, double, double, double, cudaStream_t);

}  // namespace nnqs_cuda
