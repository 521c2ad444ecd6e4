// Error checking for the nnqs_fast._cuda module: every CUDA call goes through NNQS_CUDA_CHECK, which
// throws a C++ exception carrying the CUDA error string (pybind11 turns it into a Python RuntimeError).
#pragma once
#include <cuda_runtime.h>
#include <stdexcept>
#include <string>

namespace nnqs_cuda {

struct cuda_error : std::runtime_error {
  using std::runtime_error::runtime_error;
};

inline void check(cudaError_t err, const char* what, const char* file, int line) {
  if (err != cudaSuccess) {
    throw cuda_error(std::string("CUDA error in ") + what + " (" + file + ":" + std::to_string(line) +
                     "): " + cudaGetErrorName(err) + ": " + cudaGetErrorString(err));
  }
}

// Launch-configuration helper: enough 1-D blocks for n items, capped to stay within the grid limit.
inline unsigned grid_1d(long long n, unsigned block) {
  long long g = (n + block - 1) / block;
  if (g < 1) g = 1;
  if (g > 65535LL * 32) g = 65535LL * 32;
  return static_cast<unsigned>(g);
}

}  // namespace nnqs_cuda

#define NNQS_CUDA_CHECK(expr) ::nnqs_cuda::check((expr), #expr, __FILE__, __LINE__)
#define NNQS_CUDA_CHECK_LAUNCH() ::nnqs_cuda::check(cudaGetLastError(), "kernel launch", __FILE__, __LINE__)
