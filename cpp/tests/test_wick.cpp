// Unit tests of the Wick contraction primitives (nnqs/wick.hpp) against a brute-force four-index sum on a tiny
// spin system, plus the fixed-order (thread-count independent) reductions and the size guards.
#include <cmath>
#include <cstdint>
#include <limits>
#include <random>
#include <vector>

#include "nnqs/common.hpp"
#include "nnqs/wick.hpp"
#include "nnqs_test.hpp"

using nnqs::index_t;
using nnqs::KernelFamily;
using nnqs::KernelSpec;

namespace {

// All 2^L configurations of L spins +-1, row r = bits of r (first site = most significant bit).
std::vector<std::vector<double>> spin_basis(int L) {
  std::vector<std::vector<double>> X;
  for (int r = 0; r < (1 << L); ++r) {
    std::vector<double> x(L);
    for (int i = 0; i < L; ++i) x[i] = ((r >> (L - 1 - i)) & 1) ? 1.0 : -1.0;
    X.push_back(x);
  }
  return X;
}

double dotv(const std::vector<double>& a, const std::vector<double>& b) {
  double s = 0;
  for (size_t i = 0; i < a.size(); ++i) s += a[i] * b[i];
  return s;
}

// Struct-of-arrays storage behind a PairTable.
struct Table {
  std::vector<double> dot, n1, n2, w;
  nnqs::PairTable view() const {
    return {dot.data(), n1.data(), n2.data(), w.data(), static_cast<index_t>(dot.size())};
  }
  void add(double d, double a, double b, double weight) {
    dot.push_back(d);
    n1.push_back(a);
    n2.push_back(b);
    w.push_back(weight);
  }
};

Table pair_table(const std::vector<std::vector<double>>& X) {
  Table t;
  for (const auto& a : X)
    for (const auto& b : X) t.add(dotv(a, b), dotv(a, a), dotv(b, b), 1.0);
  return t;
}

Table diag_table(const std::vector<std::vector<double>>& X) {
  Table t;
  for (const auto& a : X) t.add(dotv(a, a), dotv(a, a), dotv(a, a), 1.0);
  return t;
}

// Brute force on the full basis x = (a, b): C = K1 + K2, P = K1 - K2 as D x D matrices, kernels evaluated from
// the concatenated vectors; the four-index sums written out literally.
struct Brute {
  double tr_c = 0, tr_ra2 = 0, tr_rb2 = 0, frob_c2 = 0, frob_p2 = 0, pp = 0;
};

Brute brute(const KernelSpec& k1, const KernelSpec& k2, int LA, int LB) {
  const auto XA = spin_basis(LA), XB = spin_basis(LB);
  const int DA = static_cast<int>(XA.size()), DB = static_cast<int>(XB.size()), D = DA * DB;
  std::vector<std::vector<double>> X;
  for (int a = 0; a < DA; ++a)
    for (int b = 0; b < DB; ++b) {
      std::vector<double> x = XA[a];
      x.insert(x.end(), XB[b].begin(), XB[b].end());
      X.push_back(x);
    }
  std::vector<double> C(D * D), P(D * D);
  for (int i = 0; i < D; ++i)
    for (int j = 0; j < D; ++j) {
      const double d = dotv(X[i], X[j]), n1 = dotv(X[i], X[i]), n2 = dotv(X[j], X[j]);
      const double u = nnqs::kernel_eval(k1, d, n1, n2), v = nnqs::kernel_eval(k2, d, n1, n2);
      C[i * D + j] = u + v;
      P[i * D + j] = u - v;
    }
  auto at = [&](const std::vector<double>& M, int a, int b, int a2, int b2) {
    return M[(a * DB + b) * D + a2 * DB + b2];
  };
  Brute r;
  for (int i = 0; i < D; ++i) r.tr_c += C[i * D + i];
  for (int p = 0; p < D * D; ++p) {
    r.frob_c2 += C[p] * C[p];
    r.frob_p2 += P[p] * P[p];
  }
  for (int a = 0; a < DA; ++a)
    for (int a2 = 0; a2 < DA; ++a2) {
      double s = 0;
      for (int b = 0; b < DB; ++b) s += at(C, a, b, a2, b);
      r.tr_ra2 += s * s;  // R_A symmetric: Tr R_A^2 = sum R_A(a,a')^2
    }
  for (int b = 0; b < DB; ++b)
    for (int b2 = 0; b2 < DB; ++b2) {
      double s = 0;
      for (int a = 0; a < DA; ++a) s += at(C, a, b, a, b2);
      r.tr_rb2 += s * s;
    }
  for (int a = 0; a < DA; ++a)
    for (int a2 = 0; a2 < DA; ++a2)
      for (int b = 0; b < DB; ++b)
        for (int b2 = 0; b2 < DB; ++b2) r.pp += at(P, a, b, a2, b2) * at(P, a2, b, a, b2);
  return r;
}

KernelSpec relu_spec(double W, double b, int depth, double d) {
  const double p[4] = {W, b, static_cast<double>(depth), d};
  return nnqs::kernel_spec_from_params(static_cast<int>(KernelFamily::relu), p);
}

KernelSpec rbf_spec(double amp, double gamma) {
  const double p[4] = {amp, gamma, 0, 0};
  return nnqs::kernel_spec_from_params(static_cast<int>(KernelFamily::rbf), p);
}

}  // namespace

TEST_CASE("pair_sums / partial_trace_sums equal the brute-force four-index sums (2+3 spins)") {
  const int LA = 2, LB = 3;
  const auto XA = spin_basis(LA), XB = spin_basis(LB);
  const Table pa = pair_table(XA), pb = pair_table(XB), da = diag_table(XA), db = diag_table(XB);
  const KernelSpec kr = relu_spec(1.2, 0.3, 2, LA + LB), kg = rbf_spec(0.6, 0.35);
  struct Combo {
    KernelSpec k1, k2;
    bool same;
  };
  const Combo combos[] = {{kr, kr, true}, {kr, kg, false}, {kg, kr, false}};
  for (const Combo& c : combos) {
    const Brute r = brute(c.k1, c.k2, LA, LB);
    const auto tc = nnqs::partial_trace_sums(c.k1, c.k2, c.same, da.view(), db.view());
    const auto ta = nnqs::partial_trace_sums(c.k1, c.k2, c.same, pa.view(), db.view());
    const auto tb = nnqs::partial_trace_sums(c.k1, c.k2, c.same, pb.view(), da.view());
    const auto ps = nnqs::pair_sums(c.k1, c.k2, c.same, pa.view(), pb.view(), 3);  // tile 3: several j tiles
    CHECK_CLOSE(tc.lin, r.tr_c, 1e-13, 0.0);
    CHECK_CLOSE(ta.sq, r.tr_ra2, 1e-13, 0.0);
    CHECK_CLOSE(tb.sq, r.tr_rb2, 1e-13, 0.0);
    CHECK_CLOSE(ps.frob_c2, r.frob_c2, 1e-13, 0.0);
    if (!c.same) {
      CHECK_CLOSE(ps.frob_p2, r.frob_p2, 1e-13, 0.0);
      CHECK_CLOSE(ps.pp_swap, r.pp, 1e-12, 1e-12 * r.frob_p2);
    }
  }
}

TEST_CASE("Wick sums are bit-identical for 1 and 2 threads and run to run") {
  // uncompressed tables of 6 + 5 spins: 4096 x 1024 pairs, above the parallel threshold
  const auto XA = spin_basis(6), XB = spin_basis(5);
  Table pa = pair_table(XA), pb = pair_table(XB), db = diag_table(XB);
  // perturb the weights so that the summation order matters
  std::mt19937_64 gen(7);
  std::uniform_real_distribution<double> u(0.5, 1.5);
  for (auto& w : pa.w) w = u(gen);
  const KernelSpec kr = relu_spec(0.9, 0.2, 1, 11), kg = rbf_spec(0.5, 0.1);
  nnqs::set_num_threads(1);
  const auto s1 = nnqs::pair_sums(kr, kg, false, pa.view(), pb.view(), 256);
  const auto t1 = nnqs::partial_trace_sums(kr, kg, false, pa.view(), db.view());
  nnqs::set_num_threads(2);
  for (int rep = 0; rep < 3; ++rep) {
    const auto s2 = nnqs::pair_sums(kr, kg, false, pa.view(), pb.view(), 256);
    const auto t2 = nnqs::partial_trace_sums(kr, kg, false, pa.view(), db.view());
    CHECK(s1.frob_c2 == s2.frob_c2 && s1.frob_p2 == s2.frob_p2 && s1.pp_swap == s2.pp_swap);
    CHECK(t1.lin == t2.lin && t1.sq == t2.sq);
  }
  nnqs::set_num_threads(0);
}

TEST_CASE("impossible sizes and invalid specs are refused") {
  const double one = 1.0;
  const index_t huge = std::numeric_limits<index_t>::max() / 2;
  const nnqs::PairTable big{&one, &one, &one, &one, huge};
  const nnqs::PairTable four{&one, &one, &one, &one, 4};
  const KernelSpec kg = rbf_spec(1.0, 1.0);
  CHECK_THROWS(nnqs::pair_sums(kg, kg, true, big, four), nnqs::size_error);
  CHECK_THROWS(nnqs::partial_trace_sums(kg, kg, true, big, four), nnqs::size_error);
  const nnqs::PairTable neg{&one, &one, &one, &one, -1};
  CHECK_THROWS(nnqs::pair_sums(kg, kg, true, neg, four), nnqs::invalid_argument);
  const double p[4] = {1.0, 0.1, 1.0, 0.0};
  CHECK_THROWS(nnqs::kernel_spec_from_params(7, p), nnqs::invalid_argument);
  CHECK_THROWS(nnqs::kernel_spec_from_params(static_cast<int>(KernelFamily::relu), p), nnqs::invalid_argument);
}

NNQS_TEST_MAIN
