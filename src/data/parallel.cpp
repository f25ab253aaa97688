#include "data/parallel.hpp"

#include <algorithm>
#include <atomic>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

namespace mamlpp::data {

int32_t resolve_threads(int32_t requested, int64_t work) {
  int64_t t = requested > 0 ? requested : std::max(1u, std::thread::hardware_concurrency());
  return static_cast<int32_t>(std::max<int64_t>(1, std::min(t, work)));
}

void parallel_for(int64_t n, int32_t threads, const std::function<void(int64_t, int32_t)>& body) {
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
  if (threads == 1) {
    run(0);
  } else {
    std::vector<std::thread> pool;
    pool.reserve(threads - 1);
    try {
      for (int32_t w = 1; w < threads; ++w) pool.emplace_back(run, w);
    } catch (...) {  // could not start a thread: stop the others before unwinding
      failed = true;
      for (auto& t : pool) t.join();
      throw;
    }
    run(0);
    for (auto& t : pool) t.join();
  }
  if (error) std::rethrow_exception(error);
}

}  // namespace mamlpp::data
