// Unit tests of the fused gradient-descent step (nnqs/training.hpp): one update equals -lr times the gradient of
// the loss by central finite differences (of train_loss at perturbed parameters), the loss equals a direct
// forward pass, and results are bit-identical for 1 and 2 OpenMP threads.
#include <cmath>
#include <random>
#include <vector>

#include "nnqs/common.hpp"
#include "nnqs/training.hpp"
#include "nnqs_test.hpp"

using nnqs::index_t;

namespace {

struct Problem {
  index_t N = 6, d = 3, n = 9;
  double W_std = 0.9, b_std = 0.3, lr = 0.05;
  std::vector<double> W1, b1, a, x, y;
  double b2 = 0.4;
};

Problem make_problem(unsigned seed, index_t N = 6, index_t n = 9) {
  Problem p;
  p.N = N;
  p.n = n;
  std::mt19937_64 gen(seed);
  std::normal_distribution<double> nd;
  p.W1.resize(p.N * p.d);
  p.b1.resize(p.N);
  p.a.resize(p.N);
  p.x.resize(p.n * p.d);
  p.y.resize(p.n);
  for (auto* v : {&p.W1, &p.b1, &p.a, &p.x, &p.y})
    for (auto& e : *v) e = nd(gen);
  return p;
}

double loss_at(const Problem& p) {
  nnqs::GDStepReLU1 s(p.W1.data(), p.b1.data(), p.a.data(), p.b2, p.N, p.d, p.W_std, p.b_std, p.x.data(), p.y.data(),
                      p.n, p.lr, nullptr, nullptr, 0);
  return s.train_loss();
}

// Direct forward pass of f(x) = (W/sqrt(N)) sum_j a_j relu((W/sqrt(d)) W_j.x + b b1_j) + b b2, L = mean (f - y)^2.
double direct_loss(const Problem& p) {
  double L = 0;
  for (index_t i = 0; i < p.n; ++i) {
    double f = p.b_std * p.b2;
    for (index_t j = 0; j < p.N; ++j) {
      double z = p.b_std * p.b1[j];
      for (index_t k = 0; k < p.d; ++k) z += p.W_std / std::sqrt(double(p.d)) * p.W1[j * p.d + k] * p.x[i * p.d + k];
      f += p.W_std / std::sqrt(double(p.N)) * p.a[j] * (z > 0 ? z : 0.0);
    }
    L += (f - p.y[i]) * (f - p.y[i]);
  }
  return L / p.n;
}

}  // namespace

TEST_CASE("GDStepReLU1 loss equals a direct forward pass") {
  const Problem p = make_problem(11);
  CHECK_CLOSE(loss_at(p), direct_loss(p), 1e-13, 0.0);
}

TEST_CASE("one GD step equals -lr * finite-difference gradient") {
  const Problem p = make_problem(3);
  nnqs::GDStepReLU1 s(p.W1.data(), p.b1.data(), p.a.data(), p.b2, p.N, p.d, p.W_std, p.b_std, p.x.data(), p.y.data(),
                      p.n, p.lr, nullptr, nullptr, 0);
  const index_t rec = 1;
  double trl = 0, tel = 0;
  s.run(1, &rec, 1, &trl, &tel, nullptr, nullptr, 0.0);
  std::vector<double> W1(p.N * p.d), b1(p.N), a(p.N);
  double b2 = 0;
  s.get_params(W1.data(), b1.data(), a.data(), &b2);
  const double h = 1e-6;
  // every parameter: (theta_new - theta_old) / (-lr) vs (L(theta + h) - L(theta - h)) / 2h
  auto fd = [&](auto perturb) {
    Problem q = p;
    perturb(q, h);
    const double up = loss_at(q);
    q = p;
    perturb(q, -h);
    return (up - loss_at(q)) / (2 * h);
  };
  int checked = 0;
  for (index_t j = 0; j < p.N; ++j) {
    for (index_t k = 0; k < p.d; ++k) {
      const index_t t = j * p.d + k;
      const double g = fd([t](Problem& q, double e) { q.W1[t] += e; });
      CHECK_CLOSE((p.W1[t] - W1[t]) / p.lr, g, 1e-6, 1e-8);
      ++checked;
    }
    CHECK_CLOSE((p.b1[j] - b1[j]) / p.lr, fd([j](Problem& q, double e) { q.b1[j] += e; }), 1e-6, 1e-8);
    CHECK_CLOSE((p.a[j] - a[j]) / p.lr, fd([j](Problem& q, double e) { q.a[j] += e; }), 1e-6, 1e-8);
    checked += 2;
  }
  CHECK_CLOSE((p.b2 - b2) / p.lr, fd([](Problem& q, double e) { q.b2 += e; }), 1e-6, 1e-8);
  CHECK(checked == p.N * (p.d + 2));
}

TEST_CASE("GD trajectory is bit-identical for 1 and 2 OpenMP threads") {
  const Problem p = make_problem(5, 300, 200);  // enough hidden units for several blocks
  std::vector<double> out[2];
  for (int threads = 1; threads <= 2; ++threads) {
    nnqs::GDStepReLU1 s(p.W1.data(), p.b1.data(), p.a.data(), p.b2, p.N, p.d, p.W_std, p.b_std, p.x.data(), p.y.data(),
                        p.n, p.lr, nullptr, nullptr, 0);
    s.set_threads(threads);
    const index_t rec = 20;
    double trl = 0, tel = 0;
    s.run(20, &rec, 1, &trl, &tel, nullptr, nullptr, 0.0);
    std::vector<double> W1(p.N * p.d), b1(p.N), a(p.N);
    double b2 = 0;
    s.get_params(W1.data(), b1.data(), a.data(), &b2);
    out[threads - 1] = W1;
    out[threads - 1].insert(out[threads - 1].end(), a.begin(), a.end());
    out[threads - 1].push_back(b2);
    out[threads - 1].push_back(trl);
  }
  CHECK(out[0] == out[1]);
}

NNQS_TEST_MAIN

TEST_CASE("split step: forward_train + apply_gradient((2/n)(f - y)) equals the supervised step") {
  // The function-space losses drive the same backward sweep with their own residual g = dL/df.
  const Problem p = make_problem(5, 40, 13);
  nnqs::GDStepReLU1 a(p.W1.data(), p.b1.data(), p.a.data(), p.b2, p.N, p.d, p.W_std, p.b_std, p.x.data(), p.y.data(),
                      p.n, p.lr, nullptr, nullptr, 0);
  nnqs::GDStepReLU1 b(p.W1.data(), p.b1.data(), p.a.data(), p.b2, p.N, p.d, p.W_std, p.b_std, p.x.data(), p.y.data(),
                      p.n, p.lr, nullptr, nullptr, 0);
  const index_t rec = 0;
  double trl = 0, tel = 0;
  for (int step = 0; step < 3; ++step) {
    a.run(1, &rec, 0, &trl, &tel, nullptr, nullptr, 0.0);
    const double* f = b.forward_train();
    std::vector<double> g(p.n);
    for (index_t i = 0; i < p.n; ++i) g[i] = 2.0 / double(p.n) * (f[i] - p.y[i]);
    b.apply_gradient(g.data());
  }
  CHECK(a.step() == 3 && b.step() == 3);
  std::vector<double> Wa(p.N * p.d), ba(p.N), aa(p.N), Wb(p.N * p.d), bb(p.N), ab(p.N);
  double b2a = 0, b2b = 0;
  a.get_params(Wa.data(), ba.data(), aa.data(), &b2a);
  b.get_params(Wb.data(), bb.data(), ab.data(), &b2b);
  for (index_t t = 0; t < p.N * p.d; ++t) CHECK_CLOSE(Wb[t], Wa[t], 1e-13, 1e-15);
  for (index_t j = 0; j < p.N; ++j) {
    CHECK_CLOSE(bb[j], ba[j], 1e-13, 1e-15);
    CHECK_CLOSE(ab[j], aa[j], 1e-13, 1e-15);
  }
  CHECK_CLOSE(b2b, b2a, 1e-13, 1e-15);
}
