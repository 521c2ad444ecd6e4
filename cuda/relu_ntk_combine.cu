// Fused element-wise pass of the one-hidden-layer ReLU NTK (structured empirical kernel, issue 3):
//   out[i,j] = c_act * A[i,j] + b_std2 + c_der * B[i,j] * (c_dot * G[i,j] + b_std2)
// where A = sigma(h) sigma(h')^T, B = (v*sigma'(h))(v*sigma'(h'))^T and G = x x'^T come from cuBLAS GEMMs.
// Done in place on `a` (the caller's A buffer becomes the kernel), so no extra n1*n2 buffer is allocated.
#include <cuda_runtime.h>
#include "cuda_check.hpp"
#include "relu_ntk_combine.hpp"

namespace nnqs_cuda {

template <class T>
__global__ void relu_ntk_combine_kernel(T* __restrict__ a, const T* __restrict__ b, const T* __restrict__ g,
                                        long long n, T c_act, T c_der, T c_dot, T b_std2) {
  for (long long k = blockIdx.x * (long long)blockDim.x + threadIdx.x; k < n;
       k += (long long)gridDim.x * blockDim.x) {
    a[k] = c_act * a[k] + b_std2 + c_der * b[k] * (c_dot * g[k] + b_std2);
  }
}

template <class T>
void relu_ntk_combine(T* a, const T* b, const T* g, long long n, double c_act, double c_der, double c_dot,
                      double b_std2, cudaStream_t stream) {
  if (n <= 0) return;
  const unsigned block = 256;
  relu_ntk_combine_kernel<T><<<grid_1d(n, block), block, 0, stream>>>(
      a, b, g, n, static_cast<T>(c_act), static_cast<T>(c_der), static_cast<T>(c_dot), static_cast<T>(b_std2));
  NNQS_CUDA_CHECK_LAUNCH();
}

template void relu_ntk_combine<float>(float*, const float*, const float*, long long, double, double, double,
                                      double, cudaStream_t);
template void relu_ntk_combine<double>(double*, const double*, const double*, long long, double, double,
                                       double, double, cudaStream_t);

}  // namespace nnqs_cuda
