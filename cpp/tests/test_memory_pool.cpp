// Unit tests of the caching host allocator (nnqs/memory_pool.hpp): alignment, reuse of released blocks, the cache
// limit (LRU eviction, 0 disables), small blocks never cached, counters, and concurrent use from several threads.
#include <cstdint>
#include <cstring>
#include <thread>
#include <vector>

#include "nnqs/memory_pool.hpp"
#include "nnqs_test.hpp"

namespace {

constexpr std::size_t MiB = std::size_t(1) << 20;

bool aligned(const void* p, std::size_t a) { return reinterpret_cast<std::uintptr_t>(p) % a == 0; }

TEST_CASE("memory pool: alignment, reuse, counters") {
  nnqs::MemoryPool pool(64 * MiB);
  bool reused = true;
  void* small = pool.allocate(100, &reused);
  CHECK(small != nullptr && aligned(small, 64) && !reused);
  void* big = pool.allocate(5 * MiB, &reused);
  CHECK(big != nullptr && aligned(big, nnqs::MemoryPool::kGranule) && !reused);
  std::memset(big, 1, 5 * MiB);               // the whole request is usable
  CHECK(pool.used_bytes() == 128 + 6 * MiB);  // small requests: rounded to 64 bytes
  pool.release(small);
  pool.release(big);
  CHECK(pool.used_bytes() == 0 && pool.cached_bytes() == 6 * MiB && pool.n_cached_blocks() == 1);
  void* again = pool.allocate(5 * MiB + 1, &reused);
  CHECK(again == big && reused && pool.hits() == 1 && pool.cached_bytes() == 0);
  void* other = pool.allocate(40 * MiB, &reused);        // no cached block fits: fresh
  CHECK(other != big && !reused && pool.misses() == 2);  // small requests are not counted
  pool.release(again);
  pool.release(other);
  pool.release(nullptr);  // no-op
  CHECK(pool.cached_bytes() == 46 * MiB && pool.n_cached_blocks() == 2);
  pool.free_all_blocks();
  CHECK(pool.cached_bytes() == 0 && pool.n_cached_blocks() == 0);
}

TEST_CASE("memory pool: the limit bounds the cache (oldest evicted first); 0 disables it") {
  nnqs::MemoryPool pool(5 * MiB);
  void* a = pool.allocate(2 * MiB);
  void* b = pool.allocate(2 * MiB);
  void* c = pool.allocate(2 * MiB);
  pool.release(a);
  pool.release(b);
  pool.release(c);  // a is evicted to make room
  CHECK(pool.cached_bytes() == 4 * MiB && pool.n_cached_blocks() == 2);
  void* big = pool.allocate(6 * MiB);
  pool.release(big);  // larger than the limit: straight back to the system
  CHECK(pool.cached_bytes() == 4 * MiB);
  pool.set_cache_limit(0);
  CHECK(pool.cached_bytes() == 0 && pool.cache_limit() == 0);
  void* d = pool.allocate(2 * MiB);
  pool.release(d);
  CHECK(pool.cached_bytes() == 0);
  CHECK(nnqs::MemoryPool::default_cache_limit() > 0 &&
        nnqs::MemoryPool::default_cache_limit() <= (std::size_t(2) << 30));
}

TEST_CASE("memory pool: concurrent allocate/release from several threads") {
  nnqs::MemoryPool pool(16 * MiB);
  std::vector<std::thread> ts;
  std::vector<int> bad(4, 0);
  for (int t = 0; t < 4; ++t)
    ts.emplace_back([&, t] {
      for (int i = 0; i < 200; ++i) {
        const std::size_t n = (1 + (t + i) % 3) * MiB;
        auto* p = static_cast<unsigned char*>(pool.allocate(n));
        p[0] = static_cast<unsigned char>(t);
        p[n - 1] = static_cast<unsigned char>(t);
        if (p[0] != t || p[n - 1] != t) ++bad[t];
        pool.release(p);
      }
    });
  for (auto& th : ts) th.join();
  CHECK(bad[0] + bad[1] + bad[2] + bad[3] == 0);
  CHECK(pool.used_bytes() == 0 && pool.cached_bytes() <= 16 * MiB);
}

}  // namespace

NNQS_TEST_MAIN
