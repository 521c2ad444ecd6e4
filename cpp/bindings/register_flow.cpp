// Bindings of the flow area (thin: check, call into nnqs::).
#include <string>

#include "bindings.hpp"
#include "nnqs/flow.hpp"
#include "nnqs/walsh.hpp"

namespace {

using marray = py::array_t<double, py::array::c_style>;  // taken with noconvert(): updated in place, never copied
using iarray = py::array_t<nnqs::index_t, py::array::c_style>;

}  // namespace

void register_flow(py::module_& m) {
  m.def(
      "walsh_energy_step",
      [](iarray indptr, iarray indices, carray<double> data, nnqs::index_t k, marray u, marray hu, carray<double> lam,
         double factor, bool update, int threads) {
        const nnqs::index_t n = indptr.size() - 1;
        nnqs::require(n > 0 && k > 0, "walsh_energy_step: empty operator or no states");
        nnqs::require(indices.size() == data.size() && indptr.at(n) == indices.size(),
                      "walsh_energy_step: inconsistent CSR arrays");
        const nnqs::index_t lanes = nnqs::kFlowLanes;
        nnqs::require(u.ndim() == 3 && u.shape(1) == n && u.shape(2) == lanes && u.shape(0) * lanes >= 2 * k &&
                          hu.ndim() == 3 && hu.shape(0) == u.shape(0) && hu.shape(1) == n && hu.shape(2) == lanes,
                      "walsh_energy_step: u and hu must be (P, D, 8) panels with 8 P >= 2K");
        nnqs::require(lam.ndim() == 2 && lam.shape(0) == n && lam.shape(1) == 2,
                      "walsh_energy_step: lam must be (D, 2)");
        nnqs::require(u.writeable() && hu.writeable(), "walsh_energy_step: u and hu must be writeable");
        const nnqs::index_t* ip = indptr.data();
        const nnqs::index_t* ix = indices.data();
        bool ok = true;  // one pass, one message: the CSR arrays index u's rows (never out of bounds)
        for (nnqs::index_t i = 0; i < n; ++i) ok &= ip[i] <= ip[i + 1];
        nnqs::require(ok && ip[0] == 0, "walsh_energy_step: indptr must start at 0 and be non-decreasing");
        for (nnqs::index_t p = 0; p < indices.size(); ++p) ok &= ix[p] >= 0 && ix[p] < n;
        nnqs::require(ok, "walsh_energy_step: column index out of range");
        py::array_t<double> e(k), n2(k);
        nnqs::CsrView a{n, ip, ix, data.data()};
        double* up = u.mutable_data();
        double* hp = hu.mutable_data();
        double* ep = e.mutable_data();
        double* np = n2.mutable_data();
        {
          py::gil_scoped_release release;
          nnqs::walsh_energy_step(a, k, u.shape(0) * lanes, up, hp, lam.data(), factor, update, ep, np, threads);
        }
        return py::make_tuple(e, n2);
      },
      py::arg("indptr").noconvert(), py::arg("indices").noconvert(), py::arg("data"), py::arg("k"),
      py::arg("u").noconvert(), py::arg("hu").noconvert(), py::arg("lam"), py::arg("factor"), py::arg("update"),
      py::arg("threads") = 0,
      "One step of the Walsh-domain energy flow (nnqs/flow.hpp) for K states in the float64 panels u (P, D, 8): with "
      "g = factor * lam * 2 (H u - E u) / n per state, u -= g (update) or hu = g. Returns (E, n2) of u before the "
      "step. indptr/indices: int64 CSR of the real H̃ = W H W.");
  m.def(
      "fwht_rows",
      [](marray x, int threads) {
        nnqs::require(x.ndim() == 2, "fwht_rows: x must be a 2-d (rows, D) float64 array");
        nnqs::require(x.writeable(), "fwht_rows: x must be writeable");
        const nnqs::index_t r = x.shape(0), d = x.shape(1);
        double* xp = x.mutable_data();
        py::gil_scoped_release release;
        nnqs::fwht_rows(xp, r, d, threads);
      },
      py::arg("x").noconvert(), py::arg("threads") = 0,
      "In place: every row of the C-contiguous float64 (rows, D) array x becomes its normalised Walsh-Hadamard "
      "transform H^{(x)L} x / sqrt(D) (nnqs/walsh.hpp; D a power of two).");
  m.def(
      "xor_diag_congruence",
      [](py::array_t<double> v, iarray idx, carray<double> spec, int threads) {
        nnqs::require(v.ndim() == 2 && idx.ndim() == 1 && spec.ndim() == 1,
                      "xor_diag_congruence: v (n, c), idx (n,), spec (D,)");
        const nnqs::index_t n = v.shape(0), c = v.shape(1), d = spec.shape(0);
        nnqs::require(idx.shape(0) == n, "xor_diag_congruence: idx must have one entry per row of v");
        nnqs::require(v.strides(0) % 8 == 0 && v.strides(1) % 8 == 0 && v.strides(0) >= 0 && v.strides(1) >= 0,
                      "xor_diag_congruence: v must have non-negative whole-element strides");
        const nnqs::index_t rs = v.strides(0) / 8, cs = v.strides(1) / 8;
        py::array_t<double> out(c);
        const double* vp = v.data();
        const nnqs::index_t* ip = idx.data();
        const double* sp = spec.data();
        double* op = out.mutable_data();
        {
          py::gil_scoped_release release;
          nnqs::xor_diag_congruence(vp, n, c, rs, cs, ip, d, sp, op, threads);
        }
        return out;
      },
      py::arg("v").noconvert(), py::arg("idx").noconvert(), py::arg("spec"), py::arg("threads") = 0,
      "diag(V^T A_BB V) for the XOR kernel A = H diag(spec) H (H the normalised Walsh-Hadamard matrix) restricted "
      "to the basis positions idx (int64, distinct); v float64 in any memory order (read in place): out[k] = sum_s "
      "spec[s] (H v~_k)(s)^2 (nnqs/walsh.hpp).");
}
