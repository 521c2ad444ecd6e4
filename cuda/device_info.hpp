#pragma once
#include <string>

namespace nnqs_cuda {

struct DeviceStatus {
  bool usable = false;
  int device_count = 0;
  int runtime_version = 0;
  int driver_version = 0;
  int compute_capability = 0;
  long long total_memory = 0;
  std::string name;
  std::string reason;  // why not usable
};

DeviceStatus device_status();

// Comma-separated SM architectures the kernels were compiled for (from nvcc's __CUDA_ARCH_LIST__), e.g. "800,900".
std::string compiled_archs();

}  // namespace nnqs_cuda
