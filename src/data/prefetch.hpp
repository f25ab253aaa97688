// Background prefetch: worker threads prepare the next meta-batches of a sampler into a bounded
// ring while the trainer works, so it rarely waits. Batches come out in index order whatever the
// number of workers (batch i is a pure function of the sampler's seed and i), and equal
// sampler.batch(i) byte for byte. Records how long the consumer waited, for the CLI's report.
#pragma once

#include <condition_variable>
#include <cstdint>
#include <exception>
#include <mutex>
#include <thread>
#include <vector>

#include "data/sampler.hpp"

namespace mamlpp::data {

struct PrefetchOptions {
  int32_t workers = 1;       // threads preparing batches
  int32_t capacity = 4;      // batches prepared (or being prepared) ahead of the consumer
  int64_t first_batch = 0;   // index of the first batch served (e.g. to resume a run)
  int64_t num_batches = -1;  // batches to serve; -1 = endless
  // One rank's share of every batch (distributed training): tasks [task_offset, task_offset +
  // task_count) of each batch of B tasks. task_count -1 = the whole batch.
  int32_t task_offset = 0;
  int32_t task_count = -1;
};

struct WaitStats {
  int64_t calls = 0;           // next() calls that returned a batch
  double total_seconds = 0;    // time spent blocked in next(), summed
  double last_seconds = 0;     // the last call's wait
  double max_seconds = 0;      // the longest single wait
  double mean_seconds() const { return calls > 0 ? total_seconds / calls : 0.0; }
};

class Prefetcher {
 public:
  explicit Prefetcher(EpisodeSampler sampler, PrefetchOptions options = {});
  // Stops the workers and joins them; batches not taken are dropped. Safe at any point.
  ~Prefetcher();
  Prefetcher(const Prefetcher&) = delete;
  Prefetcher& operator=(const Prefetcher&) = delete;

  // The next batch, in index order, swapped into `out`: its old buffers go back to the ring, so
  // the steady state allocates nothing. Blocks until the batch is ready (the time is recorded).
  // Returns false once num_batches batches have been served. Rethrows a worker's exception for
  // the batch it concerns. One consumer thread at a time.
  bool next(MetaBatch& out);

  // Index of the batch the next call returns.
  int64_t next_index() const;
  WaitStats wait_stats() const;
  const EpisodeSampler& sampler() const { return sampler_; }

 private:
  struct Slot {
    MetaBatch batch;
    int64_t index = -1;  // the batch this slot holds once ready
    bool ready = false;
    std::exception_ptr error;
  };

  void work();

  const EpisodeSampler sampler_;
  const PrefetchOptions options_;
  const int64_t end_;  // one past the last batch index, or -1
  std::vector<Slot> slots_;  // batch i lives in slots_[i % capacity]
  mutable std::mutex mutex_;
  std::condition_variable ready_cv_;  // a slot became ready
  std::condition_variable space_cv_;  // the consumer freed a slot, or stop
  int64_t next_claim_;                // next batch index a worker will take
  int64_t next_serve_;                // next batch index the consumer gets
  bool stop_ = false;
  WaitStats stats_;
  std::vector<std::thread> workers_;
};

}  // namespace mamlpp::data
