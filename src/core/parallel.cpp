#include "core/parallel.hpp"

#include <ATen/Parallel.h>

#include <algorithm>
#include <exception>
#include <thread>
#include <vector>

namespace mamlpp {

int task_workers(const Config& cfg, at::Device device, int64_t tasks) {
  if (device.is_cuda() || tasks <= 1) return 1;
  int workers = cfg.num_threads;
  if (workers <= 0) {
    const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
    workers = std::max(1, cores / std::max(1, at::get_num_threads()));
  }
  return static_cast<int>(std::min<int64_t>(workers, tasks));
}

void run_parts(int parts, const std::function<void(int)>& fn) {
  std::vector<std::exception_ptr> errors(static_cast<size_t>(parts));
  auto run = [&](int part) {
    try {
      fn(part);
    } catch (...) {
      errors[static_cast<size_t>(part)] = std::current_exception();
    }
  };
  std::vector<std::thread> threads;
  threads.reserve(static_cast<size_t>(parts > 1 ? parts - 1 : 0));
  for (int p = 1; p < parts; ++p) threads.emplace_back(run, p);
  run(0);
  for (std::thread& t : threads) t.join();
  for (const std::exception_ptr& e : errors)
    if (e) std::rethrow_exception(e);
}

void part_range(int64_t tasks, int parts, int part, int64_t& first, int64_t& count) {
  const int64_t base = tasks / parts, extra = tasks % parts;
  first = part * base + std::min<int64_t>(part, extra);
  count = base + (part < extra ? 1 : 0);
}

}  // namespace mamlpp
