#include "core/parallel.hpp"

#include <ATen/Parallel.h>
#include <dlfcn.h>

#include <algorithm>
#include <thread>

#include "common/parallel.hpp"

namespace mamlpp {

int task_workers(const Config& cfg, at::Device device, int64_t tasks) {
  if (device.is_cuda() || tasks <= 1) return 1;
  const int cores = static_cast<int>(std::max(1u, std::thread::hardware_concurrency()));
  return static_cast<int>(std::min<int64_t>(cfg.num_threads > 0 ? cfg.num_threads : cores, tasks));
}

namespace {

// One intra-op thread for the calling thread while it runs a part, through OpenMP's per-thread
// setting (LibTorch's own at::set_num_threads is process-wide, and would change the host's
// LibTorch too). The OpenMP runtime is LibTorch's, found at run time; without one (a LibTorch
// built on its native thread pool) there is nothing to set.
class OneIntraOpThread {
 public:
  OneIntraOpThread() {
    if (api().set == nullptr || api().get == nullptr) return;
    saved_ = api().get();
    if (saved_ != 1) api().set(1);
  }
  ~OneIntraOpThread() {
    if (saved_ > 1) api().set(saved_);
  }
  OneIntraOpThread(const OneIntraOpThread&) = delete;
  OneIntraOpThread& operator=(const OneIntraOpThread&) = delete;

 private:
  struct Api {
    void (*set)(int) = nullptr;
    int (*get)() = nullptr;
  };
  static const Api& api() {
    static const Api a = [] {
      // Looked up from LibTorch's own library and what it links, so that it is LibTorch's runtime
      // even where libmamlpp was loaded without global symbols (Python's ctypes does that).
      void* torch = nullptr;
      Dl_info info{};
      if (::dladdr(reinterpret_cast<void*>(&at::get_num_threads), &info) != 0 && info.dli_fname != nullptr)
        torch = ::dlopen(info.dli_fname, RTLD_LAZY | RTLD_NOLOAD);
      void* scope = torch != nullptr ? torch : RTLD_DEFAULT;
      Api x;
      x.set = reinterpret_cast<void (*)(int)>(::dlsym(scope, "omp_set_num_threads"));
      x.get = reinterpret_cast<int (*)()>(::dlsym(scope, "omp_get_max_threads"));
      // LibTorch stays loaded while libmamlpp is (it depends on it): the pointers outlive this.
      if (torch != nullptr) ::dlclose(torch);
      return x;
    }();
    return a;
  }
  int saved_ = 0;
};

}  // namespace

void run_parts(int parts, const std::function<void(int)>& fn) {
  if (parts <= 1) {
    fn(0);
    return;
  }
  // A task thread per part, each with one intra-op thread: per-task operators are too small to
  // share well (measured with PyPI's LibTorch 2.12, whose pool has a thread per core: one task
  // thread with two intra-op threads took 2.6 s per step where two task threads with one each
  // take 1.4; docs/DECISIONS.md, "CPU speed").
  parallel_for(parts, parts, [&](int64_t part, int32_t) {
    const OneIntraOpThread one;
    fn(static_cast<int>(part));
  });
}

void part_range(int64_t tasks, int parts, int part, int64_t& first, int64_t& count) {
  const int64_t base = tasks / parts, extra = tasks % parts;
  first = part * base + std::min<int64_t>(part, extra);
  count = base + (part < extra ? 1 : 0);
}

}  // namespace mamlpp
