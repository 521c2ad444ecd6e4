// Structured empirical NTK: the fused element-wise pass over one output tile, after cuBLAS has formed
// the rank-N products D = Delta_I Delta_J^T and H = H_I H_J^T of one layer:
//   out[r0+i, c0+j] (+)= (D ? D[i,j] : 1) * (c * H[i,j] + b2)
// Launch: 32x8 threads per 32x32 sub-tile; each thread handles 4 rows. Values are staged in shared memory so the
// transposed (mirrored) write of a symmetric output is coalesced too. For a symmetric diagonal tile (SYRK output,
// upper triangle valid) only sub-tiles with by <= bx run; each writes itself and its transpose.
#include <cuda_runtime.h>
#include "cuda_check.hpp"
#include "nnqs_kernels.hpp"

namespace nnqs_cuda {

namespace {
constexpr int TS = 32, TR = 8;

template <class T>
__global__ void __launch_bounds__(TS* TR)
    ntk_tile_kernel(T* __restrict__ out, long long ld_out, long long r0, long long c0, const T* __restrict__ D,
                    const T* __restrict__ H, long long ldt, long long rows, long long cols, T c, T b2, int flags) {
  __shared__ T s[TS][TS + 1];
  const bool diag = flags & TILE_DIAG, acc = flags & TILE_ACCUMULATE, mirror = flags & TILE_MIRROR;
  const long long bx = blockIdx.x, by = blockIdx.y;
  if (diag && by > bx) return;  // lower sub-tiles of a symmetric tile are written by their transposes
  const int tx = threadIdx.x, ty = threadIdx.y;
  const long long j = bx * TS + tx;
#pragma unroll
  for (int k = 0; k < TS / TR; ++k) {
    const long long i = by * TS + ty + k * TR;
    T val = T(0);
    if (i < rows && j < cols) {
      // in a symmetric diagonal tile only the upper triangle of D, H is valid
      const long long ii = (diag && i > j) ? j : i, jj = (diag && i > j) ? i : j;
      const long long t = ii * ldt + jj;
      val = c * H[t] + b2;
      if (D) val *= D[t];
      if (acc) val += out[(r0 + i) * ld_out + (c0 + j)];
    }
    s[ty + k * TR][tx] = val;
  }
  __syncthreads();
#pragma unroll
  for (int k = 0; k < TS / TR; ++k) {
    const long long i = by * TS + ty + k * TR;
    if (i < rows && j < cols) out[(r0 + i) * ld_out + (c0 + j)] = s[ty + k * TR][tx];
  }
  // transposed write: position (c0 + jj, r0 + ii) receives value(ii, jj)
  const bool write_t = mirror || (diag && bx != by);
  if (write_t) {
#pragma unroll
    for (int k = 0; k < TS / TR; ++k) {
      const long long jj = bx * TS + ty + k * TR;  // row of the transposed block
      const long long ii = by * TS + tx;           // column of the transposed block
      if (ii < rows && jj < cols) out[(c0 + jj) * ld_out + (r0 + ii)] = s[tx][ty + k * TR];
    }
  }
}

// block (bx, by) with by >= bx: writes the lower tile (by, bx) from the transposed upper tile (bx, by)
template <class T>
__global__ void __launch_bounds__(TS* TR) mirror_upper_kernel(T* a, long long n, long long ld) {
  __shared__ T s[TS][TS + 1];
  const long long bx = blockIdx.x, by = blockIdx.y;
  if (by < bx) return;
  const int tx = threadIdx.x, ty = threadIdx.y;
#pragma unroll
  for (int k = 0; k < TS / TR; ++k) {  // read the upper tile (bx, by): rows bx*TS.., columns by*TS..
    const long long r = bx * TS + ty + k * TR, c = by * TS + tx;
    s[ty + k * TR][tx] = (r < n && c < n && r <= c) ? a[r * ld + c] : T(0);
  }
  __syncthreads();
#pragma unroll
  for (int k = 0; k < TS / TR; ++k) {  // write the lower tile (by, bx): element (c, r) = upper (r, c)
    const long long r = by * TS + ty + k * TR, c = bx * TS + tx;
    if (r < n && c < n && r > c) a[r * ld + c] = s[tx][ty + k * TR];
  }
}
}  // namespace

template <class T>
void mirror_upper(T* a, long long n, long long ld, cudaStream_t stream) {
  if (n <= 1) return;
  const long long g = (n + TS - 1) / TS;
  if (g > 65535) throw cuda_error("mirror_upper: matrix too large (max 65535*32 rows)");
  mirror_upper_kernel<T>
      <<<dim3(static_cast<unsigned>(g), static_cast<unsigned>(g)), dim3(TS, TR), 0, stream>>>(a, n, ld);
  NNQS_CUDA_CHECK_LAUNCH();
}

template void mirror_upper<float>(float*, long long, long long, cudaStream_t);
template void mirror_upper<double>(double*, long long, long long, cudaStream_t);

template <class T>
void ntk_tile_accumulate(T* out, long long ld_out, long long r0, long long c0, const T* D, const T* H, long long ldt,
                         long long rows, long long cols, double c, double b2, int flags, cudaStream_t stream) {
  if (rows <= 0 || cols <= 0) return;
  if ((flags & TILE_DIAG) && rows != cols) throw cuda_error("ntk_tile_accumulate: a diagonal tile must be square");
  const long long gx = (cols + TS - 1) / TS, gy = (rows + TS - 1) / TS;
  if (gy > 65535) throw cuda_error("ntk_tile_accumulate: tile has too many rows (max 65535*32)");
  dim3 grid(static_cast<unsigned>(gx), static_cast<unsigned>(gy)), block(TS, TR);
  ntk_tile_kernel<T><<<grid, block, 0, stream>>>(out, ld_out, r0, c0, D, H, ldt, rows, cols, static_cast<T>(c),
                                                 static_cast<T>(b2), flags);
  NNQS_CUDA_CHECK_LAUNCH();
}

template void ntk_tile_accumulate<float>(float*, long long, long long, long long, const float*, const float*, long long,
                                         long long, long long, double, double, int, cudaStream_t);
template void ntk_tile_accumulate<double>(double*, long long, long long, long long, const double*, const double*,
                                          long long, long long, long long, double, double, int, cudaStream_t);

}  // namespace nnqs_cuda
