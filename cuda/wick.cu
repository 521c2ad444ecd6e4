// Wick contraction for the ensemble purity E Tr rho_A^2 of psi = f1 + i f2, float64, with the kernels (nnqs/kernel_math.hpp)
// evaluated on the fly from the inputs (never a D x D matrix). C = K1 + K2 = E[psi psi*], P = K1 - K2 = E[psi psi].
//   numerator   = ||C_A||_F^2 + ||C_B||_F^2 + sum_{a,a',b,b'} P(ab,a'b') P(a'b,ab')
//   denominator = (Tr C)^2 + ||C||_F^2 + ||P||_F^2
// with the partial traces C_A[a,a'] = sum_b C(ab, a'b), C_B[b,b'] = sum_a C(ab, ab'). Rows of x are ordered
// x[a*DB + b] (the caller permutes the basis so that subsystem A is the slow index).
//
// wick_ptrace_frob2: sum_{p,p'} (sum_q K(x[p*sp+q*sq], x[p'*sp+q*sq]))^2 over the upper triangle of 16x16 pair tiles
//   (weight 2 off the diagonal); blocks take tiles grid-stride, one partial sum per block (deterministic).
//   ||C_A||^2: P=DA, Q=DB, sp=DB, sq=1;  ||C_B||^2: P=DB, Q=DA, sp=1, sq=DB;  ||C||^2: P=D, Q=1, sp=1, sq=0.
// wick_pp_term: grid-stride over the D^2 index quadruples (a,a',b,b'), 256 threads, one partial per block.
#include <cuda_runtime.h>
#include <cmath>
#include <string>
#include "cuda_check.hpp"
#include "device_utils.cuh"
#include "nnqs/common.hpp"
#include "nnqs/kernel_math.hpp"
#include "nnqs_kernels.hpp"

namespace nnqs_cuda {

namespace {

struct PairGeom {
  double dot, dist2, sqx, sqy;
};

__device__ inline PairGeom pair_geom(const double* __restrict__ x, const double* __restrict__ sq, long long d,
                                     long long r1, long long r2, bool need_dot, bool need_dist) {
  PairGeom g{0.0, 0.0, sq[r1], sq[r2]};
  const double* a = x + r1 * d;
  const double* b = x + r2 * d;
  if (need_dot && need_dist) {
    for (long long k = 0; k < d; ++k) {
      const double u = __ldg(a + k), w = __ldg(b + k);
      g.dot += u * w;
      g.dist2 += (u - w) * (u - w);
    }
  } else if (need_dot) {
    for (long long k = 0; k < d; ++k) g.dot += __ldg(a + k) * __ldg(b + k);
  } else if (need_dist) {
    for (long long k = 0; k < d; ++k) {
      const double u = __ldg(a + k) - __ldg(b + k);
      g.dist2 += u * u;
    }
  }
  return g;
}

struct Pair {
  double c, p;
};

__device__ inline Pair eval_cp(const KernelSpec& k1, const KernelSpec& k2, const double* x, const double* sq,
                               long long d, long long r1, long long r2) {
  const bool dot = nnqs::km::needs_dot(k1.family) || nnqs::km::needs_dot(k2.family);
  const bool dist = nnqs::km::needs_dist(k1.family) || nnqs::km::needs_dist(k2.family);
  const PairGeom g = pair_geom(x, sq, d, r1, r2, dot, dist);
  const double a = nnqs::km::kernel_value(k1, g.dot, g.sqx, g.sqy, g.dist2);
  const double b = nnqs::km::kernel_value(k2, g.dot, g.sqx, g.sqy, g.dist2);
  return {a + b, a - b};
}

constexpr int PT = 16;  // pair tile edge

__global__ void __launch_bounds__(PT* PT)
    ptrace_frob2_kernel(const double* __restrict__ x, const double* __restrict__ sq, long long d, long long P,
                        long long Q, long long sp, long long sqs, KernelSpec k1, KernelSpec k2, long long ntiles_1d,
                        double* __restrict__ partial_c, double* __restrict__ partial_p) {
  const long long ntri = ntiles_1d * (ntiles_1d + 1) / 2;
  double acc_c = 0.0, acc_p = 0.0;
  for (long long t = blockIdx.x; t < ntri; t += gridDim.x) {
    // t -> (bi <= bj), enumerating column bj then row bi = 0..bj
    long long bj = static_cast<long long>((sqrt(8.0 * static_cast<double>(t) + 1.0) - 1.0) * 0.5);
    while (bj * (bj + 1) / 2 > t) --bj;
    while ((bj + 1) * (bj + 2) / 2 <= t) ++bj;
    const long long bi = t - bj * (bj + 1) / 2;
    const long long p = bi * PT + threadIdx.y, pp = bj * PT + threadIdx.x;
    if (p < P && pp < P && p <= pp) {
      double sc = 0.0, spp = 0.0;
      for (long long q = 0; q < Q; ++q) {
        const Pair v = eval_cp(k1, k2, x, sq, d, p * sp + q * sqs, pp * sp + q * sqs);
        sc += v.c;
        spp += v.p;
      }
      const double w = (p == pp) ? 1.0 : 2.0;
      acc_c += w * sc * sc;
      acc_p += w * spp * spp;
    }
  }
  acc_c = block_reduce_sum(acc_c);
  acc_p = block_reduce_sum(acc_p);
  if (threadIdx.x == 0 && threadIdx.y == 0) {
    partial_c[blockIdx.x] = acc_c;
    if (partial_p) partial_p[blockIdx.x] = acc_p;
  }
}

__global__ void diag_kernel(const double* __restrict__ x, const double* __restrict__ sq, long long d, long long n,
                            KernelSpec k1, KernelSpec k2, double* __restrict__ out) {
  for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += (long long)gridDim.x * blockDim.x)
    out[i] = eval_cp(k1, k2, x, sq, d, i, i).c;
}

__global__ void __launch_bounds__(256)
    pp_kernel(const double* __restrict__ x, const double* __restrict__ sq, long long d, long long DA, long long DB,
              KernelSpec k1, KernelSpec k2, double* __restrict__ partial) {
  const long long D = DA * DB, total = D * D;
  double acc = 0.0;
  for (long long t = blockIdx.x * (long long)blockDim.x + threadIdx.x; t < total;
       t += (long long)gridDim.x * blockDim.x) {
    // t = ((a * DA + a2) * DB + b) * DB + b2: b2 fastest, so neighbouring threads share rows a*DB+b
    const long long b2 = t % DB;
    long long r = t / DB;
    const long long b = r % DB;
    r /= DB;
    const long long a2 = r % DA, a = r / DA;
    const double p1 = eval_cp(k1, k2, x, sq, d, a * DB + b, a2 * DB + b2).p;
    const double p2 = eval_cp(k1, k2, x, sq, d, a2 * DB + b, a * DB + b2).p;
    acc += p1 * p2;
  }
  acc = block_reduce_sum(acc);
  if (threadIdx.x == 0) partial[blockIdx.x] = acc;
}

constexpr long long kMaxBlocks = 8192;
// Largest D with D * D inside the signed 64-bit range.
constexpr long long kMaxRows = 3037000499LL;

// The relu families read input_dim; <= 0 means the row length d.
KernelSpec resolved(KernelSpec k, long long d) {
  if (k.input_dim <= 0.0) k.input_dim = static_cast<double>(d);
  return k;
}

void check_sizes(long long d, long long rows, const char* what) {
  if (d < 1 || rows < 0) throw cuda_error(std::string(what) + ": need d >= 1 and a non-negative row count");
  if (rows > kMaxRows)
    throw nnqs::size_error(std::string(what) + ": " + std::to_string(rows) +
                           " basis rows exceed the 64-bit index range of the pair sweep");
}

}  // namespace

long long wick_ptrace_blocks(long long P) {
  check_sizes(1, P, "wick_ptrace_blocks");
  const long long nt = (P + PT - 1) / PT;
  const long long ntri = nt * (nt + 1) / 2;
  return ntri < kMaxBlocks ? (ntri < 1 ? 1 : ntri) : kMaxBlocks;
}

void wick_ptrace_frob2(const double* x, const double* sq, long long d, long long P, long long Q, long long sp,
                       long long sq_stride, KernelSpec k1, KernelSpec k2, double* partial_c, double* partial_p,
                       cudaStream_t stream) {
  check_sizes(d, P, "wick_ptrace_frob2");
  check_sizes(d, Q, "wick_ptrace_frob2");
  const long long nb = wick_ptrace_blocks(P);
  const long long nt = (P + PT - 1) / PT;
  dim3 block(PT, PT);
  ptrace_frob2_kernel<<<static_cast<unsigned>(nb), block, 0, stream>>>(x, sq, d, P, Q, sp, sq_stride, resolved(k1, d),
                                                                       resolved(k2, d), nt, partial_c, partial_p);
  NNQS_CUDA_CHECK_LAUNCH();
}

void wick_diag(const double* x, const double* sq, long long d, long long n, KernelSpec k1, KernelSpec k2, double* diag,
               cudaStream_t stream) {
  check_sizes(d, n, "wick_diag");
  if (n <= 0) return;
  diag_kernel<<<grid_1d(n, 256), 256, 0, stream>>>(x, sq, d, n, resolved(k1, d), resolved(k2, d), diag);
  NNQS_CUDA_CHECK_LAUNCH();
}

long long wick_pp_blocks(long long DA, long long DB) {
  if (DA < 0 || DB < 0) throw cuda_error("wick_pp_blocks: negative subsystem dimension");
  if (DA > 0 && DB > kMaxRows / DA)
    throw nnqs::size_error("wick_pp_blocks: D_A * D_B = " + std::to_string(DA) + " * " + std::to_string(DB) +
                           " exceeds the 64-bit index range of the four-index sweep");
  const long long D = DA * DB;
  const long long need = (D * D + 255) / 256;
  return need < kMaxBlocks ? (need < 1 ? 1 : need) : kMaxBlocks;
}

void wick_pp_term(const double* x, const double* sq, long long d, long long DA, long long DB, KernelSpec k1,
                  KernelSpec k2, double* partial, cudaStream_t stream) {
  const long long nb = wick_pp_blocks(DA, DB);
  check_sizes(d, DA * DB, "wick_pp_term");
  pp_kernel<<<static_cast<unsigned>(nb), 256, 0, stream>>>(x, sq, d, DA, DB, resolved(k1, d), resolved(k2, d), partial);
  NNQS_CUDA_CHECK_LAUNCH();
}

}  // namespace nnqs_cuda
