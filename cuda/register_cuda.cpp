// nnqs_fast._cuda — pybind11 bindings of the CUDA kernels. Device arrays arrive as raw pointers
// (read by the Python shim nnqs_fast/gpu/_shim.py from __cuda_array_interface__), streams as integers
// (CuPy's current stream), so this module never depends on CuPy at build time. Every binding releases the GIL;
// CUDA errors raise nnqs_fast._cuda.CudaError (a RuntimeError) carrying the CUDA error string; invalid arguments
// raise CoreInvalidArgument (an nnqs_fast.errors.InvalidInputError), impossible sizes CoreSizeError (a
// MemoryLimitError). Kernel specs are 7-tuples (family, depth, W_std, b_std, amp, gamma, input_dim) with the
// family codes of nnqs/kernel_math.hpp (KernelFamily, also exported here).
#include <pybind11/pybind11.h>
#include <cstdint>
#include <string>
#include "cuda_check.hpp"
#include "device_info.hpp"
#include "error_translation.hpp"
#include "nnqs/common.hpp"
#include "nnqs/kernel_math.hpp"
#include "nnqs_kernels.hpp"

namespace py = pybind11;
using nnqs_cuda::cuda_error;

namespace {
cudaStream_t as_stream(std::uintptr_t s) { return reinterpret_cast<cudaStream_t>(s); }
template <class T>
T* as_ptr(std::uintptr_t p) {
  return reinterpret_cast<T*>(p);
}

nnqs_cuda::KernelSpec as_spec(const py::tuple& t) {
  if (t.size() != 7)
    throw nnqs::invalid_argument("kernel spec must be (family, depth, W_std, b_std, amp, gamma, input_dim)");
  const int family = t[0].cast<int>();
  if (nnqs::kernel_family_name(family) == nullptr)
    throw nnqs::invalid_argument("kernel spec family " + std::to_string(family) +
                                 " is not a KernelFamily code (0 zero, 1 rbf, 2 relu, 3 delta, 4 relu_ntk)");
  nnqs_cuda::KernelSpec k;
  k.family = static_cast<nnqs::KernelFamily>(family);
  k.depth = t[1].cast<int>();
  k.W_std = t[2].cast<double>();
  k.b_std = t[3].cast<double>();
  k.amp = t[4].cast<double>();
  k.gamma = t[5].cast<double>();
  k.input_dim = t[6].cast<double>();
  if (nnqs::km::needs_dot(k.family) && k.depth < 1) throw nnqs::invalid_argument("relu kernel depth must be >= 1");
  return k;
}

nnqs_cuda::GDShape as_shape(long long M, long long N, long long d, double W_std, double b_std) {
  nnqs_cuda::GDShape s;
  s.M = M;
  s.N = N;
  s.d = d;
  s.W_std = W_std;
  s.b_std = b_std;
  return s;
}
}  // namespace

PYBIND11_MODULE(_cuda, m) {
  m.doc() = "nnqs_fast private CUDA kernels (use the nnqs_fast Python API with backend='cuda')";
  py::register_exception<cuda_error>(m, "CudaError", PyExc_RuntimeError);
  nnqs_bindings::register_core_exceptions(m, /*module_local=*/true);
  py::enum_<nnqs::KernelFamily>(m, "KernelFamily", py::arithmetic(), py::module_local(),
                                "Kernel family codes of the Wick kernel specs (same numbering as _core.KernelFamily).")
      .value("zero", nnqs::KernelFamily::zero)
      .value("rbf", nnqs::KernelFamily::rbf)
      .value("relu", nnqs::KernelFamily::relu)
      .value("delta", nnqs::KernelFamily::delta)
      .value("relu_ntk", nnqs::KernelFamily::relu_ntk);

  m.def(
      "device_status",
      []() {
        auto s = nnqs_cuda::device_status();
        py::dict d;
        d["usable"] = s.usable;
        d["device_count"] = s.device_count;
        d["runtime_version"] = s.runtime_version;
        d["driver_version"] = s.driver_version;
        d["compute_capability"] = s.compute_capability;
        d["total_memory"] = s.total_memory;
        d["name"] = s.name;
        d["reason"] = s.reason;
        return d;
      },
      "Status of CUDA device 0 as a dict (usable, device_count, runtime_version, driver_version, "
      "compute_capability, total_memory, name, reason); never raises.");

  m.def("compiled_archs", &nnqs_cuda::compiled_archs,
        "CUDA architectures this module was compiled for, comma-separated (e.g. '800,900').");
  m.attr("GD_MAX_D") = nnqs_cuda::GD_MAX_D;
  m.attr("TILE_ACCUMULATE") = static_cast<int>(nnqs_cuda::TILE_ACCUMULATE);
  m.attr("TILE_DIAG") = static_cast<int>(nnqs_cuda::TILE_DIAG);
  m.attr("TILE_MIRROR") = static_cast<int>(nnqs_cuda::TILE_MIRROR);

  m.def(
      "ntk_tile_accumulate",
      [](std::uintptr_t out, long long ld_out, long long r0, long long c0, std::uintptr_t D, std::uintptr_t H,
         long long ldt, long long rows, long long cols, double c, double b2, int flags, bool is_double,
         std::uintptr_t stream) {
        py::gil_scoped_release release;
        if (is_double)
          nnqs_cuda::ntk_tile_accumulate<double>(as_ptr<double>(out), ld_out, r0, c0, as_ptr<const double>(D),
                                                 as_ptr<const double>(H), ldt, rows, cols, c, b2, flags,
                                                 as_stream(stream));
        else
          nnqs_cuda::ntk_tile_accumulate<float>(as_ptr<float>(out), ld_out, r0, c0, as_ptr<const float>(D),
                                                as_ptr<const float>(H), ldt, rows, cols, c, b2, flags,
                                                as_stream(stream));
      },
      py::arg("out"), py::arg("ld_out"), py::arg("r0"), py::arg("c0"), py::arg("D"), py::arg("H"), py::arg("ldt"),
      py::arg("rows"), py::arg("cols"), py::arg("c"), py::arg("b2"), py::arg("flags"), py::arg("is_double"),
      py::arg("stream"),
      "out[r0+i, c0+j] (+)= (D[i,j] or 1) * (c*H[i,j] + b2) on one tile (D may be 0 = ones); flags TILE_*.");

  m.def(
      "mirror_upper",
      [](std::uintptr_t a, long long n, long long ld, bool is_double, std::uintptr_t stream) {
        py::gil_scoped_release release;
        if (is_double)
          nnqs_cuda::mirror_upper<double>(as_ptr<double>(a), n, ld, as_stream(stream));
        else
          nnqs_cuda::mirror_upper<float>(as_ptr<float>(a), n, ld, as_stream(stream));
      },
      py::arg("a"), py::arg("n"), py::arg("ld"), py::arg("is_double"), py::arg("stream"),
      "In place: copy the upper triangle of a square block to the lower one.");

  m.def(
      "relu_gram",
      [](std::uintptr_t G, std::uintptr_t sq1, std::uintptr_t sq2, std::uintptr_t nngp, std::uintptr_t ntk,
         long long rows, long long cols, long long ld, int depth, double W_std, double b_std, double d, bool is_double,
         std::uintptr_t stream) {
        py::gil_scoped_release release;
        if (is_double)
          nnqs_cuda::relu_gram<double>(as_ptr<const double>(G), as_ptr<const double>(sq1), as_ptr<const double>(sq2),
                                       as_ptr<double>(nngp), as_ptr<double>(ntk), rows, cols, ld, depth, W_std, b_std,
                                       d, as_stream(stream));
        else
          nnqs_cuda::relu_gram<float>(as_ptr<const float>(G), as_ptr<const float>(sq1), as_ptr<const float>(sq2),
                                      as_ptr<float>(nngp), as_ptr<float>(ntk), rows, cols, ld, depth, W_std, b_std, d,
                                      as_stream(stream));
      },
      py::arg("G"), py::arg("sq1"), py::arg("sq2"), py::arg("nngp"), py::arg("ntk"), py::arg("rows"), py::arg("cols"),
      py::arg("ld"), py::arg("depth"), py::arg("W_std"), py::arg("b_std"), py::arg("d"), py::arg("is_double"),
      py::arg("stream"),
      "Analytic ReLU NNGP/NTK from the dot products G (rows x cols, leading dim ld); nngp/ntk may be 0 or alias G.");

  m.def(
      "stationary_gram",
      [](std::uintptr_t G, std::uintptr_t sq1, std::uintptr_t sq2, std::uintptr_t nngp, std::uintptr_t ntk,
         long long rows, long long cols, long long ld, double amp, double scale, double c0, double c1, bool is_double,
         std::uintptr_t stream) {
        py::gil_scoped_release release;
        if (is_double)
          nnqs_cuda::stationary_gram<double>(as_ptr<const double>(G), as_ptr<const double>(sq1),
                                             as_ptr<const double>(sq2), as_ptr<double>(nngp), as_ptr<double>(ntk), rows,
                                             cols, ld, amp, scale, c0, c1, as_stream(stream));
        else
          nnqs_cuda::stationary_gram<float>(as_ptr<const float>(G), as_ptr<const float>(sq1), as_ptr<const float>(sq2),
                                            as_ptr<float>(nngp), as_ptr<float>(ntk), rows, cols, ld, amp, scale, c0, c1,
                                            as_stream(stream));
      },
      py::arg("G"), py::arg("sq1"), py::arg("sq2"), py::arg("nngp"), py::arg("ntk"), py::arg("rows"), py::arg("cols"),
      py::arg("ld"), py::arg("amp"), py::arg("scale"), py::arg("c0"), py::arg("c1"), py::arg("is_double"),
      py::arg("stream"),
      "Stationary kernels from dot products G: nngp = amp exp(-scale r^2), ntk = nngp (c0 + c1 x.x').");

  m.def("wick_ptrace_blocks", &nnqs_cuda::wick_ptrace_blocks, py::arg("P"),
        "Number of block partial sums wick_ptrace_frob2 writes for P subsystem configurations.");
  m.def("wick_pp_blocks", &nnqs_cuda::wick_pp_blocks, py::arg("DA"), py::arg("DB"),
        "Number of block partial sums wick_pp_term writes for subsystem dimensions DA, DB.");
  m.def(
      "wick_ptrace_frob2",
      [](std::uintptr_t x, std::uintptr_t sq, long long d, long long P, long long Q, long long sp, long long sqs,
         py::tuple k1, py::tuple k2, std::uintptr_t partial_c, std::uintptr_t partial_p, std::uintptr_t stream) {
        auto s1 = as_spec(k1), s2 = as_spec(k2);
        py::gil_scoped_release release;
        nnqs_cuda::wick_ptrace_frob2(as_ptr<const double>(x), as_ptr<const double>(sq), d, P, Q, sp, sqs, s1, s2,
                                     as_ptr<double>(partial_c), as_ptr<double>(partial_p), as_stream(stream));
      },
      py::arg("x"), py::arg("sq"), py::arg("d"), py::arg("P"), py::arg("Q"), py::arg("sp"), py::arg("sq_stride"),
      py::arg("k1"), py::arg("k2"), py::arg("partial_c"), py::arg("partial_p"), py::arg("stream"),
      "Block sums of sum_{p,p'} (sum_q C(x[p*sp+q*sq], x[p'*sp+q*sq]))^2 (and the same for P into partial_p).");
  m.def(
      "wick_diag",
      [](std::uintptr_t x, std::uintptr_t sq, long long d, long long n, py::tuple k1, py::tuple k2, std::uintptr_t out,
         std::uintptr_t stream) {
        auto s1 = as_spec(k1), s2 = as_spec(k2);
        py::gil_scoped_release release;
        nnqs_cuda::wick_diag(as_ptr<const double>(x), as_ptr<const double>(sq), d, n, s1, s2, as_ptr<double>(out),
                             as_stream(stream));
      },
      py::arg("x"), py::arg("sq"), py::arg("d"), py::arg("n"), py::arg("k1"), py::arg("k2"), py::arg("out"),
      py::arg("stream"), "out[i] = C(x_i, x_i).");
  m.def(
      "wick_pp_term",
      [](std::uintptr_t x, std::uintptr_t sq, long long d, long long DA, long long DB, py::tuple k1, py::tuple k2,
         std::uintptr_t partial, std::uintptr_t stream) {
        auto s1 = as_spec(k1), s2 = as_spec(k2);
        py::gil_scoped_release release;
        nnqs_cuda::wick_pp_term(as_ptr<const double>(x), as_ptr<const double>(sq), d, DA, DB, s1, s2,
                                as_ptr<double>(partial), as_stream(stream));
      },
      py::arg("x"), py::arg("sq"), py::arg("d"), py::arg("DA"), py::arg("DB"), py::arg("k1"), py::arg("k2"),
      py::arg("partial"), py::arg("stream"),
      "Block sums of sum_{a,a',b,b'} P(x[a DB+b], x[a' DB+b']) P(x[a' DB+b], x[a DB+b']).");

  // ---- fused GD step of M one-hidden-layer ReLU networks ----
  m.def(
      "gd_forward_splits",
      [](long long M, long long N, long long d, long long n) {
        return nnqs_cuda::gd_forward_splits(as_shape(M, N, d, 0.5, 0.1), n);
      },
      py::arg("M"), py::arg("N"), py::arg("d"), py::arg("n"),
      "Number of hidden-unit splits of the forward pass (the fpart buffer holds M * splits_j * n values).");
  m.def(
      "gd_backward_splits",
      [](long long M, long long N, long long d, long long n) {
        return nnqs_cuda::gd_backward_splits(as_shape(M, N, d, 0.5, 0.1), n);
      },
      py::arg("M"), py::arg("N"), py::arg("d"), py::arg("n"),
      "Number of sample splits of the backward pass (the gpart buffer holds M * splits_i * N * (d + 2) values).");
  m.def("gd_reduce_blocks", &nnqs_cuda::gd_reduce_blocks, py::arg("n"),
        "Number of block sums of the squared residuals per network (the sse_part buffer holds M * blocks).");
  m.def(
      "gd_forward",
      [](long long M, long long N, long long d, double W_std, double b_std, std::uintptr_t x, long long n,
         std::uintptr_t W, std::uintptr_t b0, std::uintptr_t v, std::uintptr_t b1, std::uintptr_t fpart, int splits_j,
         std::uintptr_t y, std::uintptr_t f, std::uintptr_t g, std::uintptr_t sse_part, bool is_double,
         std::uintptr_t stream) {
        auto s = as_shape(M, N, d, W_std, b_std);
        py::gil_scoped_release release;
        if (is_double) {
          nnqs_cuda::gd_forward_partial<double>(s, as_ptr<const double>(x), n, as_ptr<const double>(W),
                                                as_ptr<const double>(b0), as_ptr<const double>(v),
                                                as_ptr<double>(fpart), splits_j, as_stream(stream));
          nnqs_cuda::gd_finish_forward<double>(s, n, as_ptr<const double>(fpart), splits_j, as_ptr<const double>(b1),
                                               as_ptr<const double>(y), as_ptr<double>(f), as_ptr<double>(g),
                                               as_ptr<double>(sse_part), as_stream(stream));
        } else {
          nnqs_cuda::gd_forward_partial<float>(s, as_ptr<const float>(x), n, as_ptr<const float>(W),
                                               as_ptr<const float>(b0), as_ptr<const float>(v), as_ptr<float>(fpart),
                                               splits_j, as_stream(stream));
          nnqs_cuda::gd_finish_forward<float>(s, n, as_ptr<const float>(fpart), splits_j, as_ptr<const float>(b1),
                                              as_ptr<const float>(y), as_ptr<float>(f), as_ptr<float>(g),
                                              as_ptr<double>(sse_part), as_stream(stream));
        }
      },
      py::arg("M"), py::arg("N"), py::arg("d"), py::arg("W_std"), py::arg("b_std"), py::arg("x"), py::arg("n"),
      py::arg("W"), py::arg("b0"), py::arg("v"), py::arg("b1"), py::arg("fpart"), py::arg("splits_j"), py::arg("y"),
      py::arg("f"), py::arg("g"), py::arg("sse_part"), py::arg("is_double"), py::arg("stream"),
      "Forward pass of M networks on n inputs: f (may be 0), and with y: g = (2/n)(f - y) and SSE block sums.");
  m.def(
      "gd_backward_update",
      [](long long M, long long N, long long d, double W_std, double b_std, std::uintptr_t x, long long n,
         std::uintptr_t W, std::uintptr_t b0, std::uintptr_t v, std::uintptr_t b1, std::uintptr_t g,
         std::uintptr_t gpart, int splits_i, double lr, std::uintptr_t active, bool is_double, std::uintptr_t stream) {
        auto s = as_shape(M, N, d, W_std, b_std);
        py::gil_scoped_release release;
        if (is_double) {
          nnqs_cuda::gd_backward_partial<double>(s, as_ptr<const double>(x), n, as_ptr<const double>(W),
                                                 as_ptr<const double>(b0), as_ptr<const double>(g),
                                                 as_ptr<double>(gpart), splits_i, as_stream(stream));
          nnqs_cuda::gd_update<double>(s, n, as_ptr<const double>(gpart), splits_i, as_ptr<const double>(g),
                                       as_ptr<double>(W), as_ptr<double>(b0), as_ptr<double>(v), as_ptr<double>(b1), lr,
                                       as_ptr<const int>(active), as_stream(stream));
        } else {
          nnqs_cuda::gd_backward_partial<float>(s, as_ptr<const float>(x), n, as_ptr<const float>(W),
                                                as_ptr<const float>(b0), as_ptr<const float>(g), as_ptr<float>(gpart),
                                                splits_i, as_stream(stream));
          nnqs_cuda::gd_update<float>(s, n, as_ptr<const float>(gpart), splits_i, as_ptr<const float>(g),
                                      as_ptr<float>(W), as_ptr<float>(b0), as_ptr<float>(v), as_ptr<float>(b1), lr,
                                      as_ptr<const int>(active), as_stream(stream));
        }
      },
      py::arg("M"), py::arg("N"), py::arg("d"), py::arg("W_std"), py::arg("b_std"), py::arg("x"), py::arg("n"),
      py::arg("W"), py::arg("b0"), py::arg("v"), py::arg("b1"), py::arg("g"), py::arg("gpart"), py::arg("splits_i"),
      py::arg("lr"), py::arg("active"), py::arg("is_double"), py::arg("stream"),
      "Backward pass from g = dL/df and the parameter update theta -= lr * dL/dtheta, in place, for the networks "
      "with active[m] != 0 (int32 mask; 0 = all).");
  m.def(
      "gd_monitor",
      [](long long M, long long n, std::uintptr_t sse_part, long long nb, double rtol, long long t, std::uintptr_t loss,
         std::uintptr_t prev, std::uintptr_t active, std::uintptr_t stop_step, std::uintptr_t status,
         std::uintptr_t stream) {
        py::gil_scoped_release release;
        nnqs_cuda::gd_monitor(M, n, as_ptr<const double>(sse_part), nb, rtol, t, as_ptr<double>(loss),
                              as_ptr<double>(prev), as_ptr<int>(active), as_ptr<long long>(stop_step),
                              as_ptr<int>(status), as_stream(stream));
      },
      py::arg("M"), py::arg("n"), py::arg("sse_part"), py::arg("nb"), py::arg("rtol"), py::arg("t"), py::arg("loss"),
      py::arg("prev"), py::arg("active"), py::arg("stop_step"), py::arg("status"), py::arg("stream"),
      "Per-step loss, divergence and early-stop detection for M networks (device state arrays updated in place).");
}
