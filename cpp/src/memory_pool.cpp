// The caching host allocator (see nnqs/memory_pool.hpp).
#include "nnqs/memory_pool.hpp"

#include <algorithm>
#include <cstdlib>
#include <new>

#if defined(__unix__) || defined(__APPLE__)
#include <unistd.h>
#endif

namespace nnqs {

MemoryPool::MemoryPool(std::size_t cache_limit) : limit_(cache_limit) {}

MemoryPool::~MemoryPool() { free_all_blocks(); }

MemoryPool& MemoryPool::global() {
  // Never destroyed: arrays that outlive static destruction (interpreter shutdown) can still hand their block back.
  static MemoryPool* pool = new MemoryPool(default_cache_limit());
  return *pool;
}

std::size_t MemoryPool::default_cache_limit() {
  std::size_t cap = std::size_t(2) << 30;
#if defined(_SC_PHYS_PAGES) && defined(_SC_PAGESIZE)
  const long pages = sysconf(_SC_PHYS_PAGES), page = sysconf(_SC_PAGESIZE);
  if (pages > 0 && page > 0) cap = std::min(cap, static_cast<std::size_t>(pages) / 10 * static_cast<std::size_t>(page));
#endif
  return cap;
}

std::size_t MemoryPool::block_size(std::size_t nbytes) {
  if (nbytes < kMinCachedBytes) return (std::max<std::size_t>(nbytes, 1) + 63) / 64 * 64;
  return (nbytes + kGranule - 1) / kGranule * kGranule;
}

void* MemoryPool::allocate(std::size_t nbytes, bool* reused) {
  if (reused) *reused = false;
  const std::size_t size = block_size(nbytes);
  if (size < nbytes) throw std::bad_alloc();  // overflow
  if (size >= kMinCachedBytes) {
    std::lock_guard<std::mutex> lock(mu_);
    // the smallest cached block that fits, if it wastes at most 1/8 of itself (plus one granule)
    auto it = free_.lower_bound(size);
    if (it != free_.end() && it->first - size <= it->first / 8 + kGranule) {
      void* p = it->second.p;
      const std::size_t got = it->first;
      free_.erase(it);
      cached_ -= got;
      used_ += got;
      live_.emplace(p, got);
      ++hits_;
      if (reused) *reused = true;
      return p;
    }
    ++misses_;
  }
  const std::size_t align = size >= kGranule ? kGranule : 64;
  void* p = std::aligned_alloc(align, size);
  if (p == nullptr) {  // memory may be held by the cache: give it back and try once more
    free_all_blocks();
    p = std::aligned_alloc(align, size);
    if (p == nullptr) throw std::bad_alloc();
  }
  std::lock_guard<std::mutex> lock(mu_);
  used_ += size;
  live_.emplace(p, size);
  return p;
}

void MemoryPool::release(void* p) noexcept {
  if (p == nullptr) return;
  std::lock_guard<std::mutex> lock(mu_);
  auto it = live_.find(p);
  if (it == live_.end()) return;  // not ours (cannot happen through the bindings)
  const std::size_t size = it->second;
  live_.erase(it);
  used_ -= size;
  if (size < kMinCachedBytes || size > limit_) {
    std::free(p);
    return;
  }
  evict_to(limit_ - size);
  free_.emplace(size, Free{p, ++clock_});
  cached_ += size;
}

void MemoryPool::evict_to(std::size_t target) noexcept {
  while (cached_ > target && !free_.empty()) {
    auto oldest = free_.begin();
    for (auto it = free_.begin(); it != free_.end(); ++it)
      if (it->second.stamp < oldest->second.stamp) oldest = it;
    cached_ -= oldest->first;
    std::free(oldest->second.p);
    free_.erase(oldest);
  }
}

void MemoryPool::free_all_blocks() noexcept {
  std::lock_guard<std::mutex> lock(mu_);
  evict_to(0);
}

void MemoryPool::set_cache_limit(std::size_t nbytes) noexcept {
  std::lock_guard<std::mutex> lock(mu_);
  limit_ = nbytes;
  evict_to(limit_);
}

std::size_t MemoryPool::cache_limit() const {
  std::lock_guard<std::mutex> lock(mu_);
  return limit_;
}
std::size_t MemoryPool::used_bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return used_;
}
std::size_t MemoryPool::cached_bytes() const {
  std::lock_guard<std::mutex> lock(mu_);
  return cached_;
}
std::size_t MemoryPool::n_cached_blocks() const {
  std::lock_guard<std::mutex> lock(mu_);
  return free_.size();
}
std::uint64_t MemoryPool::hits() const {
  std::lock_guard<std::mutex> lock(mu_);
  return hits_;
}
std::uint64_t MemoryPool::misses() const {
  std::lock_guard<std::mutex> lock(mu_);
  return misses_;
}

}  // namespace nnqs
