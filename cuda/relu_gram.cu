// Analytic infinite-width ReLU NNGP/NTK Gram block (issue 3/7), fused element-wise after the cuBLAS GEMM that
// forms G = x1 x2^T. NTK parameterisation (neural-tangents Dense(W_std, b_std) + Relu, depth L, scalar readout):
//   K0 = W^2 x.x'/d + b^2,  Theta0 = K0
//   K_{l+1} = W^2 sqrt(K_l(x,x) K_l(x',x')) (sin t + (pi - t) cos t)/(2 pi) + b^2,  cos t = K_l / sqrt(..)
//   Theta_{l+1} = K_{l+1} + W^2 (pi - t)/(2 pi) Theta_l,  K_{l+1}(x,x) = W^2 K_l(x,x)/2 + b^2
// The recursion runs in double for both float32 and float64 storage (accurate arccos near the diagonal; FP64 is
// full rate on A100/H100). Launch: 2-D grid-stride over the rows x cols block, 32x8 threads, coalesced along rows.
// May run in place (nngp or ntk == G): each element is read and written by the same thread.
#include <cuda_runtime.h>
#include "cuda_check.hpp"
#include "device_utils.cuh"
#include "nnqs_kernels.hpp"

namespace nnqs_cuda {

namespace {
template <class T>
__global__ void relu_gram_kernel(const T* G, const T* __restrict__ sq1, const T* __restrict__ sq2, T* nngp, T* ntk,
                                 long long rows, long long cols, long long ld, int depth, double W2, double b2,
                                 double inv_d) {
  for (long long i = blockIdx.y * (long long)blockDim.y + threadIdx.y; i < rows;
       i += (long long)gridDim.y * blockDim.y) {
    const double kxx0 = W2 * static_cast<double>(sq1[i]) * inv_d + b2;
    for (long long j = blockIdx.x * (long long)blockDim.x + threadIdx.x; j < cols;
         j += (long long)gridDim.x * blockDim.x) {
      const long long t = i * ld + j;
      double kxy = W2 * static_cast<double>(G[t]) * inv_d + b2;
      double kxx = kxx0, kyy = W2 * static_cast<double>(sq2[j]) * inv_d + b2;
      double th = kxy;
      for (int l = 0; l < depth; ++l) relu_layer(kxy, kxx, kyy, th, W2, b2);
      if (nngp) nngp[t] = static_cast<T>(kxy);
      if (ntk) ntk[t] = static_cast<T>(th);
    }
  }
}

template <class T>
__global__ void stationary_gram_kernel(const T* G, const T* __restrict__ sq1, const T* __restrict__ sq2, T* nngp,
                                       T* ntk, long long rows, long long cols, long long ld, double amp,
                                       double scale, double c0, double c1) {
  for (long long i = blockIdx.y * (long long)blockDim.y + threadIdx.y; i < rows;
       i += (long long)gridDim.y * blockDim.y) {
    const double s1 = static_cast<double>(sq1[i]);
    for (long long j = blockIdx.x * (long long)blockDim.x + threadIdx.x; j < cols;
         j += (long long)gridDim.x * blockDim.x) {
      const long long t = i * ld + j;
      const double g = static_cast<double>(G[t]);
      const double k = amp * exp(-scale * fmax(0.0, s1 + static_cast<double>(sq2[j]) - 2.0 * g));
      if (nngp) nngp[t] = static_cast<T>(k);
      if (ntk) ntk[t] = static_cast<T>(k * (c0 + c1 * g));
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
  stationary_gram_kernel<T><<<gram_grid(rows, cols), dim3(32, 8), 0, stream>>>(G, sq1, sq2, nngp, ntk, rows, cols,
                                                                               ld, amp, scale, c0, c1);
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
  relu_gram_kernel<T><<<gram_grid(rows, cols), dim3(32, 8), 0, stream>>>(G, sq1, sq2, nngp, ntk, rows, cols, ld, depth, W_std * W_std,
                                                  b_std * b_std, 1.0 / d);
  NNQS_CUDA_CHECK_LAUNCH();
}

template void relu_gram<float>(const float*, const float*, const float*, float*, float*, long long, long long,
                               long long, int, double, double, double, cudaStream_t);
template void relu_gram<double>(const double*, const double*, const double*, double*, double*, long long, long long,
                                long long, int, double, double, double, cudaStream_t);

}  // namespace nnqs_cuda
