// Numerical Gaussian expectations for the unit tests' independent oracles (composite Simpson rules).
#pragma once
#include <cmath>
#include <functional>

namespace nnqs_test {

constexpr double kPi = 3.14159265358979323846;

// Composite Simpson rule of f on [a, b] with n (even) intervals.
inline double simpson(const std::function<double(double)>& f, double a, double b, int n = 4000) {
  const double h = (b - a) / n;
  double s = f(a) + f(b);
  for (int i = 1; i < n; ++i) s += (i % 2 ? 4.0 : 2.0) * f(a + i * h);
  return s * h / 3.0;
}

inline double phi(double z) { return std::exp(-0.5 * z * z) / std::sqrt(2.0 * kPi); }
inline double Phi(double z) { return 0.5 * std::erfc(-z / std::sqrt(2.0)); }

// E[f(Z)], Z ~ N(0, 1), integrated on [-12, 12] split at 0 (the kinks of relu/step sit there).
inline double gauss_expect(const std::function<double(double)>& f) {
  auto g = [&](double z) { return f(z) * phi(z); };
  return simpson(g, -12.0, 0.0) + simpson(g, 0.0, 12.0);
}

// For (u, v) centred Gaussian with Var u = kxx, Var v = kyy, Cov = kxy: E[relu(u) relu(v)] and
// E[step(u) step(v)] = P(u > 0, v > 0). Write u = sx z1, v = sy (rho z1 + s z2); the inner expectation over z2
// is closed form: E[relu(m + s Z)] = m Phi(m/s) + s phi(m/s), P(m + s Z > 0) = Phi(m/s).
inline void relu_gauss_moments(double kxx, double kyy, double kxy, double* e_relu, double* e_step) {
  const double sx = std::sqrt(kxx), sy = std::sqrt(kyy);
  const double rho = kxy / (sx * sy), s = std::sqrt(std::fmax(0.0, 1.0 - rho * rho));
  auto inner_relu = [&](double z1) {
    const double m = rho * z1;
    if (s == 0.0) return m > 0.0 ? m : 0.0;
    return m * Phi(m / s) + s * phi(m / s);
  };
  auto inner_step = [&](double z1) {
    const double m = rho * z1;
    if (s == 0.0) return m > 0.0 ? 1.0 : 0.0;
    return Phi(m / s);
  };
  *e_relu = sx * sy * simpson([&](double z1) { return z1 * inner_relu(z1) * phi(z1); }, 0.0, 12.0);
  *e_step = simpson([&](double z1) { return inner_step(z1) * phi(z1); }, 0.0, 12.0);
}

}  // namespace nnqs_test
