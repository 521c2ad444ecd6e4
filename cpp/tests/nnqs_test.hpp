// A tiny test harness for the C++ unit tests (no dependencies): CHECK macros count failures and report them;
// main() returns non-zero when any check failed, so ctest marks the executable as failed. (Not assert(): the
// tests must also run in Release builds, where NDEBUG disables it.)
#pragma once
#include <cmath>
#include <cstdio>
#include <functional>
#include <string>
#include <vector>

namespace nnqs_test {

inline int& failures() {
  static int n = 0;
  return n;
}

inline int& checks() {
  static int n = 0;
  return n;
}

struct Case {
  const char* name;
  std::function<void()> fn;
};

inline std::vector<Case>& registry() {
  static std::vector<Case> r;
  return r;
}

struct Register {
  Register(const char* name, std::function<void()> fn) { registry().push_back({name, std::move(fn)}); }
};

inline void report(bool ok, const char* file, int line, const std::string& what) {
  ++checks();
  if (!ok) {
    ++failures();
    std::fprintf(stderr, "%s:%d: FAILED: %s\n", file, line, what.c_str());
  }
}

// |a - b| <= atol + rtol |b|, and both finite (a NaN never passes).
inline bool close(double a, double b, double rtol, double atol) {
  return std::isfinite(a) && std::isfinite(b) && std::fabs(a - b) <= atol + rtol * std::fabs(b);
}

inline std::string fmt_close(double a, double b, double rtol, double atol) {
  char buf[256];
  std::snprintf(buf, sizeof buf, "%.17g vs %.17g (diff %.3g, rtol %.1g, atol %.1g)", a, b, std::fabs(a - b), rtol,
                atol);
  return buf;
}

inline int run_all() {
  for (const Case& c : registry()) {
    const int before = failures();
    try {
      c.fn();
    } catch (const std::exception& e) {
      report(false, c.name, 0, std::string("unexpected exception: ") + e.what());
    }
    std::printf("%-60s %s\n", c.name, failures() == before ? "ok" : "FAILED");
  }
  std::printf("%d checks, %d failed\n", checks(), failures());
  return failures() == 0 ? 0 : 1;
}

}  // namespace nnqs_test

#define NNQS_CONCAT_(a, b) a##b
#define NNQS_CONCAT(a, b) NNQS_CONCAT_(a, b)
#define TEST_CASE(name)                                                                               \
  static void NNQS_CONCAT(test_fn_, __LINE__)();                                                      \
  static nnqs_test::Register NNQS_CONCAT(test_reg_, __LINE__)(name, NNQS_CONCAT(test_fn_, __LINE__)); \
  static void NNQS_CONCAT(test_fn_, __LINE__)()
#define CHECK(cond) nnqs_test::report(static_cast<bool>(cond), __FILE__, __LINE__, #cond)
#define CHECK_CLOSE(a, b, rtol, atol)                                                                  \
  do {                                                                                                 \
    const double va_ = (a), vb_ = (b);                                                                 \
    nnqs_test::report(nnqs_test::close(va_, vb_, (rtol), (atol)), __FILE__, __LINE__,                  \
                      std::string(#a " ~ " #b ": ") + nnqs_test::fmt_close(va_, vb_, (rtol), (atol))); \
  } while (0)
#define CHECK_THROWS(expr, type)                                            \
  do {                                                                      \
    bool thrown_ = false;                                                   \
    try {                                                                   \
      (void)(expr);                                                         \
    } catch (const type&) {                                                 \
      thrown_ = true;                                                       \
    }                                                                       \
    nnqs_test::report(thrown_, __FILE__, __LINE__, #expr " throws " #type); \
  } while (0)
#define NNQS_TEST_MAIN \
  int main() { return nnqs_test::run_all(); }
