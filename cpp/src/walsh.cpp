// The fast Walsh–Hadamard transform on lane-interleaved panels (nnqs/walsh.hpp).
#include "nnqs/walsh.hpp"

#include <algorithm>
#include <cmath>
#include <cstdlib>
#include <cstring>
#include <memory>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace nnqs {

namespace {

constexpr index_t W = kWalshLanes;
// Elements per sub-block for the short-stride stages: 2048 · 64 bytes = 128 KiB (L2).
constexpr index_t kBlock = 2048;
// Below this many butterflies a parallel region costs more than it saves (results do not depend on it).
constexpr double kParallelWork = 1e6;

#if defined(__GNUC__) && !defined(__clang__) && defined(__x86_64__)
#define NNQS_WALSH_HOT __attribute__((target_clones("arch=x86-64-v4", "arch=x86-64-v3", "default")))
#else
#define NNQS_WALSH_HOT
#endif

// 8 doubles: one AVX-512 register, two AVX2 registers, or four SSE2 registers (GCC/Clang vector extensions); the
// helpers below are inlined into each clone, so the ABI of vector arguments never matters.
#pragma GCC diagnostic ignored "-Wpsabi"
typedef double v8d __attribute__((vector_size(64)));

inline v8d load(const double* p) {
  v8d a;
  std::memcpy(&a, p, sizeof(v8d));
  return a;
}
inline void store(double* p, v8d a) { std::memcpy(p, &a, sizeof(v8d)); }

// Stages h, 2h, ..., < h_end (h a power of two) on the panel elements [x0, x1) (x1 − x0 a multiple of h_end):
// two stages per pass (radix 4), a last single stage when their number is odd.
NNQS_WALSH_HOT void stages(double* p, index_t x0, index_t x1, index_t h, index_t h_end) {
  for (; 4 * h <= h_end; h *= 4) {
    for (index_t i = x0; i < x1; i += 4 * h) {
      for (index_t j = i; j < i + h; ++j) {
        double* q0 = p + j * W;
        double* q1 = p + (j + h) * W;
        double* q2 = p + (j + 2 * h) * W;
        double* q3 = p + (j + 3 * h) * W;
        const v8d a0 = load(q0), a1 = load(q1), a2 = load(q2), a3 = load(q3);
        const v8d b0 = a0 + a1, b1 = a0 - a1, b2 = a2 + a3, b3 = a2 - a3;
        store(q0, b0 + b2);
        store(q2, b0 - b2);
        store(q1, b1 + b3);
        store(q3, b1 - b3);
      }
    }
  }
  if (2 * h <= h_end) {
    for (index_t i = x0; i < x1; i += 2 * h) {
      for (index_t j = i; j < i + h; ++j) {
        double* q0 = p + j * W;
        double* q1 = p + (j + h) * W;
        const v8d a0 = load(q0), a1 = load(q1);
        store(q0, a0 + a1);
        store(q1, a0 - a1);
      }
    }
  }
}

// The unnormalised transform H^{⊗L} of the W lanes of a panel of d elements.
void panel_transform(double* p, index_t d) {
  const index_t blk = std::min(d, kBlock);
  for (index_t x0 = 0; x0 < d; x0 += blk) stages(p, x0, x0 + blk, 1, blk);
  if (blk < d) stages(p, 0, d, blk, d);
}

// One panel of d · W doubles per thread, 64-byte aligned, allocated before the parallel region (no exception can
// leave an OpenMP region).
struct PanelBuffers {
  double* p = nullptr;
  index_t stride = 0;
  PanelBuffers(index_t d, int team) : stride(d * W) {
    const size_t bytes = static_cast<size_t>(stride) * static_cast<size_t>(team) * sizeof(double);
    p = static_cast<double*>(std::aligned_alloc(64, (bytes + 63) / 64 * 64));
    if (p == nullptr) throw size_error("fwht: could not allocate the panel buffers");
  }
  double* get(int t) const { return p + static_cast<index_t>(t) * stride; }
  ~PanelBuffers() { std::free(p); }
  PanelBuffers(const PanelBuffers&) = delete;
  PanelBuffers& operator=(const PanelBuffers&) = delete;
};

int thread_id() {
#ifdef _OPENMP
  return omp_get_thread_num();
#else
  return 0;
#endif
}

bool is_pow2(index_t d) { return d > 0 && (d & (d - 1)) == 0; }

int team_for(int threads, double work) {
  if (threads > 0) return threads;
  return work >= kParallelWork ? max_threads() : 1;
}

}  // namespace

void fwht_rows(double* x, index_t r, index_t d, int threads) {
  require(is_pow2(d), "fwht_rows: the row length must be a power of two");
  require(r >= 0, "fwht_rows: negative row count");
  if (r == 0) return;
  const index_t groups = n_blocks(r, W);
  const double scale = 1.0 / std::sqrt(static_cast<double>(d));
  const int team = team_for(threads, static_cast<double>(r) * static_cast<double>(d));
  const PanelBuffers bufs(d, team);
#pragma omp parallel num_threads(team) if (team > 1)
  {
    double* p = bufs.get(thread_id());
#pragma omp for schedule(static)
    for (index_t g = 0; g < groups; ++g) {
      const index_t r0 = g * W, nl = std::min(W, r - r0);
      for (index_t s = 0; s < d; ++s) {
        double* ps = p + s * W;
        for (index_t l = 0; l < nl; ++l) ps[l] = x[(r0 + l) * d + s];
        for (index_t l = nl; l < W; ++l) ps[l] = 0.0;
      }
      panel_transform(p, d);
      for (index_t s = 0; s < d; ++s)
        for (index_t l = 0; l < nl; ++l) x[(r0 + l) * d + s] = p[s * W + l] * scale;
    }
  }
}

void xor_diag_congruence(const double* v, index_t n, index_t c, index_t row_stride, index_t col_stride,
                         const index_t* idx, index_t d, const double* spec, double* out, int threads) {
  require(is_pow2(d), "xor_diag_congruence: the basis size must be a power of two");
  require(n >= 0 && c >= 0 && n <= d, "xor_diag_congruence: need 0 <= n <= d rows");
  for (index_t i = 0; i < n; ++i) require(idx[i] >= 0 && idx[i] < d, "xor_diag_congruence: index out of range");
  if (c == 0) return;
  const index_t groups = n_blocks(c, W);
  const double inv_d = 1.0 / static_cast<double>(d);
  const int team = team_for(threads, static_cast<double>(c) * static_cast<double>(d));
  const PanelBuffers bufs(d, team);
#pragma omp parallel num_threads(team) if (team > 1)
  {
    double* p = bufs.get(thread_id());
#pragma omp for schedule(static)
    for (index_t g = 0; g < groups; ++g) {
      const index_t c0 = g * W, nl = std::min(W, c - c0);
      std::memset(p, 0, static_cast<size_t>(d * W) * sizeof(double));
      for (index_t i = 0; i < n; ++i) {  // row i of V's columns [c0, c0 + nl) to basis position idx[i]
        const double* vi = v + i * row_stride + c0 * col_stride;
        double* ps = p + idx[i] * W;
        for (index_t l = 0; l < nl; ++l) ps[l] = vi[l * col_stride];
      }
      panel_transform(p, d);
      v8d acc = {0, 0, 0, 0, 0, 0, 0, 0};
      for (index_t s = 0; s < d; ++s) {  // fixed order: independent of the thread count
        const v8d z = load(p + s * W);
        acc += spec[s] * (z * z);
      }
      for (index_t l = 0; l < nl; ++l) out[c0 + l] = acc[l] * inv_d;
    }
  }
}

}  // namespace nnqs
