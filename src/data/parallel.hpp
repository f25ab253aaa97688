// A minimal parallel loop for loaders: decoding thousands of small images is embarrassingly
// parallel, and std::thread is all it needs.
#pragma once

#include <cstdint>
#include <functional>

namespace mamlpp::data {

// Number of threads to use for `requested` (0 = one per hardware thread), at most `work` items.
int32_t resolve_threads(int32_t requested, int64_t work);

// Calls body(i, worker) for every i in [0, n) on `threads` threads (worker in [0, threads)), items
// handed out in order from a shared counter. The first exception stops the remaining work and is
// rethrown here after all threads have joined.
void parallel_for(int64_t n, int32_t threads, const std::function<void(int64_t, int32_t)>& body);

}  // namespace mamlpp::data
