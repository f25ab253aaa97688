#include "common/parallel.hpp"

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <system_error>
#include <thread>
#include <vector>

namespace mamlpp {

namespace {
std::atomic<int> g_thread_start_limit{-1};
}  // namespace

namespace testing {
void set_thread_start_limit(int limit) { g_thread_start_limit = limit; }
}  // namespace testing

int32_t resolve_threads(int32_t requested, int64_t work) {
  int64_t t = requested > 0 ? requested : std::max(1u, std::thread::hardware_concurrency());
  return static_cast<int32_t>(std::max<int64_t>(1, std::min(t, work)));
}

void parallel_for(int64_t n, int32_t threads, const std::function<void(int64_t, int32_t)>& body) {
  if (n <= 0) return;
  threads = resolve_threads(threads, n);
  std::atomic<int64_t> next{0};
  std::atomic<bool> failed{false};
  std::exception_ptr error;
  std::mutex error_mutex;
  auto run = [&](int32_t worker) {
    for (int64_t i = next++; i < n && !failed.load(std::memory_order_relaxed); i = next++) {
      try {
        body(i, worker);
      } catch (...) {
        std::lock_guard<std::mutex> lock(error_mutex);
        if (!error) error = std::current_exception();
        failed = true;
      }
    }
  };
  std::vector<std::thread> pool;
  pool.reserve(static_cast<size_t>(threads - 1));
  const int limit = g_thread_start_limit.load();
  for (int32_t w = 1; w < threads; ++w) {
    if (limit >= 0 && w > limit) break;
    try {
      pool.emplace_back(run, w);
    } catch (const std::system_error&) {
      break;  // at the process's thread limit: the threads already running share the rest
    }
  }
  run(0);
  for (std::thread& t : pool) t.join();
  if (error) std::rethrow_exception(error);
}

}  // namespace mamlpp
