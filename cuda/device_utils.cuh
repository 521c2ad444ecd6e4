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

}  // namespace nnqs_cuda
