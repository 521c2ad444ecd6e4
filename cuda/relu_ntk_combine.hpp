#pragma once
#include <cuda_runtime.h>

namespace nnqs_cuda {
template <class T>
void relu_ntk_combine(T* a, const T* b, const T* g, long long n, double c_act, double c_der, double c_dot,
                      double b_std2, cudaStream_t stream);
}
