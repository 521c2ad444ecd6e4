// Unit tests of the fast Walsh–Hadamard transform (nnqs/walsh.hpp) against the Hadamard matrix written out entry by
// entry, (−1)^{popcount(s & x)} / √D, plus thread-count independence and the argument checks.
#include <bitset>
#include <cmath>
#include <random>
#include <vector>

#include "nnqs/common.hpp"
#include "nnqs/walsh.hpp"
#include "nnqs_test.hpp"

using nnqs::index_t;

namespace {

double hadamard(index_t s, index_t x, index_t d) {
  const int parity = static_cast<int>(std::bitset<64>(static_cast<unsigned long long>(s & x)).count() & 1);
  return (parity ? -1.0 : 1.0) / std::sqrt(static_cast<double>(d));
}

std::vector<double> randn(index_t n, unsigned seed) {
  std::mt19937_64 g(seed);
  std::normal_distribution<double> nd;
  std::vector<double> v(static_cast<size_t>(n));
  for (double& a : v) a = nd(g);
  return v;
}

}  // namespace

TEST_CASE("fwht_rows equals the explicit Hadamard matrix (D = 1 .. 2^13, odd row counts)") {
  for (index_t L : {0, 1, 2, 3, 4, 7, 11, 12, 13}) {
    const index_t d = index_t{1} << L, r = 11;
    std::vector<double> x = randn(r * d, static_cast<unsigned>(L)), y = x;
    nnqs::fwht_rows(y.data(), r, d, 1);
    const index_t step = d > 256 ? d / 37 + 1 : 1;  // spot-check large transforms
    for (index_t row = 0; row < r; ++row)
      for (index_t s = 0; s < d; s += step) {
        double want = 0.0;
        for (index_t t = 0; t < d; ++t) want += hadamard(s, t, d) * x[row * d + t];
        CHECK_CLOSE(y[row * d + s], want, 1e-12, 1e-12);
      }
  }
}

TEST_CASE("fwht_rows is an involution and bit-identical for 1, 2, 3 threads") {
  const index_t d = 1 << 12, r = 37;
  std::vector<double> x = randn(r * d, 5), out[3];
  for (int th = 1; th <= 3; ++th) {
    out[th - 1] = x;
    nnqs::fwht_rows(out[th - 1].data(), r, d, th);
  }
  CHECK(out[0] == out[1]);
  CHECK(out[0] == out[2]);
  nnqs::fwht_rows(out[0].data(), r, d, 2);
  for (index_t i = 0; i < r * d; ++i) CHECK_CLOSE(out[0][i], x[i], 1e-12, 1e-12);
}

TEST_CASE("xor_diag_congruence equals diag(V^T A_BB V) with A written out") {
  const index_t L = 8, d = index_t{1} << L, n = 40, c = 19;  // c: not a multiple of the 8 lanes
  std::vector<double> v = randn(n * c, 7), spec = randn(d, 8);
  std::vector<index_t> idx(static_cast<size_t>(n));
  for (index_t i = 0; i < n; ++i) idx[i] = (i * 37 + 11) % d;  // distinct (37 is odd, n <= d)
  std::vector<double> a(static_cast<size_t>(d * d), 0.0);      // A = Ĥ diag(spec) Ĥ
  for (index_t i = 0; i < d; ++i)
    for (index_t j = 0; j < d; ++j)
      for (index_t s = 0; s < d; ++s) a[i * d + j] += hadamard(i, s, d) * spec[s] * hadamard(s, j, d);
  std::vector<double> got(static_cast<size_t>(c)), got3(static_cast<size_t>(c));
  nnqs::xor_diag_congruence(v.data(), n, c, c, 1, idx.data(), d, spec.data(), got.data(), 1);
  nnqs::xor_diag_congruence(v.data(), n, c, c, 1, idx.data(), d, spec.data(), got3.data(), 3);
  std::vector<double> vt(static_cast<size_t>(n * c)), gotf(static_cast<size_t>(c));  // column-major copy of v
  for (index_t i = 0; i < n; ++i)
    for (index_t k = 0; k < c; ++k) vt[k * n + i] = v[i * c + k];
  nnqs::xor_diag_congruence(vt.data(), n, c, 1, n, idx.data(), d, spec.data(), gotf.data(), 2);
  CHECK(got == gotf);
  CHECK(got == got3);
  for (index_t k = 0; k < c; ++k) {
    double want = 0.0;
    for (index_t i = 0; i < n; ++i)
      for (index_t j = 0; j < n; ++j) want += v[i * c + k] * a[idx[i] * d + idx[j]] * v[j * c + k];
    CHECK_CLOSE(got[k], want, 1e-11, 1e-11);
  }
}

TEST_CASE("non-powers of two and out-of-range indices are refused") {
  std::vector<double> x(24), spec(6), out(2), v(4);
  std::vector<index_t> idx = {0, 8};
  CHECK_THROWS(nnqs::fwht_rows(x.data(), 4, 6, 1), nnqs::invalid_argument);
  CHECK_THROWS(nnqs::xor_diag_congruence(v.data(), 2, 2, 2, 1, idx.data(), 6, spec.data(), out.data(), 1),
               nnqs::invalid_argument);
  std::vector<double> spec8(8);
  CHECK_THROWS(nnqs::xor_diag_congruence(v.data(), 2, 2, 2, 1, idx.data(), 8, spec8.data(), out.data(), 1),
               nnqs::invalid_argument);
}

NNQS_TEST_MAIN
