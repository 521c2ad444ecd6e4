// Bindings of the flow area (thin: check, call into nnqs::).
#include <string>

#include "bindings.hpp"
#include "nnqs/flow.hpp"

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
}
