// Bindings of the caching host allocator (nnqs/memory_pool.hpp): NumPy arrays whose buffer comes from the pool and
// goes back to it when the array (and every view of it) is gone. Python API: nnqs_fast.memory_pool().
#include <cstddef>
#include <cstdint>
#include <functional>
#include <numeric>
#include <vector>

#include "bindings.hpp"
#include "nnqs/common.hpp"
#include "nnqs/memory_pool.hpp"

#include <pybind11/stl.h>

// tracemalloc.h of Python 3.11 declares PyTraceMalloc_Track/Untrack without the extern "C" guards of the other
// C-API headers, so a C++ call would look for a mangled name. Declare the C symbols under other C++ names.
#if defined(__GNUC__) || defined(__clang__)
#if defined(__APPLE__)
#define NNQS_C_SYMBOL(name) __asm__("_" #name)
#else
#define NNQS_C_SYMBOL(name) __asm__(#name)
#endif
extern "C" int nnqs_tracemalloc_track(unsigned int, std::uintptr_t, std::size_t) NNQS_C_SYMBOL(PyTraceMalloc_Track);
extern "C" int nnqs_tracemalloc_untrack(unsigned int, std::uintptr_t) NNQS_C_SYMBOL(PyTraceMalloc_Untrack);
#else
static int nnqs_tracemalloc_track(unsigned int d, std::uintptr_t p, std::size_t n) {
  return PyTraceMalloc_Track(d, p, n);
}
static int nnqs_tracemalloc_untrack(unsigned int d, std::uintptr_t p) { return PyTraceMalloc_Untrack(d, p); }
#endif

namespace {

// tracemalloc domain of pool-backed arrays (like NumPy's 389047 for its own data buffers): tracemalloc's traced
// and peak memory include them, so memory tests and users' profiling see pool arrays as they see np.empty ones.
// Only the array's bytes are counted while it lives; cached free blocks are not (they are reusable memory).
constexpr unsigned int kTraceDomain = 0x6e6e7173u;  // "nnqs"

py::array pool_array(const std::vector<py::ssize_t>& shape, const py::dtype& dt, bool* reused = nullptr) {
  std::size_t n = 1;
  for (py::ssize_t s : shape) {
    nnqs::require(s >= 0, "pool_empty: negative dimension");
    if (s != 0 && n > SIZE_MAX / static_cast<std::size_t>(s)) throw nnqs::size_error("pool_empty: too large");
    n *= static_cast<std::size_t>(s);
  }
  const std::size_t item = static_cast<std::size_t>(dt.itemsize());
  if (item != 0 && n > SIZE_MAX / item) throw nnqs::size_error("pool_empty: too large");
  void* p = nnqs::MemoryPool::global().allocate(n * item, reused);
  py::capsule owner(p, [](void* q) {
    nnqs_tracemalloc_untrack(kTraceDomain, reinterpret_cast<std::uintptr_t>(q));  // no-op when not tracing
    nnqs::MemoryPool::global().release(q);
  });
  nnqs_tracemalloc_track(kTraceDomain, reinterpret_cast<std::uintptr_t>(p), n * item);
  return py::array(dt, shape, p, owner);  // C-contiguous strides; the capsule hands the block back
}

}  // namespace

void register_memory(py::module_& m) {
  m.def(
      "pool_take",
      [](const std::vector<py::ssize_t>& shape, const py::dtype& dt) {
        bool reused = false;
        py::array a = pool_array(shape, dt, &reused);
        return py::make_tuple(a, reused);
      },
      py::arg("shape"), py::arg("dtype"),
      "pool_empty, and whether the block was reused from the cache (its pages already mapped).");
  m.def(
      "pool_empty", [](const std::vector<py::ssize_t>& shape, const py::dtype& dt) { return pool_array(shape, dt); },
      py::arg("shape"), py::arg("dtype"),
      "An uninitialised C-contiguous array from the caching pool (np.empty semantics, 64-byte aligned); its block "
      "returns to the pool when the array and all its views are gone.");
  m.def("pool_used_bytes", []() { return nnqs::MemoryPool::global().used_bytes(); });
  m.def("pool_cached_bytes", []() { return nnqs::MemoryPool::global().cached_bytes(); });
  m.def("pool_n_cached_blocks", []() { return nnqs::MemoryPool::global().n_cached_blocks(); });
  m.def("pool_hits", []() { return nnqs::MemoryPool::global().hits(); });
  m.def("pool_misses", []() { return nnqs::MemoryPool::global().misses(); });
  m.def("pool_cache_limit", []() { return nnqs::MemoryPool::global().cache_limit(); });
  m.def("pool_default_cache_limit", &nnqs::MemoryPool::default_cache_limit);
  m.def(
      "pool_set_cache_limit", [](std::size_t n) { nnqs::MemoryPool::global().set_cache_limit(n); }, py::arg("nbytes"));
  m.def("pool_free_all_blocks", []() { nnqs::MemoryPool::global().free_all_blocks(); });
  m.attr("pool_min_cached_bytes") = nnqs::MemoryPool::kMinCachedBytes;
  m.attr("pool_trace_domain") = kTraceDomain;  // nnqs_fast._memory.TRACE_DOMAIN reads it (its one home)
}
