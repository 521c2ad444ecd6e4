// Wick contractions on the fly (see nnqs/wick.hpp for the formulas and the data layout).
#include "nnqs/wick.hpp"

#include <algorithm>
#include <limits>
#include <string>
#include <vector>

namespace nnqs {

namespace {

// Rows per chunk of the fixed-order reductions: each chunk is summed serially in row order into its own slot,
// and the slots are added serially in chunk order, so the result depends only on the table sizes.
constexpr index_t kChunkRows = 64;
// Below this many kernel evaluations a sweep runs on one thread, as one chunk (no fork/join cost).
constexpr index_t kParallelWork = 32768;

void check_table(const PairTable& t, const char* name) {
  require(t.n >= 0, std::string(name) + ": negative table length");
  require(t.n == 0 || (t.dot && t.n1 && t.n2 && t.w), std::string(name) + ": null table column");
}

// a.n * b.n kernel evaluations must be countable in int64.
void check_work(index_t na, index_t nb, const char* what) {
  if (na > 0 && nb > std::numeric_limits<index_t>::max() / na)
    throw size_error(std::string(what) + ": " + std::to_string(na) + " x " + std::to_string(nb) +
                     " kernel evaluations exceed the 64-bit index range");
}

}  // namespace

KernelSpec kernel_spec_from_params(int family, const double* p) {
  require(kernel_family_name(family) != nullptr,
          "unknown kernel family code " + std::to_string(family) + " (see nnqs_fast._core.KernelFamily)");
  KernelSpec k;
  k.family = static_cast<KernelFamily>(family);
  switch (k.family) {
    case KernelFamily::rbf:
      k.amp = p[0];
      k.gamma = p[1];
      break;
    case KernelFamily::delta:
      k.amp = p[0];
      break;
    case KernelFamily::relu:
    case KernelFamily::relu_ntk:
      k.W_std = p[0];
      k.b_std = p[1];
      k.depth = static_cast<int>(p[2]);
      k.input_dim = p[3];
      require(p[2] >= 0.0 && p[2] < 1e6, "relu kernel depth must be a non-negative integer");
      require(k.input_dim > 0.0, "relu kernel input_dim must be > 0");
      break;
    case KernelFamily::zero:
      break;
  }
  return k;
}

PairSums pair_sums(const KernelSpec& k1, const KernelSpec& k2, bool same, const PairTable& a, const PairTable& b,
                   index_t tile) {
  check_table(a, "pair_sums table_a");
  check_table(b, "pair_sums table_b");
  check_work(a.n, b.n, "pair_sums");
  if (tile <= 0) tile = 4096;
  const bool parallel = a.n * std::min(tile, b.n) > kParallelWork;
  const index_t chunk = parallel ? kChunkRows : std::max<index_t>(a.n, 1);
  const index_t nchunks = n_blocks(a.n, chunk);
  std::vector<double> pc(static_cast<size_t>(nchunks), 0.0), pp(pc), ps(pc);
  // j (B table) is tiled so a tile stays in cache while all i (A table) sweep it.
  for (index_t j0 = 0; j0 < b.n; j0 += tile) {
    const index_t j1 = std::min(b.n, j0 + tile);
#pragma omp parallel for schedule(dynamic, 1) if (parallel)
    for (index_t ch = 0; ch < nchunks; ++ch) {
      double fc = pc[ch], fp = pp[ch], fs = ps[ch];
      const index_t i1 = std::min(a.n, (ch + 1) * chunk);
      for (index_t i = ch * chunk; i < i1; ++i) {
        const double da = a.dot[i], n1a = a.n1[i], n2a = a.n2[i], wa = a.w[i];
        double sc = 0.0, sp = 0.0, ss = 0.0;
        if (same) {
          for (index_t j = j0; j < j1; ++j) {
            const double c = 2.0 * kernel_eval(k1, da + b.dot[j], n1a + b.n1[j], n2a + b.n2[j]);
            sc += b.w[j] * c * c;
          }
        } else {
          for (index_t j = j0; j < j1; ++j) {
            const double dot = da + b.dot[j], m1 = n1a + b.n1[j], m2 = n2a + b.n2[j];
            const double x1 = kernel_eval(k1, dot, m1, m2), x2 = kernel_eval(k2, dot, m1, m2);
            const double c = x1 + x2, p = x1 - x2;
            const double s1 = n2a + b.n1[j], s2 = n1a + b.n2[j];  // P(a2 b1, a1 b2): A norms swapped
            const double q = kernel_eval(k1, dot, s1, s2) - kernel_eval(k2, dot, s1, s2);
            sc += b.w[j] * c * c;
            sp += b.w[j] * p * p;
            ss += b.w[j] * p * q;
          }
        }
        fc += wa * sc;
        fp += wa * sp;
        fs += wa * ss;
      }
      pc[ch] = fc;
      pp[ch] = fp;
      ps[ch] = fs;
    }
  }
  PairSums r;
  for (index_t ch = 0; ch < nchunks; ++ch) {
    r.frob_c2 += pc[ch];
    r.frob_p2 += pp[ch];
    r.pp_swap += ps[ch];
  }
  return r;
}

PartialTraceSums partial_trace_sums(const KernelSpec& k1, const KernelSpec& k2, bool same, const PairTable& pairs,
                                    const PairTable& diag) {
  check_table(pairs, "partial_trace_sums pairs");
  check_table(diag, "partial_trace_sums diag");
  check_work(pairs.n, diag.n, "partial_trace_sums");
  const bool parallel = pairs.n * diag.n > kParallelWork;
  const index_t chunk = parallel ? kChunkRows : std::max<index_t>(pairs.n, 1);
  const index_t nchunks = n_blocks(pairs.n, chunk);
  std::vector<double> plin(static_cast<size_t>(nchunks), 0.0), psq(plin);
#pragma omp parallel for schedule(dynamic, 1) if (parallel)
  for (index_t ch = 0; ch < nchunks; ++ch) {
    double lin = 0.0, sq = 0.0;
    const index_t i1 = std::min(pairs.n, (ch + 1) * chunk);
    for (index_t i = ch * chunk; i < i1; ++i) {
      const double da = pairs.dot[i], n1a = pairs.n1[i], n2a = pairs.n2[i];
      double r = 0.0;
      for (index_t j = 0; j < diag.n; ++j) {
        const double dot = da + diag.dot[j], m1 = n1a + diag.n1[j], m2 = n2a + diag.n2[j];
        const double c =
            same ? 2.0 * kernel_eval(k1, dot, m1, m2) : kernel_eval(k1, dot, m1, m2) + kernel_eval(k2, dot, m1, m2);
        r += diag.w[j] * c;
      }
      lin += pairs.w[i] * r;
      sq += pairs.w[i] * r * r;
    }
    plin[ch] = lin;
    psq[ch] = sq;
  }
  PartialTraceSums out;
  for (index_t ch = 0; ch < nchunks; ++ch) {
    out.lin += plin[ch];
    out.sq += psq[ch];
  }
  return out;
}

}  // namespace nnqs
