// Bindings of the kernels area (thin: check dtype/contiguity, release the GIL, call into nnqs::).
// No silent copies: every array must already be C-contiguous with the dtype of the first one (float32 or
// float64); the Python layer (nnqs_fast.kernels) prepares them.
#include <string>
#include <vector>

#include "bindings.hpp"
#include "nnqs/kernels.hpp"

#include <pybind11/stl.h>

namespace {

using nnqs::index_t;

bool is_f64(const py::array& a) { return py::isinstance<py::array_t<double>>(a); }
bool is_f32(const py::array& a) { return py::isinstance<py::array_t<float>>(a); }

template <class T>
void check(const py::array& a, const char* name, bool writable = false) {
  const bool ok_dtype = std::is_same<T, double>::value ? is_f64(a) : is_f32(a);
  nnqs::require(ok_dtype, std::string(name) + ": dtype must match the other arrays (float32 or float64)");
  nnqs::require((a.flags() & py::array::c_style) != 0, std::string(name) + ": must be C-contiguous");
  if (writable) nnqs::require(a.writeable(), std::string(name) + ": must be writable");
}

template <class T>
const T* cptr(const py::array& a, const char* name) {
  check<T>(a, name);
  return static_cast<const T*>(a.data());
}

template <class T>
T* mptr(py::array& a, const char* name) {
  check<T>(a, name, true);
  return static_cast<T*>(a.mutable_data());
}

// Output pointer at tile origin (i0, j0) of a 2-D matrix, with its row stride; null for None.
template <class T>
T* out_at(py::object o, index_t i0, index_t j0, index_t rows, index_t cols, index_t* ld, const char* name) {
  if (o.is_none()) return nullptr;
  py::array a = o.cast<py::array>();
  nnqs::require(a.ndim() == 2, std::string(name) + ": must be 2-D");
  nnqs::require(i0 >= 0 && j0 >= 0 && i0 + rows <= a.shape(0) && j0 + cols <= a.shape(1),
                std::string(name) + ": tile out of bounds");
  T* p = mptr<T>(a, name);
  *ld = a.shape(1);
  return p + i0 * a.shape(1) + j0;
}

// g is either the Gram tile (rows x cols) or, with x2 given, the row inputs x1 (rows x d); x2 (cols x d).
template <class T>
bool relu_tile_impl(py::array g, py::array sq1, py::array sq2, py::object nngp, py::object ntk, index_t i0, index_t j0,
                    int depth, double W_std, double b_std, int d, int mode, py::object x2obj, bool stream) {
  nnqs::require(g.ndim() == 2, "g must be 2-D");
  const bool on_the_fly = !x2obj.is_none();
  py::array x2;
  if (on_the_fly) {
    x2 = x2obj.cast<py::array>();
    nnqs::require(x2.ndim() == 2 && g.shape(1) == d && x2.shape(1) == d, "x1/x2 must be (rows, d) and (cols, d)");
    nnqs::require(x2.dtype().is(g.dtype()), "x1 and x2 must have the same dtype");
  }
  const index_t rows = g.shape(0), cols = on_the_fly ? x2.shape(0) : g.shape(1);
  nnqs::require(sq1.size() == rows && sq2.size() == cols, "sq1/sq2 sizes must match the tile");
  index_t ld1 = 0, ld2 = 0, l3 = 0, l4 = 0;
  T* pn = out_at<T>(nngp, i0, j0, rows, cols, &ld1, "nngp");
  T* pt = out_at<T>(ntk, i0, j0, rows, cols, &ld2, "ntk");
  nnqs::require(pn || pt, "nothing requested");
  nnqs::require(!(pn && pt) || ld1 == ld2, "nngp and ntk must have the same shape");
  T* pnt = nullptr;
  T* ptt = nullptr;
  if (mode == 2) {
    pnt = out_at<T>(nngp, j0, i0, cols, rows, &l3, "nngp");
    ptt = out_at<T>(ntk, j0, i0, cols, rows, &l4, "ntk");
  }
  const T* pg = cptr<T>(g, "g");
  const T* px2 = on_the_fly ? cptr<T>(x2, "x2") : nullptr;
  const T* p1 = cptr<T>(sq1, "sq1");
  const T* p2 = cptr<T>(sq2, "sq2");
  py::gil_scoped_release nogil;
  if (on_the_fly)
    return nnqs::relu_kernel_tile<T>(nullptr, rows, cols, p1, p2, pn, pt, pn ? ld1 : ld2, depth, W_std, b_std, d, mode,
                                     pnt, ptt, pg, px2, stream);
  return nnqs::relu_kernel_tile<T>(pg, rows, cols, p1, p2, pn, pt, pn ? ld1 : ld2, depth, W_std, b_std, d, mode, pnt,
                                   ptt, nullptr, nullptr, stream);
}

template <class T>
void fused_impl(py::array out, index_t i0, index_t j0, py::object base, double alpha, double beta, py::list B,
                py::list C, std::vector<double> gamma, std::vector<double> delta, bool upper, index_t rows,
                index_t cols) {
  index_t ld = 0;
  T* po = out_at<T>(out, i0, j0, rows, cols, &ld, "out");
  const T* pb = nullptr;
  std::vector<py::array> keep;
  if (!base.is_none()) {
    py::array b = base.cast<py::array>();
    nnqs::require(b.ndim() == 2 && b.shape(0) == rows && b.shape(1) == cols, "base: tile shape mismatch");
    pb = cptr<T>(b, "base");
    keep.push_back(b);
  }
  std::vector<const T*> pB, pC;
  nnqs::require(B.size() == C.size(), "B and C must have the same length");
  for (size_t p = 0; p < B.size(); ++p) {
    py::array b = B[p].cast<py::array>(), c = C[p].cast<py::array>();
    nnqs::require(b.ndim() == 2 && b.shape(0) == rows && b.shape(1) == cols, "B: tile shape mismatch");
    nnqs::require(c.ndim() == 2 && c.shape(0) == rows && c.shape(1) == cols, "C: tile shape mismatch");
    pB.push_back(cptr<T>(b, "B"));
    pC.push_back(cptr<T>(c, "C"));
    keep.push_back(b);
    keep.push_back(c);
  }
  py::gil_scoped_release nogil;
  nnqs::fused_ntk_tile<T>(po, ld, rows, cols, pb, alpha, beta, pB, pC, gamma, delta, upper);
}

template <class T>
void stationary_impl(py::array g, py::array sq1, py::array sq2, py::array out, index_t i0, index_t j0, double amp,
                     double scale, double c0, double c1, bool upper) {
  nnqs::require(g.ndim() == 2, "g must be 2-D");
  const index_t rows = g.shape(0), cols = g.shape(1);
  nnqs::require(sq1.size() == rows && sq2.size() == cols, "sq1/sq2 sizes must match the tile");
  index_t ld = 0;
  T* po = out_at<T>(out, i0, j0, rows, cols, &ld, "out");
  const T* pg = cptr<T>(g, "g");
  const T* p1 = cptr<T>(sq1, "sq1");
  const T* p2 = cptr<T>(sq2, "sq2");
  py::gil_scoped_release nogil;
  nnqs::stationary_tile<T>(pg, rows, cols, p1, p2, po, ld, amp, scale, c0, c1, upper);
}

template <class T>
void features_impl(py::array a0, py::array wt, py::array bias, py::array v, py::array h, py::array dh, double hscale,
                   double dscale) {
  nnqs::require(a0.ndim() == 2 && wt.ndim() == 2 && a0.shape(1) == wt.shape(0),
                "a0 (rows x in_dim) and wt (in_dim x cols) must be 2-D with matching in_dim");
  const index_t rows = a0.shape(0), in_dim = a0.shape(1), cols = wt.shape(1);
  nnqs::require(h.ndim() == 2 && dh.ndim() == 2 && h.shape(0) == rows && h.shape(1) == cols && dh.shape(0) == rows &&
                    dh.shape(1) == cols,
                "h and dh must be rows x cols");
  nnqs::require(bias.size() == cols && v.size() == cols, "bias and v must have one entry per column");
  const T* pa = cptr<T>(a0, "a0");
  const T* pw = cptr<T>(wt, "wt");
  const T* pb = cptr<T>(bias, "bias");
  const T* pv = cptr<T>(v, "v");
  T* ph = mptr<T>(h, "h");
  T* pd = mptr<T>(dh, "dh");
  py::gil_scoped_release nogil;
  nnqs::relu_layer_features<T>(pa, in_dim, pw, pb, pv, ph, pd, rows, cols, hscale, dscale);
}

template <class T>
void mirror_impl(py::array m) {
  nnqs::require(m.ndim() == 2 && m.shape(0) == m.shape(1), "mirror_upper: m must be square");
  T* p = mptr<T>(m, "m");
  const index_t n = m.shape(0);
  py::gil_scoped_release nogil;
  nnqs::mirror_upper<T>(p, n);
}

template <class T>
void combine_impl(py::array t1, py::array t2, py::array theta, py::array phi) {
  const index_t n = t1.size();
  nnqs::require(t2.size() == n && theta.size() == n && phi.size() == n, "combine_decoupled: size mismatch");
  const T* a = cptr<T>(t1, "t1");
  const T* b = cptr<T>(t2, "t2");
  T* th = mptr<T>(theta, "theta");
  T* ph = mptr<T>(phi, "phi");
  py::gil_scoped_release nogil;
  nnqs::combine_decoupled<T>(a, b, th, ph, n);
}

#define NNQS_DISPATCH(first, fn, ...)                                  \
  do {                                                                 \
    if (is_f64(first)) return fn<double>(__VA_ARGS__);                 \
    if (is_f32(first)) return fn<float>(__VA_ARGS__);                  \
    throw nnqs::invalid_argument("arrays must be float32 or float64"); \
  } while (0)

}  // namespace

void register_kernels(py::module_& m) {
  m.def(
      "relu_kernel_tile",
      [](py::array g, py::array sq1, py::array sq2, py::object nngp, py::object ntk, index_t i0, index_t j0, int depth,
         double W_std, double b_std, int d, int mode, py::object x2, bool stream) {
        NNQS_DISPATCH(g, relu_tile_impl, g, sq1, sq2, nngp, ntk, i0, j0, depth, W_std, b_std, d, mode, x2, stream);
      },
      py::arg("g"), py::arg("sq1"), py::arg("sq2"), py::arg("nngp").none(true), py::arg("ntk").none(true),
      py::arg("i0"), py::arg("j0"), py::arg("depth"), py::arg("W_std"), py::arg("b_std"), py::arg("d"), py::arg("mode"),
      py::arg("x2") = py::none(), py::arg("stream") = false,
      "ReLU NNGP/NTK arc-cosine recursion on a Gram tile, written into nngp/ntk at (i0, j0) (mode 0 plain, "
      "1 symmetric diagonal tile, 2 symmetric off-diagonal tile also written at (j0, i0)). With x2 given, g is the "
      "row inputs x1 (rows x d) and the dot products x1 . x2 are formed on the fly. stream=True allows streaming "
      "stores into large aligned outputs whose pages are already mapped (reused pool blocks). Returns True when every "
      "value "
      "written is finite (checked while storing; False: not checked or not finite).");
  m.def(
      "fused_ntk_tile",
      [](py::array out, index_t i0, index_t j0, py::object base, double alpha, double beta, py::list B, py::list C,
         std::vector<double> gamma, std::vector<double> delta, bool upper, index_t rows, index_t cols) {
        NNQS_DISPATCH(out, fused_impl, out, i0, j0, base, alpha, beta, B, C, gamma, delta, upper, rows, cols);
      },
      py::arg("out"), py::arg("i0"), py::arg("j0"), py::arg("base").none(true), py::arg("alpha"), py::arg("beta"),
      py::arg("B"), py::arg("C"), py::arg("gamma"), py::arg("delta"), py::arg("upper"), py::arg("rows"),
      py::arg("cols"), "out[i0+i, j0+j] = alpha*base + beta + sum_p B_p*(gamma_p*C_p + delta_p) on one tile.");
  m.def(
      "stationary_tile",
      [](py::array g, py::array sq1, py::array sq2, py::array out, index_t i0, index_t j0, double amp, double scale,
         double c0, double c1,
         bool upper) { NNQS_DISPATCH(g, stationary_impl, g, sq1, sq2, out, i0, j0, amp, scale, c0, c1, upper); },
      py::arg("g"), py::arg("sq1"), py::arg("sq2"), py::arg("out"), py::arg("i0"), py::arg("j0"), py::arg("amp"),
      py::arg("scale"), py::arg("c0"), py::arg("c1"), py::arg("upper"),
      "amp*exp(-scale*|x-x'|^2)*(c0 + c1 x.x') on one tile.");
  m.def(
      "relu_layer_features",
      [](py::array a0, py::array wt, py::array bias, py::array v, py::array h, py::array dh, double hscale,
         double dscale) { NNQS_DISPATCH(a0, features_impl, a0, wt, bias, v, h, dh, hscale, dscale); },
      py::arg("a0"), py::arg("wt"), py::arg("bias"), py::arg("v"), py::arg("h"), py::arg("dh"), py::arg("hscale"),
      py::arg("dscale"), "z = bias + a0 @ wt; h <- relu(z)*hscale, dh <- step(z)*v*dscale (one pass, no z matrix).");
  m.def(
      "mirror_upper", [](py::array mtx) { NNQS_DISPATCH(mtx, mirror_impl, mtx); }, py::arg("m"),
      "Copy the upper triangle of a square C-contiguous matrix to the lower triangle.");
  m.def(
      "combine_decoupled",
      [](py::array t1, py::array t2, py::array theta, py::array phi) {
        NNQS_DISPATCH(t1, combine_impl, t1, t2, theta, phi);
      },
      py::arg("t1"), py::arg("t2"), py::arg("theta"), py::arg("phi"), "theta = t1 - t2, phi = t1 + t2.");
}
