// Unit tests of the fused Walsh-domain energy-flow step (nnqs/flow.hpp) against the formula written out with a
// dense matrix, plus thread-count independence and the argument checks.
#include <cmath>
#include <random>
#include <vector>

#include "nnqs/common.hpp"
#include "nnqs/flow.hpp"
#include "nnqs_test.hpp"

using nnqs::index_t;

namespace {

constexpr index_t W = nnqs::kFlowLanes;

struct Problem {
  index_t n, k, m;
  std::vector<double> dense;  // n x n symmetric
  std::vector<index_t> indptr, indices;
  std::vector<double> data, lam, u;  // lam (n, 2); u panels (m / W, n, W)
  nnqs::CsrView csr() const { return {n, indptr.data(), indices.data(), data.data()}; }
  double& at(std::vector<double>& v, index_t row, index_t col) const {
    return v[(col / W) * n * W + row * W + col % W];
  }
};

Problem make(index_t n, index_t k, unsigned seed) {
  Problem p{n, k, ((2 * k + W - 1) / W) * W, {}, {}, {}, {}, {}, {}};
  std::mt19937_64 g(seed);
  std::normal_distribution<double> z;
  std::uniform_real_distribution<double> uni(0.0, 1.0);
  p.dense.assign(static_cast<size_t>(n * n), 0.0);
  for (index_t i = 0; i < n; ++i)
    for (index_t j = i; j < n; ++j)
      if (i == j || uni(g) < 0.15) p.dense[i * n + j] = p.dense[j * n + i] = z(g);
  p.indptr.push_back(0);
  for (index_t i = 0; i < n; ++i) {
    for (index_t j = 0; j < n; ++j)
      if (p.dense[i * n + j] != 0.0) {
        p.indices.push_back(j);
        p.data.push_back(p.dense[i * n + j]);
      }
    p.indptr.push_back(static_cast<index_t>(p.indices.size()));
  }
  for (index_t i = 0; i < 2 * n; ++i) p.lam.push_back(uni(g));
  p.u.assign(static_cast<size_t>(p.m * n), 0.0);
  for (index_t c = 0; c < 2 * k; ++c)
    for (index_t i = 0; i < n; ++i) p.at(p.u, i, c) = z(g);
  return p;
}

}  // namespace

TEST_CASE("one step equals the dense formula (update and velocity modes)") {
  Problem p = make(64, 3, 7);
  const double eta = 0.03;
  std::vector<double> ref = p.u, e_ref(3), n_ref(3);
  for (index_t j = 0; j < p.k; ++j) {
    double nn = 0, ss = 0;
    std::vector<double> hu(static_cast<size_t>(2 * p.n));
    for (index_t part = 0; part < 2; ++part)
      for (index_t i = 0; i < p.n; ++i) {
        double h = 0;
        for (index_t l = 0; l < p.n; ++l) h += p.dense[i * p.n + l] * p.at(p.u, l, part * p.k + j);
        hu[part * p.n + i] = h;
        const double ui = p.at(p.u, i, part * p.k + j);
        nn += ui * ui;
        ss += ui * h;
      }
    e_ref[j] = ss / nn;
    n_ref[j] = nn;
    for (index_t part = 0; part < 2; ++part)
      for (index_t i = 0; i < p.n; ++i) {
        const double ui = p.at(p.u, i, part * p.k + j);
        p.at(ref, i, part * p.k + j) -= eta * p.lam[2 * i + part] * 2.0 * (hu[part * p.n + i] - e_ref[j] * ui) / nn;
      }
  }
  std::vector<double> u = p.u, hu(u.size()), e(3), n2(3);
  nnqs::walsh_energy_step(p.csr(), p.k, p.m, u.data(), hu.data(), p.lam.data(), eta, true, e.data(), n2.data(), 1);
  for (index_t j = 0; j < p.k; ++j) {
    CHECK_CLOSE(e[j], e_ref[j], 1e-13, 1e-14);
    CHECK_CLOSE(n2[j], n_ref[j], 1e-13, 0.0);
  }
  for (size_t t = 0; t < u.size(); ++t) CHECK_CLOSE(u[t], ref[t], 1e-12, 1e-14);
  std::vector<double> v = p.u;
  nnqs::walsh_energy_step(p.csr(), p.k, p.m, v.data(), hu.data(), p.lam.data(), eta, false, e.data(), n2.data(), 1);
  for (size_t t = 0; t < u.size(); ++t) CHECK_CLOSE(p.u[t] - hu[t], ref[t], 1e-12, 1e-14);
  for (size_t t = 0; t < v.size(); ++t) CHECK(v[t] == p.u[t]);  // velocity mode leaves u alone
}

TEST_CASE("the step is bit-identical for 1, 2 and 3 threads") {
  Problem p = make(300, 5, 11);
  std::vector<double> out[3];
  for (int th = 1; th <= 3; ++th) {
    std::vector<double> u = p.u, hu(u.size()), e(5), n2(5);
    for (int s = 0; s < 3; ++s)
      nnqs::walsh_energy_step(p.csr(), p.k, p.m, u.data(), hu.data(), p.lam.data(), 0.01, true, e.data(), n2.data(),
                              th);
    out[th - 1] = u;
  }
  CHECK(out[0] == out[1]);
  CHECK(out[0] == out[2]);
}

TEST_CASE("invalid column counts are refused") {
  Problem p = make(16, 3, 3);
  std::vector<double> hu(p.u.size()), e(8), n2(8);
  CHECK_THROWS(
      nnqs::walsh_energy_step(p.csr(), 3, 4, p.u.data(), hu.data(), p.lam.data(), 0.1, true, e.data(), n2.data(), 1),
      nnqs::invalid_argument);
  CHECK_THROWS(
      nnqs::walsh_energy_step(p.csr(), 5, 8, p.u.data(), hu.data(), p.lam.data(), 0.1, true, e.data(), n2.data(), 1),
      nnqs::invalid_argument);
}

NNQS_TEST_MAIN
