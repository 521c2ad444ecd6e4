// nnqs/common.hpp — shared types and helpers of the nnqs C++ core (no Python dependency).
#pragma once
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>

namespace nnqs {

using index_t = std::int64_t;

// Thrown by the core for invalid arguments. The Python bindings raise it as nnqs_fast._core.CoreInvalidArgument,
// a subclass of nnqs_fast.errors.InvalidInputError (the Python layer validates first, so users rarely see it).
struct invalid_argument : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};

// Thrown when a size or index would exceed the 64-bit index range (a request that cannot fit in any memory).
// Raised in Python as nnqs_fast._core.CoreSizeError, a subclass of nnqs_fast.errors.MemoryLimitError.
struct size_error : std::length_error {
  using std::length_error::length_error;
};

inline void require(bool ok, const std::string& what) {
  if (!ok) throw invalid_argument(what);
}

// Number of OpenMP threads the core will use (1 without OpenMP).
int max_threads();
// Set the OpenMP thread count used by the core (<= 0 restores the default).
void set_num_threads(int n);
// True when the core was compiled with OpenMP.
bool has_openmp();

// Split [0, n) into blocks of at most `chunk` (no divisibility requirement): block b covers
// [b*chunk, min(n, (b+1)*chunk)).
inline index_t n_blocks(index_t n, index_t chunk) { return chunk <= 0 ? 1 : (n + chunk - 1) / chunk; }

}  // namespace nnqs
