// relu_gram_simd.hpp — private interface of the SIMD ReLU Gram tile (cpp/src/relu_gram_simd.cpp, Highway).
#pragma once
#include "nnqs/common.hpp"

namespace nnqs::detail {

// One call of nnqs::relu_kernel_tile (see nnqs/kernels.hpp for the meaning of every field).
template <class T>
struct ReluTileArgs {
  const T* g = nullptr;  // Gram tile rows x cols (row stride cols), or null: x1 . x2 formed on the fly
  const T* x1 = nullptr;
  const T* x2 = nullptr;
  int d = 1;
  index_t rows = 0, cols = 0;
  const T* sq1 = nullptr;
  const T* sq2 = nullptr;
  T* nngp = nullptr;
  T* ntk = nullptr;
  index_t ld = 0;
  int mode = 0;
  T* nngp_t = nullptr;
  T* ntk_t = nullptr;
  int depth = 1;
  double W_std = 0.0, b_std = 0.0;
  bool stream = false;  // streaming stores allowed (outputs already faulted in)
};

// True when the SIMD implementation is compiled in (NNQS_HAVE_HWY).
bool relu_tile_simd_available();
// Runs the tile on the best SIMD target of this CPU (Highway dynamic dispatch); returns true when every value
// written is finite (the check is fused into the stores: no second pass over the output).
bool relu_tile_simd(const ReluTileArgs<float>& a);
bool relu_tile_simd(const ReluTileArgs<double>& a);
// Name of the SIMD target the dispatch picks on this CPU (e.g. "AVX3", "AVX2"), or "none".
const char* relu_tile_simd_target();

}  // namespace nnqs::detail
