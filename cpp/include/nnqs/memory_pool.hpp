// nnqs/memory_pool.hpp — a caching allocator for large host output buffers (like CuPy's / PyTorch's memory pools).
//
// Why: a function that returns a fresh n x n matrix pays the operating system for every new page on first touch
// (a page fault and the kernel zeroing the page: for the 4096^2 float64 ReLU Gram, 2 x 128 MiB zeroed before one
// value is written). Blocks handed back to the pool keep their pages mapped and are served again to the next
// request of a similar size, so repeated calls write straight into faulted memory.
//
// Semantics: allocate() returns UNINITIALISED memory (np.empty semantics; the callers write every entry), aligned
// to 64 bytes (2 MiB for blocks of at least 2 MiB, so transparent huge pages can back them). release() hands a
// block back: it is cached while the cached free bytes stay within the limit (least recently released blocks are
// evicted first), otherwise returned to the system. Limit 0 disables caching. Thread-safe (one mutex).
#pragma once
#include <cstddef>
#include <cstdint>
#include <map>
#include <mutex>
#include <unordered_map>

namespace nnqs {

class MemoryPool {
 public:
  // Requests below this size are allocated and freed directly (never cached: page faults are negligible there).
  static constexpr std::size_t kMinCachedBytes = std::size_t(1) << 20;
  // Block size granularity for requests of at least kMinCachedBytes (one huge page).
  static constexpr std::size_t kGranule = std::size_t(2) << 20;

  explicit MemoryPool(std::size_t cache_limit);
  ~MemoryPool();
  MemoryPool(const MemoryPool&) = delete;
  MemoryPool& operator=(const MemoryPool&) = delete;

  // The process-wide pool (cache limit: default_cache_limit() until set_cache_limit is called).
  static MemoryPool& global();
  // min(2 GiB, 10% of physical memory).
  static std::size_t default_cache_limit();

  // At least nbytes (>= 1) of uninitialised memory; throws std::bad_alloc when the system has none. *reused (if
  // given) tells whether the block came from the cache (its pages are mapped) or fresh from the system.
  void* allocate(std::size_t nbytes, bool* reused = nullptr);
  // Hands back a pointer returned by allocate() (nullptr: no-op).
  void release(void* p) noexcept;
  // Returns every cached free block to the system.
  void free_all_blocks() noexcept;
  void set_cache_limit(std::size_t nbytes) noexcept;  // evicts down to the new limit at once

  std::size_t cache_limit() const;
  std::size_t used_bytes() const;    // bytes of blocks handed out and not yet released
  std::size_t cached_bytes() const;  // bytes of free blocks kept for reuse
  std::size_t n_cached_blocks() const;
  std::uint64_t hits() const;    // allocations served from the cache
  std::uint64_t misses() const;  // allocations of at least kMinCachedBytes that went to the system

 private:
  struct Free {
    void* p;
    std::uint64_t stamp;  // release order (LRU eviction)
  };
  void evict_to(std::size_t target) noexcept;  // with mu_ held: free oldest blocks until cached_ <= target
  static std::size_t block_size(std::size_t nbytes);

  mutable std::mutex mu_;
  std::size_t limit_;
  std::size_t used_ = 0, cached_ = 0;
  std::uint64_t clock_ = 0, hits_ = 0, misses_ = 0;
  std::unordered_map<void*, std::size_t> live_;  // handed-out block -> its size
  std::multimap<std::size_t, Free> free_;        // block size -> cached free block
};

}  // namespace nnqs
