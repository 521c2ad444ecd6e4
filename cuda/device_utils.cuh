// Small device helpers shared by the nnqs_fast CUDA kernels (header-only, included by the .cu files).
#pragma once
#include <cuda_runtime.h>

namespace nnqs_cuda {

// Sum of `v` over the block (any blockDim up to 1024); the result is valid in thread 0. Fixed reduction order,
// so results are bit-reproducible for a fixed launch configuration.
__device__ inline double block_reduce_sum(double v) {
  __shared__ double warp_sums[32];
  const unsigned tid = threadIdx.x + blockDim.x * (threadIdx.y + blockDim.y * threadIdx.z);
  const unsigned nthreads = blockDim.x * blockDim.y * blockDim.z;
  const unsigned lane = tid & 31u, warp = tid >> 5;
  for (int off = 16; off > 0; off >>= 1) v += __shfl_down_sync(0xffffffffu, v, off);
  if (lane == 0) warp_sums[warp] = v;
  __syncthreads();
  const unsigned nwarps = (nthreads + 31) / 32;
  v = (tid < nwarps) ? warp_sums[tid] : 0.0;
  if (warp == 0) {
    for (int off = 16; off > 0; off >>= 1) v += __shfl_down_sync(0xffffffffu, v, off);
  }
  __syncthreads();  // warp_sums may be reused by a following call
  return v;
}

constexpr double kPi = 3.14159265358979323846;

// One hidden ReLU layer of the infinite-width recursion (NTK parameterisation), in double:
// given the pre-activation covariances kxy, kxx, kyy and the NTK ntk, returns the next layer's values in place.
__device__ inline void relu_layer(double& kxy, double& kxx, double& kyy, double& ntk, double W2, double b2) {
  const double s = sqrt(kxx * kyy);
  double e_act = 0.0, e_der = 0.0;
  if (s > 0.0) {
    double c = kxy / s;
    c = fmin(1.0, fmax(-1.0, c));
    const double th = acos(c);
    e_act = s * (sqrt(fmax(0.0, 1.0 - c * c)) + (kPi - th) * c) / (2.0 * kPi);  // E[relu(u) relu(u')]
    e_der = (kPi - th) / (2.0 * kPi);                                            // E[step(u) step(u')]
  }
  kxy = W2 * e_act + b2;
  ntk = kxy + W2 * e_der * ntk;
  kxx = 0.5 * W2 * kxx + b2;
  kyy = 0.5 * W2 * kyy + b2;
}

}  // namespace nnqs_cuda
