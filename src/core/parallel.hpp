// Running the tasks of a meta-batch on several CPU threads. On a CPU, per-task operations are too
// small to parallelise well inside one op, but different tasks have independent autograd graphs:
// giving each core its own share of the tasks is the lever that works.
#pragma once

#include <ATen/ATen.h>

#include <functional>

#include "core/config.hpp"

namespace mamlpp {

// Worker threads for a meta-batch of `tasks` tasks: num_threads if set, else one per core; always
// 1 on a GPU (one stream does the work).
int task_workers(const Config& cfg, at::Device device, int64_t tasks);

// Runs fn(part) for every part in [0, parts) on up to `parts` threads, the calling thread included
// (common/parallel.hpp), each part with one LibTorch intra-op thread (OpenMP's per-thread
// setting, restored afterwards); waits for all, then rethrows the first exception any threw.
void run_parts(int parts, const std::function<void(int)>& fn);

// The contiguous share [first, first + count) of `tasks` tasks that `part` of `parts` gets.
void part_range(int64_t tasks, int parts, int part, int64_t& first, int64_t& count);

}  // namespace mamlpp
