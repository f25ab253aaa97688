#include "core/parallel.hpp"

#include <ATen/Parallel.h>

#include <algorithm>
#include <thread>

#include "common/parallel.hpp"

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
  parallel_for(parts, parts, [&](int64_t part, int32_t) { fn(static_cast<int>(part)); });
}

void part_range(int64_t tasks, int parts, int part, int64_t& first, int64_t& count) {
  const int64_t base = tasks / parts, extra = tasks % parts;
  first = part * base + std::min<int64_t>(part, extra);
  count = base + (part < extra ? 1 : 0);
}

}  // namespace mamlpp
