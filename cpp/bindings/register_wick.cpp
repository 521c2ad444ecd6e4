// Bindings of the wick area (thin: convert, check, call into nnqs::).
#include "bindings.hpp"
#include "nnqs/wick.hpp"

namespace {

nnqs::KernelSpec make_spec(int family, const carray<double>& params) {
  nnqs::require(params.ndim() == 1 && params.size() == 4, "kernel params must be a 1-d array of length 4");
  return nnqs::kernel_spec_from_params(family, params.data());
}

// table: (4, n) C-contiguous rows dot, n1, n2, w
nnqs::PairTable make_table(const carray<double>& t) {
  nnqs::require(t.ndim() == 2 && t.shape(0) == 4, "pair table must have shape (4, n)");
  const double* p = t.data();
  const nnqs::index_t n = t.shape(1);
  return nnqs::PairTable{p, p + n, p + 2 * n, p + 3 * n, n};
}

}  // namespace

void register_wick(py::module_& m) {
  m.def(
      "wick_pair_sums",
      [](int f1, carray<double> p1, int f2, carray<double> p2, bool same, carray<double> ta, carray<double> tb,
         nnqs::index_t tile) {
        auto k1 = make_spec(f1, p1), k2 = make_spec(f2, p2);
        auto a = make_table(ta), b = make_table(tb);
        nnqs::PairSums r;
        {
          py::gil_scoped_release release;
          r = nnqs::pair_sums(k1, k2, same, a, b, tile);
        }
        return py::make_tuple(r.frob_c2, r.frob_p2, r.pp_swap);
      },
      py::arg("family1"), py::arg("params1"), py::arg("family2"), py::arg("params2"), py::arg("same"),
      py::arg("table_a"), py::arg("table_b"), py::arg("tile") = 4096,
      "Σ_ij w_i w_j (C², P², P·P_swap) over two pair tables (4, n); returns (frob_c2, frob_p2, pp_swap). Kernels are "
      "(KernelFamily code, params of length 4); the sum order is fixed (bit-identical for any thread count).");
  m.def(
      "wick_partial_trace_sums",
      [](int f1, carray<double> p1, int f2, carray<double> p2, bool same, carray<double> pairs, carray<double> diag) {
        auto k1 = make_spec(f1, p1), k2 = make_spec(f2, p2);
        auto a = make_table(pairs), b = make_table(diag);
        nnqs::PartialTraceSums r;
        {
          py::gil_scoped_release release;
          r = nnqs::partial_trace_sums(k1, k2, same, a, b);
        }
        return py::make_tuple(r.lin, r.sq);
      },
      py::arg("family1"), py::arg("params1"), py::arg("family2"), py::arg("params2"), py::arg("same"), py::arg("pairs"),
      py::arg("diag"),
      "R_i = Σ_j w_j C(t_i ⊕ d_j); returns (Σ_i w_i R_i, Σ_i w_i R_i²) (fixed sum order, as wick_pair_sums).");
  m.def(
      "wick_kernel_eval",
      [](int f, carray<double> p, carray<double> dot, carray<double> n1, carray<double> n2) {
        auto k = make_spec(f, p);
        nnqs::require(dot.size() == n1.size() && dot.size() == n2.size(), "dot, n1, n2 must have equal sizes");
        py::array_t<double> out(dot.size());
        auto* o = out.mutable_data();
        for (py::ssize_t i = 0; i < dot.size(); ++i)
          o[i] = nnqs::kernel_eval(k, dot.data()[i], n1.data()[i], n2.data()[i]);
        return out;
      },
      py::arg("family"), py::arg("params"), py::arg("dot"), py::arg("n1"), py::arg("n2"),
      "Evaluate a built-in kernel from (dot, |x|², |y|²) (test helper).");
}
