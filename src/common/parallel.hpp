// The one parallel loop of the project, for the data layer (decoding thousands of small images)
// and the core (the tasks of a meta-batch on several CPU cores) alike. std::thread is all it needs.
#pragma once

#include <cstdint>
#include <functional>

namespace mamlpp {

// Number of threads to use for `requested` (0 = one per hardware thread), at most `work` items.
int32_t resolve_threads(int32_t requested, int64_t work);

// Calls body(i, worker) for every i in [0, n) on up to `threads` threads (worker in [0, threads)),
// the calling thread included, items handed out in order from a shared counter. The first
// exception stops the remaining work and is rethrown here after every thread has joined.
// A thread that cannot be started (the process is at its thread limit) is not an error: the
// threads that did start, at least the calling one, do all the work. Never terminates.
void parallel_for(int64_t n, int32_t threads, const std::function<void(int64_t, int32_t)>& body);

namespace testing {
// Makes parallel_for behave as if the system refused every thread after the first `limit` extra
// ones (negative: no limit, the default). For tests of the fallback; not thread-safe.
void set_thread_start_limit(int limit);
}  // namespace testing

}  // namespace mamlpp
