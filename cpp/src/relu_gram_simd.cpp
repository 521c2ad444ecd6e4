// relu_gram_simd.cpp — the ReLU NNGP/NTK Gram tile on SIMD vectors (Google Highway, dynamic dispatch).
//
// One portable build: Highway compiles the kernel for each x86 target (SSE4, AVX2, AVX-512; NEON on ARM) and
// picks the best one for the CPU at run time (no -march flags). float32 tiles compute in float32 lanes (twice the
// lanes of float64), float64 in float64. The layer formula is nnqs/relu_layer-inl.hpp (shared with the scalar and
// CUDA paths); the arc cosine and square root are Highway's (hwy/contrib/math: Acos, max error 2 ulp).
//
// Work layout, per 128 x 128 block of the output: 4 rows at a time, one SIMD vector of columns; the dot products
// x1_i . x2_j (on the fly for small d, else loaded from the BLAS Gram tile), the `depth` layers and the row-major
// stores all happen while the 4 x lanes values sit in registers. Symmetric results (mode 1, 2) compute each
// off-diagonal block once and store it twice: row-major into its own block, and into a per-thread staging block
// (the row vectors as computed) from which the mirror block is gathered in whole rows as soon as the block is done
// (while hot; scattered 4-entry stores straight into the n x n output measured 2x slower: every one is a separate
// cache-line miss). No second pass over the
// output: the finiteness check is a running sum of (v - v) over the computed vectors. Large aligned outputs are
// written with streaming stores (both halves, whole vectors: no read-for-ownership; see `stream` below).
#include "relu_gram_simd.hpp"

#if NNQS_HAVE_HWY

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <vector>

#include "nnqs/kernel_math.hpp"

// The shared layer formula uses arithmetic operators, which Highway's sizeless SVE/RVV vectors lack: those targets
// are left out (ARM builds use NEON). SSSE3 and AVX3_DL add nothing here over SSE4 and AVX3 (compile time only).
#ifndef HWY_DISABLED_TARGETS
#define HWY_DISABLED_TARGETS (HWY_SVE | HWY_SVE2 | HWY_SVE_256 | HWY_SVE2_128 | HWY_RVV | HWY_SSSE3 | HWY_AVX3_DL)
#endif

#undef HWY_TARGET_INCLUDE
#define HWY_TARGET_INCLUDE "relu_gram_simd.cpp"
#include <hwy/foreach_target.h>  // IWYU pragma: keep
// after foreach_target.h:
#include <hwy/aligned_allocator.h>
#include <hwy/cache_control.h>
#include <hwy/contrib/math/math-inl.h>
#include <hwy/highway.h>

HWY_BEFORE_NAMESPACE();
namespace nnqs::detail {
namespace HWY_NAMESPACE {
namespace hn = hwy::HWY_NAMESPACE;

// relu_layer_ops for this target (the same text as nnqs::km::relu_layer_ops)
#include "nnqs/relu_layer-inl.hpp"

// The primitives of relu_layer_ops on Highway vectors of tag D.
template <class D>
struct HwyOps {
  D d;
  using T = hn::TFromD<D>;
  using V = hn::Vec<D>;
  HWY_INLINE V c(double x) const { return hn::Set(d, static_cast<T>(x)); }
  HWY_INLINE auto gt(V a, V b) const { return hn::Gt(a, b); }
  template <class M>
  HWY_INLINE V select(M m, V a, V b) const {
    return hn::IfThenElse(m, a, b);
  }
  HWY_INLINE V min(V a, V b) const { return hn::Min(a, b); }
  HWY_INLINE V max(V a, V b) const { return hn::Max(a, b); }
  HWY_INLINE V acos(V x) const { return hn::Acos(d, x); }
  HWY_INLINE V sqrt(V x) const { return hn::Sqrt(x); }
};

template <class T>
bool ReluTileT(const ReluTileArgs<T>& a) {
  const hn::ScalableTag<T> d;
  using V = hn::Vec<decltype(d)>;
  const HwyOps<decltype(d)> ops{d};
  constexpr size_t kMaxLanes = HWY_MAX_BYTES / sizeof(T);
  const index_t N = static_cast<index_t>(hn::Lanes(d));
  // Block edge: a multiple of every lane count. 128 measured best of 64/128/256 (f64, n = 4096): the mirror rows
  // are written in runs of 128 entries, long enough for the hardware prefetchers (64: 1.5x slower stores).
  constexpr index_t B = 128;
  const index_t rows = a.rows, cols = a.cols, ld = a.ld;
  const int depth = a.depth, dim = a.d;
  const double w2 = a.W_std * a.W_std, b2 = a.b_std * a.b_std, wd = w2 / dim;
  // Per-layer diagonal factors sqrt(K_l(x, x)) and 1/sqrt: rows row-major (rows x depth), columns layer-major
  // (depth x ldc) padded with 1 so that a full vector load never leaves the array (padding lanes stay finite).
  const index_t ldc = cols + N;
  std::vector<T> r1(static_cast<size_t>(rows) * depth), q1(r1.size());
  std::vector<T> r2(static_cast<size_t>(depth) * ldc, T(1)), q2(r2.size(), T(1));
  for (index_t i = 0; i < rows; ++i) {
    double k = km::relu_input_cov(static_cast<double>(a.sq1[i]), wd, b2);
    for (int l = 0; l < depth; ++l) {
      r1[i * depth + l] = static_cast<T>(std::sqrt(k));
      q1[i * depth + l] = static_cast<T>(1.0 / std::sqrt(k));
      k = km::relu_diag_step(k, w2, b2);
    }
  }
  for (index_t j = 0; j < cols; ++j) {
    double k = km::relu_input_cov(static_cast<double>(a.sq2[j]), wd, b2);
    for (int l = 0; l < depth; ++l) {
      r2[l * ldc + j] = static_cast<T>(std::sqrt(k));
      q2[l * ldc + j] = static_cast<T>(1.0 / std::sqrt(k));
      k = km::relu_diag_step(k, w2, b2);
    }
  }
  // On the fly: the column inputs transposed (d x ldc, zero padded) so that a vector of columns is one load.
  std::vector<T> x2t;
  if (!a.g) {
    x2t.assign(static_cast<size_t>(dim) * ldc, T(0));
    for (index_t j = 0; j < cols; ++j)
      for (int q = 0; q < dim; ++q) x2t[q * ldc + j] = a.x2[j * dim + q];
  }
  const bool sym = a.mode == 1;
  T* const tn = sym ? a.nngp : a.nngp_t;  // where transposed blocks go (same origin and row stride)
  T* const tt = sym ? a.ntk : a.ntk_t;
  const index_t nbr = (rows + B - 1) / B, nbc = (cols + B - 1) / B;
  std::vector<std::pair<index_t, index_t>> pairs;
  // Block-column order (for block column bj: the blocks above it, then its diagonal block): the mirror stores of
  // step bj go to rows bj, so fresh output pages are first touched (and zeroed by the OS) close to when they are
  // written, rather than all during the first block row (measured ~10% less CPU time than row order, shared machine).
  for (index_t bj = 0; bj < nbc; ++bj)
    for (index_t bi = 0; bi < (sym ? bj + 1 : nbr); ++bi) pairs.emplace_back(bi, bj);
  const index_t npairs = static_cast<index_t>(pairs.size());
  const V vwd = hn::Set(d, static_cast<T>(wd)), vw2 = hn::Set(d, static_cast<T>(w2)),
          vb2 = hn::Set(d, static_cast<T>(b2));
  // Streaming (non-temporal) stores: the outputs are never reread here, so whole vectors go to memory without the
  // read-for-ownership of a plain store (measured, AVX-512, 2 threads, preallocated outputs: 1.4-1.7x faster for
  // float64 and 2-2.7x for float32 at n = 1024-4096; slower at 1 MiB per output, which plain stores keep in cache
  // for the caller). They need every row start on a vector boundary (the Python layer allocates 64-byte aligned
  // outputs from the memory pool; other layouts and small tiles use plain stores). Only on mapped pages
  // (a.stream: e.g. reused pool blocks): on fresh pages plain stores measured 1.5-1.8x faster (the OS zeroes each
  // new page through the cache first, and streaming stores must then evict those lines).
  const size_t vbytes = static_cast<size_t>(N) * sizeof(T);
  auto aligned = [&](const T* p) { return p == nullptr || reinterpret_cast<uintptr_t>(p) % vbytes == 0; };
  const bool big = static_cast<double>(rows) * static_cast<double>(cols) * sizeof(T) >= double(2 << 20);
  const bool stream =
      a.stream && big && ld % N == 0 && aligned(a.nngp) && aligned(a.ntk) && aligned(a.nngp_t) && aligned(a.ntk_t);
  bool finite = true;
#pragma omp parallel if (rows * cols >= (index_t(1) << 16)) reduction(&& : finite)
  {
    HWY_ALIGN T tail[kMaxLanes];
    std::vector<T> gl;  // a diagonal block of an upper-triangle-only Gram tile, made symmetric (B x B + padding)
    if (a.g && sym) gl.assign(static_cast<size_t>(B * B + N), T(0));
    // the mirror block staged in "vector columns": stage[(q B + i) N + l] = value (i0 + i, j0 + q N + l), i.e. the
    // computed row vectors stored as they are (aligned full-vector stores, no shuffles); the copy-out gathers each
    // mirror row (stride N) into whole vectors. Measured (1 thread, CPU time per pair, n = 4096, depth 1) against
    // StoreInterleaved4 + 4-entry copies into a transposed block: float32 2.38 -> 1.99 ns, float64 unchanged
    // (4.5 ns); the 4-entry reloads of the interleaved vectors were the cost.
    hwy::AlignedFreeUniquePtr<T[]> stage[2];
    for (int w = 0; w < 2; ++w) {
      if (w == 0 ? !tn : !tt) continue;
      stage[w] = hwy::AllocateAligned<T>(static_cast<size_t>(B * B));
      std::fill(stage[w].get(), stage[w].get() + B * B, T(0));  // lanes past the edge are gathered, never stored
    }
    // gather offsets of one mirror-row vector in the vector-column staging layout (entry k: k * N)
    const hn::RebindToSigned<decltype(d)> di;
    using TI = hn::TFromD<decltype(di)>;
    HWY_ALIGN TI steps[kMaxLanes] = {};
    for (index_t k = 0; k < N; ++k) steps[k] = static_cast<TI>(k * N);
    const auto vstep = hn::Load(di, steps);
    V bad = hn::Zero(d);  // running sum of (v - v): NaN as soon as one stored value is not finite
#pragma omp for schedule(dynamic, 1)
    for (index_t p = 0; p < npairs; ++p) {
      const index_t bi = pairs[p].first, bj = pairs[p].second;
      const index_t i0 = bi * B, i1 = std::min(rows, i0 + B), j0 = bj * B, j1 = std::min(cols, j0 + B);
      const bool dblock = sym && bi == bj;  // computed whole (both triangles), stored row-major only
      const bool mirror = (tn || tt) && (a.mode == 2 || (sym && !dblock));
      if (a.g && dblock) {
        for (index_t i = i0; i < i1; ++i)
          for (index_t j = j0; j < j1; ++j) gl[(i - i0) * B + (j - j0)] = a.g[std::min(i, j) * cols + std::max(i, j)];
      }
      for (index_t ir = i0; ir < i1; ir += 4) {
        const int nr = static_cast<int>(std::min<index_t>(4, i1 - ir));
        index_t ii[4];
        for (int r = 0; r < 4; ++r) ii[r] = ir + std::min(r, nr - 1);  // short groups repeat their last row
        for (index_t jv = j0; jv < j1; jv += N) {
          const index_t nj = std::min(N, j1 - jv);
          V K[4], TH[4];
          if (!a.g) {
            for (int r = 0; r < 4; ++r) K[r] = hn::Zero(d);
            for (int q = 0; q < dim; ++q) {
              const V xv = hn::LoadU(d, x2t.data() + q * ldc + jv);
              for (int r = 0; r < 4; ++r) K[r] = hn::MulAdd(hn::Set(d, a.x1[ii[r] * dim + q]), xv, K[r]);
            }
          } else if (dblock) {
            for (int r = 0; r < 4; ++r) K[r] = hn::LoadU(d, gl.data() + (ii[r] - i0) * B + (jv - j0));
          } else if (jv + N <= cols) {
            for (int r = 0; r < 4; ++r) K[r] = hn::LoadU(d, a.g + ii[r] * cols + jv);
          } else {  // the last, partial vector of a Gram row
            for (int r = 0; r < 4; ++r) {
              std::fill(tail, tail + kMaxLanes, T(0));
              std::memcpy(tail, a.g + ii[r] * cols + jv, static_cast<size_t>(nj) * sizeof(T));
              K[r] = hn::Load(d, tail);
            }
          }
          for (int r = 0; r < 4; ++r) {
            K[r] = hn::MulAdd(K[r], vwd, vb2);  // K_0 = W^2 x.y / d + b^2 = Theta_0
            TH[r] = K[r];
          }
          for (int l = 0; l < depth; ++l) {
            const V ry = hn::LoadU(d, r2.data() + l * ldc + jv), qy = hn::LoadU(d, q2.data() + l * ldc + jv);
            for (int r = 0; r < 4; ++r) {
              const size_t f = static_cast<size_t>(ii[r]) * depth + l;
              relu_layer_ops(ops, K[r], TH[r], hn::Set(d, r1[f]), hn::Set(d, q1[f]), ry, qy, vw2, vb2);
            }
          }
          for (int r = 0; r < 4; ++r) bad = hn::Add(bad, hn::Add(hn::Sub(K[r], K[r]), hn::Sub(TH[r], TH[r])));
          // row-major block
          for (int r = 0; r < nr; ++r) {
            T* on = a.nngp ? a.nngp + ii[r] * ld + jv : nullptr;
            T* ot = a.ntk ? a.ntk + ii[r] * ld + jv : nullptr;
            if (nj == N && stream) {  // whole aligned vectors, never reread here: no read-for-ownership
              if (on) hn::Stream(K[r], d, on);
              if (ot) hn::Stream(TH[r], d, ot);
            } else if (nj == N) {
              if (on) hn::StoreU(K[r], d, on);
              if (ot) hn::StoreU(TH[r], d, ot);
            } else {
              if (on) {
                hn::Store(K[r], d, tail);
                std::memcpy(on, tail, static_cast<size_t>(nj) * sizeof(T));
              }
              if (ot) {
                hn::Store(TH[r], d, tail);
                std::memcpy(ot, tail, static_cast<size_t>(nj) * sizeof(T));
              }
            }
          }
          // mirror block, staged: the 4 row vectors as they are (aligned full-vector stores, vector-column layout)
          if (mirror) {
            for (int w = 0; w < 2; ++w) {
              if (!stage[w]) continue;
              const V* v = w == 0 ? K : TH;
              T* o = stage[w].get() + ((jv - j0) / N * B + (ir - i0)) * N;
              for (int r = 0; r < nr; ++r) hn::Store(v[r], d, o + r * N);
            }
          }
        }
      }
      if (mirror) {  // the mirror block in whole rows of B entries, gathered from the staging block (in L1/L2)
        for (int w = 0; w < 2; ++w) {
          if (!stage[w]) continue;
          T* dst = w == 0 ? tn : tt;
          const index_t len = i1 - i0, nfull = len / N;
          for (index_t j = j0; j < j1; ++j) {
            T* o = dst + j * ld + i0;
            const T* src = stage[w].get() + (j - j0) / N * B * N + (j - j0) % N;
            for (index_t v = 0; v < nfull; ++v) {
              const V g = hn::GatherIndex(d, src, hn::Add(vstep, hn::Set(di, static_cast<TI>(v * N * N))));
              if (stream)
                hn::Stream(g, d, o + v * N);
              else
                hn::StoreU(g, d, o + v * N);
            }
            if (len > nfull * N) {
              hn::Store(hn::GatherIndex(d, src, hn::Add(vstep, hn::Set(di, static_cast<TI>(nfull * N * N)))), d, tail);
              std::memcpy(o + nfull * N, tail, static_cast<size_t>(len - nfull * N) * sizeof(T));
            }
          }
        }
      }
      if (dblock) {  // exact values at x = y (the arccos form is ill-conditioned at cos t = 1)
        for (index_t i = i0; i < i1; ++i) {
          double kk, th;
          km::relu_kernel_diag(static_cast<double>(a.sq1[i]), depth, w2, b2, wd, kk, th);
          if (a.nngp) a.nngp[i * ld + i] = static_cast<T>(kk);
          if (a.ntk) a.ntk[i * ld + i] = static_cast<T>(th);
        }
      }
    }
    hwy::FlushStream();  // the streamed stores are ordered before the threads join
    finite = hn::AllTrue(d, hn::Eq(bad, bad));
  }
  return finite;
}

bool ReluTileF32(const ReluTileArgs<float>& a) { return ReluTileT(a); }
bool ReluTileF64(const ReluTileArgs<double>& a) { return ReluTileT(a); }
const char* TargetNameHere() { return hwy::TargetName(HWY_TARGET); }

}  // namespace HWY_NAMESPACE
}  // namespace nnqs::detail
HWY_AFTER_NAMESPACE();

#if HWY_ONCE
namespace nnqs::detail {
HWY_EXPORT(ReluTileF32);
HWY_EXPORT(ReluTileF64);
HWY_EXPORT(TargetNameHere);

bool relu_tile_simd_available() { return true; }
bool relu_tile_simd(const ReluTileArgs<float>& a) { return HWY_DYNAMIC_DISPATCH(ReluTileF32)(a); }
bool relu_tile_simd(const ReluTileArgs<double>& a) { return HWY_DYNAMIC_DISPATCH(ReluTileF64)(a); }
const char* relu_tile_simd_target() { return HWY_DYNAMIC_DISPATCH(TargetNameHere)(); }
}  // namespace nnqs::detail
#endif  // HWY_ONCE

#else  // no Highway: nnqs::relu_kernel_tile uses its portable scalar loop

namespace nnqs::detail {
bool relu_tile_simd_available() { return false; }
bool relu_tile_simd(const ReluTileArgs<float>&) { return false; }
bool relu_tile_simd(const ReluTileArgs<double>&) { return false; }
const char* relu_tile_simd_target() { return "none"; }
}  // namespace nnqs::detail

#endif  // NNQS_HAVE_HWY
