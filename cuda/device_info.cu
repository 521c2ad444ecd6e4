// Device discovery for nnqs_fast._cuda: never throws when no driver or device is present.
#include <cuda_runtime.h>
#include <string>
#include "device_info.hpp"

namespace nnqs_cuda {

DeviceStatus device_status() {
  DeviceStatus s;
  int rt = 0;
  if (cudaRuntimeGetVersion(&rt) == cudaSuccess) s.runtime_version = rt;
  int drv = 0;
  if (cudaDriverGetVersion(&drv) == cudaSuccess) s.driver_version = drv;
  int count = 0;
  cudaError_t err = cudaGetDeviceCount(&count);
  if (err != cudaSuccess) {
    s.reason = std::string(cudaGetErrorName(err)) + ": " + cudaGetErrorString(err);
    cudaGetLastError();  // clear the sticky error
    return s;
  }
  s.device_count = count;
  if (count == 0) {
    s.reason = "no CUDA device visible";
    return s;
  }
  cudaDeviceProp prop;
  if (cudaGetDeviceProperties(&prop, 0) == cudaSuccess) {
    s.name = prop.name;
    s.compute_capability = prop.major * 10 + prop.minor;
    s.total_memory = static_cast<long long>(prop.totalGlobalMem);
  }
  s.usable = true;
  return s;
}

#define NNQS_STR2(...) #__VA_ARGS__
#define NNQS_STR(...) NNQS_STR2(__VA_ARGS__)
std::string compiled_archs() {
#ifdef __CUDA_ARCH_LIST__
  return NNQS_STR(__CUDA_ARCH_LIST__);
#else
  return "";
#endif
}

}  // namespace nnqs_cuda
