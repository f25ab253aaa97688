#include "data/prefetch.hpp"

#include <algorithm>
#include <chrono>
#include <utility>

#include "common/error.hpp"

namespace mamlpp::data {

Prefetcher::Prefetcher(EpisodeSampler sampler, PrefetchOptions options)
    : sampler_(std::move(sampler)),
      options_(options),
      end_(options.num_batches < 0 ? -1 : options.first_batch + options.num_batches),
      next_claim_(options.first_batch),
      next_serve_(options.first_batch) {
  if (options_.workers < 1 || options_.capacity < 1 || options_.first_batch < 0)
    throw invalid_argument("prefetch: workers and capacity must be >= 1 and first_batch >= 0");
  slots_.resize(static_cast<size_t>(options_.capacity));
  workers_.reserve(static_cast<size_t>(options_.workers));
  try {
    for (int32_t w = 0; w < options_.workers; ++w) workers_.emplace_back(&Prefetcher::work, this);
  } catch (...) {  // could not start a thread: stop the ones that did start
    {
      std::lock_guard<std::mutex> lock(mutex_);
      stop_ = true;
    }
    space_cv_.notify_all();
    for (auto& t : workers_) t.join();
    throw;
  }
}

Prefetcher::~Prefetcher() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stop_ = true;
  }
  space_cv_.notify_all();
  ready_cv_.notify_all();
  for (auto& t : workers_) t.join();
}

void Prefetcher::work() {
  const int64_t capacity = options_.capacity;
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stop_ && (end_ < 0 || next_claim_ < end_)) {
    const int64_t index = next_claim_++;
    // Slot index % capacity is free once the batch capacity places earlier has been served.
    space_cv_.wait(lock, [&] { return stop_ || index < next_serve_ + capacity; });
    if (stop_) return;
    Slot& slot = slots_[static_cast<size_t>(index % capacity)];
    MetaBatch buffers = std::move(slot.batch);  // fill outside the lock, reusing the old buffers
    lock.unlock();
    std::exception_ptr error;
    try {
      if (options_.task_count < 0)
        sampler_.fill(index, buffers);
      else
        sampler_.fill_tasks(index * sampler_.options().num_tasks + options_.task_offset, options_.task_count, buffers);
    } catch (...) {
      error = std::current_exception();
    }
    lock.lock();
    slot.batch = std::move(buffers);
    slot.index = index;
    slot.error = error;
    slot.ready = true;
    ready_cv_.notify_all();
  }
}

bool Prefetcher::next(MetaBatch& out) {
  std::unique_lock<std::mutex> lock(mutex_);
  if (end_ >= 0 && next_serve_ >= end_) return false;
  const int64_t index = next_serve_;
  Slot& slot = slots_[static_cast<size_t>(index % options_.capacity)];
  const auto start = std::chrono::steady_clock::now();
  ready_cv_.wait(lock, [&] { return slot.ready && slot.index == index; });
  const double waited = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  slot.ready = false;
  std::exception_ptr error = std::exchange(slot.error, nullptr);
  if (!error) std::swap(out, slot.batch);
  ++next_serve_;
  ++stats_.calls;
  stats_.total_seconds += waited;
  stats_.last_seconds = waited;
  stats_.max_seconds = std::max(stats_.max_seconds, waited);
  lock.unlock();
  space_cv_.notify_all();
  if (error) std::rethrow_exception(error);
  return true;
}

int64_t Prefetcher::next_index() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return next_serve_;
}

WaitStats Prefetcher::wait_stats() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return stats_;
}

}  // namespace mamlpp::data
