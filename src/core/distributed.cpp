#include "core/distributed.hpp"

#include <pthread.h>
#include <signal.h>

#include <cerrno>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <mutex>
#include <string>
#include <utility>

#include "common/error.hpp"

// c10d's headers compile only with the backends they declare switched on; CMake defines
// MAMLPP_HAVE_GLOO (and MAMLPP_HAVE_NCCL) for this file alone when a probe built them against this
// LibTorch (Debian's 1.13 needs libgloo-dev for Gloo's headers; PyPI's wheel ships them).
#if MAMLPP_HAVE_GLOO
#include <torch/csrc/distributed/c10d/PrefixStore.hpp>
#include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
#include <torch/csrc/distributed/c10d/TCPStore.hpp>
#if MAMLPP_HAVE_NCCL
#include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
#endif
#endif

namespace mamlpp {

namespace {

int32_t env_int(const char* name, bool required, int32_t fallback) {
  const char* v = std::getenv(name);
  if (v == nullptr || *v == '\0') {
    if (!required) return fallback;
    throw invalid_argument(std::string("the environment has no ") + name +
                           ": launch with torchrun (it sets RANK, WORLD_SIZE, LOCAL_RANK, MASTER_ADDR and "
                           "MASTER_PORT), or set them yourself");
  }
  errno = 0;
  char* end = nullptr;
  const long long n = std::strtoll(v, &end, 10);
  if (errno != 0 || end == v || *end != '\0' || n < std::numeric_limits<int32_t>::min() ||
      n > std::numeric_limits<int32_t>::max())
    throw invalid_argument(std::string(name) + "='" + v + "' is not an integer");
  return static_cast<int32_t>(n);
}

}  // namespace

SigpipeBlocked::SigpipeBlocked() {
  sigset_t pipe, old, pending;
  sigemptyset(&pipe);
  sigaddset(&pipe, SIGPIPE);
  if (pthread_sigmask(SIG_BLOCK, &pipe, &old) != 0 || sigismember(&old, SIGPIPE) == 1) return;
  changed_ = true;
  was_pending_ = sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1;
}

SigpipeBlocked::~SigpipeBlocked() {
  if (!changed_) return;
  sigset_t pipe, pending;
  sigemptyset(&pipe);
  sigaddset(&pipe, SIGPIPE);
  if (!was_pending_ && sigpending(&pending) == 0 && sigismember(&pending, SIGPIPE) == 1) {
    const timespec now{0, 0};
    while (sigtimedwait(&pipe, nullptr, &now) < 0 && errno == EINTR) {
    }
  }
  pthread_sigmask(SIG_UNBLOCK, &pipe, nullptr);
}

GroupOptions group_options_from_env(double timeout_seconds) {
  GroupOptions o;
  o.rank = env_int("RANK", true, 0);
  o.world_size = env_int("WORLD_SIZE", true, 1);
  o.local_rank = env_int("LOCAL_RANK", false, o.rank);
  o.master_port = env_int("MASTER_PORT", true, 0);
  const char* addr = std::getenv("MASTER_ADDR");
  if (addr == nullptr || *addr == '\0')
    throw invalid_argument("the environment has no MASTER_ADDR: launch with torchrun, or set it yourself");
  o.master_addr = addr;
  o.timeout_seconds = timeout_seconds;
  return o;
}

void check_group_options(const GroupOptions& o) {
  if (o.master_addr.empty() || o.master_addr.size() > 255)
    throw invalid_argument("master address must be a host name or address of 1 to 255 characters");
  if (o.master_port < 1 || o.master_port > 65535)
    throw invalid_argument("master port " + std::to_string(o.master_port) + " is not in [1, 65535]");
  if (o.world_size < 1 || o.world_size > 65536)
    throw invalid_argument("world size " + std::to_string(o.world_size) + " is not in [1, 65536]");
  if (o.rank < 0 || o.rank >= o.world_size)
    throw invalid_argument("rank " + std::to_string(o.rank) + " is not in [0, world size " +
                           std::to_string(o.world_size) + ")");
  if (o.local_rank < 0 || o.local_rank > 1023)
    throw invalid_argument("local rank " + std::to_string(o.local_rank) + " is not in [0, 1023]");
  if (!std::isfinite(o.timeout_seconds) || o.timeout_seconds < 0.1 || o.timeout_seconds > 86400.0)
    throw invalid_argument("timeout " + std::to_string(o.timeout_seconds) + " s is not in [0.1, 86400] seconds");
}

#if MAMLPP_HAVE_GLOO

std::string distributed_unavailable_reason() { return {}; }

struct Group::Impl {
  GroupOptions options;
  std::chrono::milliseconds timeout{0};
  c10::intrusive_ptr<c10d::Store> store;
  c10::intrusive_ptr<c10d::ProcessGroupGloo> gloo;
#if MAMLPP_HAVE_NCCL
  c10::intrusive_ptr<c10d::ProcessGroupNCCL> nccl;
#endif
  std::mutex mutex;     // one collective at a time from this process, in call order
  std::string broken;   // why the group cannot be used any more; empty while it works
  int64_t gather_round = 0;

  // Runs one collective; a failure breaks the group for good (a peer is gone or out of step).
  template <class F>
  void collective(const char* what, F&& f) {
    if (!broken.empty())
      throw distributed_error(std::string(what) + " refused: the process group failed earlier (" + broken +
                              "); leave it and join a new one");
    try {
      f();
    } catch (const Error&) {
      throw;
    } catch (const std::exception& e) {
      broken = "the process group's " + std::string(what) + " failed on rank " + std::to_string(options.rank) +
               ": " + first_line(e.what());
      throw distributed_error(broken + " (another rank has probably exited or stopped responding; the timeout is " +
                              seconds(options.timeout_seconds) + ")");
    }
  }

  static std::string seconds(double s) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%g s", s);
    return buf;
  }

  static std::string first_line(const std::string& s) {
    const size_t nl = s.find('\n');
    return nl == std::string::npos ? s : s.substr(0, nl);
  }

  void wait(const c10::intrusive_ptr<c10d::Work>& work) { work->wait(timeout); }

  // Gloo's network device: GLOO_SOCKET_IFNAME as PyTorch reads it, the loopback address when the
  // rendezvous is local, otherwise the address this machine's host name resolves to.
  std::shared_ptr<::gloo::transport::Device> gloo_device() const {
    if (const char* ifname = std::getenv("GLOO_SOCKET_IFNAME"); ifname != nullptr && *ifname != '\0')
      return c10d::ProcessGroupGloo::createDeviceForInterface(ifname);
    const std::string& a = options.master_addr;
    if (a == "localhost" || a == "::1" || a.rfind("127.", 0) == 0)
      return c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1");
    return c10d::ProcessGroupGloo::createDefaultDevice();
  }
};

std::shared_ptr<Group> Group::join(const GroupOptions& options) {
  check_group_options(options);
  const SigpipeBlocked no_sigpipe;  // before the store and Gloo start their threads
  auto impl = std::make_unique<Impl>();
  impl->options = options;
  impl->timeout = std::chrono::milliseconds(static_cast<int64_t>(options.timeout_seconds * 1000.0));
  const std::string where = options.master_addr + ":" + std::to_string(options.master_port);
  try {
    c10d::TCPStoreOptions so;
    so.port = static_cast<uint16_t>(options.master_port);
    so.isServer = options.rank == 0;
    so.numWorkers = static_cast<size_t>(options.world_size);
    so.waitWorkers = true;
    so.timeout = impl->timeout;
    auto tcp = c10::make_intrusive<c10d::TCPStore>(options.master_addr, so);
    impl->store = tcp;
    auto gloo_opts = c10d::ProcessGroupGloo::Options::create(impl->timeout);
    gloo_opts->devices.push_back(impl->gloo_device());
    gloo_opts->threads = 2;
    impl->gloo = c10::make_intrusive<c10d::ProcessGroupGloo>(c10::make_intrusive<c10d::PrefixStore>("gloo", tcp),
                                                             options.rank, options.world_size, gloo_opts);
  } catch (const Error&) {
    throw;
  } catch (const std::exception& e) {
    throw distributed_error("rank " + std::to_string(options.rank) + " of " + std::to_string(options.world_size) +
                            " could not join the process group at " + where + " within " +
                            Impl::seconds(options.timeout_seconds) + ": " + Impl::first_line(e.what()));
  }
  return std::shared_ptr<Group>(new Group(std::move(impl)));
}

void Group::allreduce_sum(at::Tensor& t) {
  const SigpipeBlocked no_sigpipe;
  std::lock_guard<std::mutex> lock(impl_->mutex);
  impl_->collective("all-reduce", [&] {
    std::vector<at::Tensor> ts{t};
    if (t.is_cuda()) {
#if MAMLPP_HAVE_NCCL
      if (!impl_->nccl) {
        auto opts = c10d::ProcessGroupNCCL::Options::create();
        opts->timeout = impl_->timeout;
        impl_->nccl = c10::make_intrusive<c10d::ProcessGroupNCCL>(
            c10::make_intrusive<c10d::PrefixStore>("nccl", impl_->store), impl_->options.rank,
            impl_->options.world_size, opts);
      }
      impl_->wait(impl_->nccl->allreduce(ts));
#else
      throw unsupported("this libmamlpp was built without NCCL: CUDA models cannot train in a process group");
#endif
    } else {
      impl_->wait(impl_->gloo->allreduce(ts));
    }
  });
}

void Group::broadcast(at::Tensor& t, int32_t root) {
  const SigpipeBlocked no_sigpipe;
  std::lock_guard<std::mutex> lock(impl_->mutex);
  impl_->collective("broadcast", [&] {
    // Gloo carries it: attaching happens once, and a CUDA tensor goes through the host.
    at::Tensor host = t.to(at::kCPU).contiguous();
    std::vector<at::Tensor> ts{host};
    c10d::BroadcastOptions bo;
    bo.rootRank = root;
    impl_->wait(impl_->gloo->broadcast(ts, bo));
    t.copy_(host);
  });
}

std::vector<std::string> Group::all_gather_text(const std::string& mine) {
  const SigpipeBlocked no_sigpipe;
  std::lock_guard<std::mutex> lock(impl_->mutex);
  std::vector<std::string> out;
  impl_->collective("exchange through the store", [&] {
    const std::string prefix = "mamlpp/gather/" + std::to_string(impl_->gather_round++) + "/";
    impl_->store->set(prefix + std::to_string(impl_->options.rank), std::vector<uint8_t>(mine.begin(), mine.end()));
    for (int32_t r = 0; r < impl_->options.world_size; ++r) {
      const std::vector<uint8_t> v = impl_->store->get(prefix + std::to_string(r));
      out.emplace_back(v.begin(), v.end());
    }
  });
  return out;
}

#else  // no c10d with Gloo in this LibTorch

std::string distributed_unavailable_reason() {
  return "this libmamlpp was built against a LibTorch without c10d's Gloo backend (for Debian's LibTorch, "
         "install libgloo-dev and rebuild)";
}

struct Group::Impl {
  GroupOptions options;
};

std::shared_ptr<Group> Group::join(const GroupOptions& options) {
  check_group_options(options);
  throw unsupported(distributed_unavailable_reason());
}
void Group::allreduce_sum(at::Tensor&) { throw unsupported(distributed_unavailable_reason()); }
void Group::broadcast(at::Tensor&, int32_t) { throw unsupported(distributed_unavailable_reason()); }
std::vector<std::string> Group::all_gather_text(const std::string&) {
  throw unsupported(distributed_unavailable_reason());
}

#endif

Group::Group(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}
Group::~Group() {
  const SigpipeBlocked no_sigpipe;  // closing a dead peer's connections may write to them
  impl_.reset();
}
int32_t Group::rank() const { return impl_->options.rank; }
int32_t Group::world_size() const { return impl_->options.world_size; }
int32_t Group::local_rank() const { return impl_->options.local_rank; }
double Group::timeout_seconds() const { return impl_->options.timeout_seconds; }

}  // namespace mamlpp
