// Threading utilities of the nnqs core.
#include "nnqs/common.hpp"
#ifdef NNQS_HAVE_OPENMP
#include <omp.h>
#endif

namespace nnqs {

namespace {
int default_threads() {
#ifdef NNQS_HAVE_OPENMP
  static const int n = omp_get_max_threads();
  return n;
#else
  return 1;
#endif
}
}  // namespace

int max_threads() {
#ifdef NNQS_HAVE_OPENMP
  return omp_get_max_threads();
#else
  return 1;
#endif
}

void set_num_threads(int n) {
#ifdef NNQS_HAVE_OPENMP
  omp_set_num_threads(n > 0 ? n : default_threads());
#else
  (void)n;
#endif
}

bool has_openmp() {
#ifdef NNQS_HAVE_OPENMP
  return true;
#else
  return false;
#endif
}

}  // namespace nnqs
