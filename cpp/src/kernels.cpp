// Fused element-wise passes of the QS-NTK kernels (see nnqs/kernels.hpp).
#include "nnqs/kernels.hpp"

#include "relu_gram_simd.hpp"

#include <algorithm>
#include <cmath>

#if defined(__GNUC__) && !defined(__clang__)
// Comparisons may be if-converted (no FP traps are ever enabled in this library): lets the fused loops vectorise.
#pragma GCC optimize("no-trapping-math")
#endif

// After the pragma: the kernel maths is inlined into the row loops compiled with the same options.
#include "nnqs/kernel_math.hpp"

namespace nnqs {

namespace {
// Below this many elements a pass runs on one thread: waking a team (while BLAS threads may still be spinning
// on a shared, loaded machine) costs more than the work.
constexpr index_t kParallelMin = index_t(1) << 16;
}  // namespace

// One output row segment of the ReLU recursion: on entry k[j] = x1_i . x2_j for j in [0, n). For layer l,
// r1[l] = sqrt(K_l(x1_i, x1_i)), q1[l] = 1 / r1[l], and r2 + l*ld2, q2 + l*ld2 the same for the columns, so the
// per-element work has no division and one square root fewer. On exit k = NNGP, th = NTK.
static inline __attribute__((always_inline)) void relu_row_body(double* k, double* th, index_t n, const double* r1,
                                                                const double* q1, const double* r2, const double* q2,
                                                                index_t ld2, int depth, double w2, double b2,
                                                                double wd) {
#pragma omp simd
  for (index_t j = 0; j < n; ++j) {
    k[j] = km::relu_input_cov(k[j], wd, b2);
    th[j] = k[j];
  }
  for (int l = 0; l < depth; ++l) {
    const double ra = r1[l], qa = q1[l];
    const double* rc = r2 + static_cast<size_t>(l) * ld2;
    const double* qc = q2 + static_cast<size_t>(l) * ld2;
#pragma omp simd
    for (index_t j = 0; j < n; ++j) km::relu_layer_normed(k[j], th[j], ra, qa, rc[j], qc[j], w2, b2);
  }
}

static void relu_row(double* k, double* th, index_t n, const double* r1, const double* q1, const double* r2,
                     const double* q2, index_t ld2, int depth, double w2, double b2, double wd) {
  relu_row_body(k, th, n, r1, q1, r2, q2, ld2, depth, w2, b2, wd);
}

const char* simd_target() { return detail::relu_tile_simd_target(); }

template <class T>
bool relu_kernel_tile(const T* g, index_t rows, index_t cols, const T* sq1, const T* sq2, T* nngp, T* ntk, index_t ld,
                      int depth, double W_std, double b_std, int d, int mode, T* nngp_t, T* ntk_t, const T* x1,
                      const T* x2, bool stream) {
  require(depth >= 1 && d >= 1, "relu_kernel_tile: depth and d must be >= 1");
  require(mode >= 0 && mode <= 2, "relu_kernel_tile: mode must be 0, 1 or 2");
  require(mode != 1 || rows == cols, "relu_kernel_tile: a diagonal tile must be square");
  require(g != nullptr || (x1 != nullptr && x2 != nullptr), "relu_kernel_tile: pass g or both x1 and x2");
  if (detail::relu_tile_simd_available()) {  // Highway build: SIMD in T precision, symmetric halves, fused checks
    detail::ReluTileArgs<T> a;
    a.g = g;
    a.x1 = x1;
    a.x2 = x2;
    a.d = d;
    a.rows = rows;
    a.cols = cols;
    a.sq1 = sq1;
    a.sq2 = sq2;
    a.nngp = nngp;
    a.ntk = ntk;
    a.ld = ld;
    a.mode = mode;
    a.nngp_t = nngp_t;
    a.ntk_t = ntk_t;
    a.depth = depth;
    a.W_std = W_std;
    a.b_std = b_std;
    a.stream = stream;
    return detail::relu_tile_simd(a);
  }
  // Portable fallback (no Highway): float64 arithmetic, compiler-vectorised rows.
  // Without g the dot products x1_i . x2_j are formed on the fly (cheap for the small input dimensions of
  // lattice encodings; saves the n1*n2 Gram buffer and a BLAS call whose spinning threads would compete with
  // this OpenMP team). Columns are stored transposed (d x cols) so the inner loop vectorises over j.
  std::vector<double> x2t;
  if (!g) {
    x2t.resize(static_cast<size_t>(d) * cols);
    for (index_t j = 0; j < cols; ++j)
      for (int k = 0; k < d; ++k) x2t[static_cast<size_t>(k) * cols + j] = static_cast<double>(x2[j * d + k]);
  }
  const double w2 = W_std * W_std, b2 = b_std * b_std, wd = w2 / d;
  // Diagonal recursions K_l(x, x) (cos t = 1: E[relu^2] = K/2), stored as sqrt and 1/sqrt;
  // rows row-major (rows x depth), columns layer-major (depth x cols).
  const size_t nr = static_cast<size_t>(rows) * depth, nc = static_cast<size_t>(cols) * depth;
  std::vector<double> r1(nr), q1(nr), r2(nc), q2(nc);
  for (index_t i = 0; i < rows; ++i) {
    double k = km::relu_input_cov(sq1[i], wd, b2);
    for (int l = 0; l < depth; ++l) {
      r1[i * depth + l] = std::sqrt(k);
      q1[i * depth + l] = 1.0 / std::sqrt(k);
      k = km::relu_diag_step(k, w2, b2);
    }
  }
  for (index_t j = 0; j < cols; ++j) {
    double k = km::relu_input_cov(sq2[j], wd, b2);
    for (int l = 0; l < depth; ++l) {
      r2[static_cast<size_t>(l) * cols + j] = std::sqrt(k);
      q2[static_cast<size_t>(l) * cols + j] = 1.0 / std::sqrt(k);
      k = km::relu_diag_step(k, w2, b2);
    }
  }
  // Exact diagonal values (the acos formula is ill-conditioned at cos t = 1).
  auto diag_values = [&](double gii, double* kk, double* tt) {
    km::relu_kernel_diag(gii, depth, w2, b2, wd, *kk, *tt);
  };
  constexpr index_t B = 64;
  const index_t nbr = (rows + B - 1) / B, nbc = (cols + B - 1) / B;
  // Block pairs; mode 1 (diagonal tile of a symmetric result) only computes blocks on/above the diagonal and
  // writes each block and its transpose, so no separate mirror pass is needed.
  std::vector<std::pair<index_t, index_t>> pairs;
  for (index_t bi = 0; bi < nbr; ++bi)
    for (index_t bj = (mode == 1 ? bi : 0); bj < nbc; ++bj) pairs.emplace_back(bi, bj);
  T* tn = mode == 1 ? nngp : nngp_t;  // where transposed blocks go
  T* tt = mode == 1 ? ntk : ntk_t;
  const index_t npairs = static_cast<index_t>(pairs.size());
#pragma omp parallel if (rows * cols >= kParallelMin)
  {
    std::vector<double> kb(B * B), tb(B * B);
#pragma omp for schedule(dynamic, 4)
    for (index_t p = 0; p < npairs; ++p) {
      const index_t bi = pairs[p].first, bj = pairs[p].second;
      const index_t i0 = bi * B, i1 = std::min(rows, i0 + B), j0 = bj * B, j1 = std::min(cols, j0 + B);
      const bool dblock = mode == 1 && bi == bj;
      for (index_t i = i0; i < i1; ++i) {
        const index_t js = dblock ? i : j0;  // diagonal block: upper part of the block only
        double* kr = &kb[(i - i0) * B + (js - j0)];
        double* tr = &tb[(i - i0) * B + (js - j0)];
        const T* gi = g ? g + i * cols : nullptr;
        if (gi) {
          for (index_t j = js; j < j1; ++j) kr[j - js] = static_cast<double>(gi[j]);
        } else {
          const index_t nj = j1 - js;
          for (index_t j = 0; j < nj; ++j) kr[j] = 0.0;
          for (int k = 0; k < d; ++k) {
            const double a = static_cast<double>(x1[i * d + k]);
            const double* xt = x2t.data() + static_cast<size_t>(k) * cols + js;
#pragma omp simd
            for (index_t j = 0; j < nj; ++j) kr[j] += a * xt[j];
          }
        }
        relu_row(kr, tr, j1 - js, &r1[i * depth], &q1[i * depth], r2.data() + js, q2.data() + js, cols, depth, w2, b2,
                 wd);
        if (dblock) diag_values(gi ? static_cast<double>(gi[i]) : static_cast<double>(sq1[i]), kr, tr);
      }
      for (index_t i = i0; i < i1; ++i) {
        const index_t js = dblock ? i : j0;
        const double* kr = &kb[(i - i0) * B];
        const double* tr = &tb[(i - i0) * B];
        if (nngp) {
          T* o = nngp + i * ld;
          for (index_t j = js; j < j1; ++j) o[j] = static_cast<T>(kr[j - j0]);
        }
        if (ntk) {
          T* o = ntk + i * ld;
          for (index_t j = js; j < j1; ++j) o[j] = static_cast<T>(tr[j - j0]);
        }
      }
      if (mode == 2 || (mode == 1)) {  // transposed copy: rows j of the transposed tile, contiguous writes
        for (index_t j = j0; j < j1; ++j) {
          const index_t ie = dblock ? std::min(i1, j) : i1;  // diagonal block: strictly lower part
          if (tn) {
            T* o = tn + j * ld;
            for (index_t i = i0; i < ie; ++i) o[i] = static_cast<T>(kb[(i - i0) * B + (j - j0)]);
          }
          if (tt) {
            T* o = tt + j * ld;
            for (index_t i = i0; i < ie; ++i) o[i] = static_cast<T>(tb[(i - i0) * B + (j - j0)]);
          }
        }
      }
    }
  }
  return false;  // not checked: the caller scans the output
}

template <class T>
void fused_ntk_tile(T* out, index_t ld, index_t rows, index_t cols, const T* base, double alpha, double beta,
                    const std::vector<const T*>& B, const std::vector<const T*>& C, const std::vector<double>& gamma,
                    const std::vector<double>& delta, bool upper) {
  const size_t np = B.size();
  require(C.size() == np && gamma.size() == np && delta.size() == np, "fused_ntk_tile: inconsistent pairs");
  const T a = static_cast<T>(alpha), b = static_cast<T>(beta);
#pragma omp parallel for schedule(dynamic, 16) if (rows * cols >= kParallelMin)
  for (index_t i = 0; i < rows; ++i) {
    T* o = out + i * ld;
    const index_t j0 = upper ? i : 0;
    const index_t off = i * cols;
    if (base) {
      const T* bs = base + off;
#pragma omp simd
      for (index_t j = j0; j < cols; ++j) o[j] = a * bs[j] + b;
    } else {
      for (index_t j = j0; j < cols; ++j) o[j] = b;
    }
    for (size_t p = 0; p < np; ++p) {
      const T* bp = B[p] + off;
      const T* cp = C[p] + off;
      const T gp = static_cast<T>(gamma[p]), dp = static_cast<T>(delta[p]);
#pragma omp simd
      for (index_t j = j0; j < cols; ++j) o[j] += bp[j] * (gp * cp[j] + dp);
    }
  }
}

template <class T>
void stationary_tile(const T* g, index_t rows, index_t cols, const T* sq1, const T* sq2, T* out, index_t ld, double amp,
                     double scale, double c0, double c1, bool upper) {
#pragma omp parallel for schedule(dynamic, 16) if (rows * cols >= kParallelMin)
  for (index_t i = 0; i < rows; ++i) {
    const T* gi = g + i * cols;
    T* o = out + i * ld;
    const double s1 = sq1[i];
    for (index_t j = upper ? i : 0; j < cols; ++j) {
      const double gij = gi[j];
      const double k = km::rbf(amp, scale, km::sq_dist(gij, s1, static_cast<double>(sq2[j])));
      o[j] = static_cast<T>(km::stationary_ntk(k, c0, c1, gij));
    }
  }
}

template <class T>
void relu_layer_features(const T* a0, index_t in_dim, const T* wt, const T* bias, const T* v, T* h, T* dh, index_t rows,
                         index_t cols, double hscale, double dscale) {
  const T hs = static_cast<T>(hscale), ds = static_cast<T>(dscale);
  // One row at a time, 512 columns per block: the pre-activations live in an L1-resident accumulator and each
  // output element is written once (the GEMM + bias + relu route wrote and re-read the whole z matrix twice).
  constexpr index_t jb = 512;
#pragma omp parallel if (rows * cols >= kParallelMin)
  {
    alignas(64) T acc[jb];
#pragma omp for schedule(static)
    for (index_t i = 0; i < rows; ++i) {
      const T* ai = a0 + i * in_dim;
      T* hi = h + i * cols;
      T* di = dh + i * cols;
      for (index_t j0 = 0; j0 < cols; j0 += jb) {
        const index_t nj = std::min(jb, cols - j0);
        const T* bj = bias + j0;
#pragma omp simd
        for (index_t j = 0; j < nj; ++j) acc[j] = bj[j];
        for (index_t k = 0; k < in_dim; ++k) {
          const T a = ai[k];
          const T* w = wt + k * cols + j0;
#pragma omp simd
          for (index_t j = 0; j < nj; ++j) acc[j] += a * w[j];
        }
        const T* vj = v + j0;
#pragma omp simd
        for (index_t j = 0; j < nj; ++j) {
          // selects, no branches (vectorises); a NaN pre-activation stays NaN in h for the caller's finiteness check
          const T z = acc[j];
          const T on = z > T(0) ? T(1) : T(0);
          const T pos = z < T(0) ? T(0) : z;
          hi[j0 + j] = pos * hs;
          di[j0 + j] = on * vj[j] * ds;
        }
      }
    }
  }
}

template <class T>
void mirror_upper(T* m, index_t n) {
  constexpr index_t bs = 64;
  const index_t nb = (n + bs - 1) / bs;
  // Block (bi, bj) with bi > bj (lower) receives the transpose of block (bj, bi) (upper).
#pragma omp parallel for schedule(dynamic, 1) if (n * n >= kParallelMin)
  for (index_t bi = 0; bi < nb; ++bi) {
    for (index_t bj = 0; bj <= bi; ++bj) {
      const index_t i0 = bi * bs, i1 = std::min(n, i0 + bs);
      const index_t j0 = bj * bs, j1 = std::min(n, j0 + bs);
      for (index_t i = i0; i < i1; ++i) {
        const index_t je = (bi == bj) ? i : j1;
        for (index_t j = j0; j < je; ++j) m[i * n + j] = m[j * n + i];
      }
    }
  }
}

template <class T>
void combine_decoupled(const T* t1, const T* t2, T* theta, T* phi, index_t n) {
#pragma omp parallel for simd schedule(static) if (n >= kParallelMin)
  for (index_t k = 0; k < n; ++k) {
    const T a = t1[k], b = t2[k];
    theta[k] = a - b;
    phi[k] = a + b;
  }
}

#define NNQS_INSTANTIATE(T)                                                                                       \
  template bool relu_kernel_tile<T>(const T*, index_t, index_t, const T*, const T*, T*, T*, index_t, int, double, \
                                    double, int, int, T*, T*, const T*, const T*, bool);                          \
  template void fused_ntk_tile<T>(T*, index_t, index_t, index_t, const T*, double, double,                        \
                                  const std::vector<const T*>&, const std::vector<const T*>&,                     \
                                  const std::vector<double>&, const std::vector<double>&, bool);                  \
  template void stationary_tile<T>(const T*, index_t, index_t, const T*, const T*, T*, index_t, double, double,   \
                                   double, double, bool);                                                         \
  template void relu_layer_features<T>(const T*, index_t, const T*, const T*, const T*, T*, T*, index_t, index_t, \
                                       double, double);                                                           \
  template void mirror_upper<T>(T*, index_t);                                                                     \
  template void combine_decoupled<T>(const T*, const T*, T*, T*, index_t);

NNQS_INSTANTIATE(float)
NNQS_INSTANTIATE(double)

}  // namespace nnqs
