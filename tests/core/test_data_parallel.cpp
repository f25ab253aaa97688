// Data-parallel meta-training (core/data_parallel, core/distributed): the pooled step's maths
// without processes (shares summed through packets equal the whole batch's step), what ranks must
// agree on, and a group of one, where the collective step must equal the local one.
#include <gtest/gtest.h>

#include <cmath>

#include <ATen/CPUGeneratorImpl.h>
#include <arpa/inet.h>
#include <netinet/in.h>
#include <sys/socket.h>
#include <unistd.h>

#include <pthread.h>
#include <signal.h>

#include <algorithm>
#include <cerrno>
#include <string>
#include <thread>
#include <vector>

#include "common/error.hpp"
#include "core/data_parallel.hpp"
#include "core/distributed.hpp"
#include "core/meta_learner.hpp"
#include "random_tasks.hpp"

using namespace mamlpp;

namespace {

Config config64(BnStats bn) {
  Config c;
  c.n_way = 3;
  c.image_height = 12;
  c.image_width = 12;
  c.num_stages = 2;
  c.num_filters = 4;
  c.inner_steps = 2;
  c.eval_inner_steps = 2;
  c.first_order_epochs = 0;
  c.device_type = DeviceType::Cpu;
  c.dtype = DType::Float64;
  c.bn_stats = bn;
  c.seed = 3;
  return c;
}

TaskTensors random_tasks(const Config& c, int64_t tasks, uint64_t seed) {
  at::Generator gen = at::detail::createCPUGenerator(seed);
  const auto opts = at::TensorOptions().dtype(at::kDouble);
  TaskTensors t;
  const int64_t ns = c.n_way, nq = 2 * c.n_way;
  t.support_x = at::empty({tasks, ns, c.image_channels, c.image_height, c.image_width}, opts).uniform_(0, 1, gen);
  t.query_x = at::empty({tasks, nq, c.image_channels, c.image_height, c.image_width}, opts).uniform_(0, 1, gen);
  t.support_y = at::arange(ns, at::kLong).remainder(c.n_way).repeat({tasks, 1});
  t.query_y = at::arange(nq, at::kLong).remainder(c.n_way).repeat({tasks, 1});
  return t;
}

double max_rel(const at::Tensor& a, const at::Tensor& b) {
  return (a - b).abs().max().item<double>() / std::max(a.abs().max().item<double>(), 1e-300);
}

int free_port() {
  const int s = ::socket(AF_INET, SOCK_STREAM, 0);
  sockaddr_in a{};
  a.sin_family = AF_INET;
  a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
  ::bind(s, reinterpret_cast<sockaddr*>(&a), sizeof a);
  socklen_t n = sizeof a;
  ::getsockname(s, reinterpret_cast<sockaddr*>(&a), &n);
  ::close(s);
  return ntohs(a.sin_port);
}

std::string fingerprint(const MetaLearner& m) {
  return attach_fingerprint(m.config(), m.device(), m.dtype(), m.step(), m.state(true));
}

std::string agreement_error(const std::vector<std::string>& f) {
  try {
    require_agreement(f);
  } catch (const Error& e) {
    EXPECT_EQ(e.kind(), ErrorKind::Distributed);
    return e.what();
  }
  return "";
}

}  // namespace

// Shares of a meta-batch, each packed as a rank packs it and summed as the all-reduce sums them,
// give the whole batch's meta-gradient and BN running statistics.
class PooledStep : public ::testing::TestWithParam<BnStats> {};

TEST_P(PooledStep, SharesSumToTheWholeBatch) {
  const Config c = config64(GetParam());
  MetaLearner m(c);
  const TaskTensors all = random_tasks(c, 5, 11);
  const MetaGradient whole = m.meta_gradient(all);
  const std::vector<at::Tensor> params = m.params().trainable(c);
  const bool running = c.bn_stats == BnStats::Running;

  StepPacket sum = empty_packet(params, m.params().running_mean, running);
  for (const auto& [first, count] : std::vector<std::pair<int64_t, int64_t>>{{0, 3}, {3, 2}}) {
    const MetaGradient part = m.meta_gradient(all.slice(first, count));
    const RunningStatSums bn = running_stat_sums(m.params(), part.observations);
    StepPacket p = empty_packet(params, m.params().running_mean, running);
    fill_packet(p, part.grads, running ? &bn : nullptr, part.loss, part.accuracy, static_cast<double>(count));
    sum.flat.add_(p.flat);
  }
  const double tasks = sum.flat[sum.tail_offset + 2].item<double>();
  EXPECT_EQ(tasks, 5.0);
  EXPECT_EQ(sum.flat[sum.tail_offset + 3].item<double>(), 0.0);  // no rank failed
  const std::vector<at::Tensor> pooled = packet_gradients(sum, params, tasks);
  ASSERT_EQ(pooled.size(), whole.grads.size());
  // Against the scale of the whole gradient: the conv biases' true gradient is zero in support
  // mode, so theirs is rounding noise with no relative precision of its own.
  double scale = 0;
  for (const at::Tensor& g : whole.grads) scale = std::max(scale, g.abs().max().item<double>());
  for (size_t k = 0; k < pooled.size(); ++k)
    EXPECT_LT((whole.grads[k] - pooled[k]).abs().max().item<double>() / scale, 1e-12) << "gradient " << k;
  EXPECT_NEAR(sum.flat[sum.tail_offset].item<double>() / tasks, whole.loss.item<double>(), 1e-12);
  EXPECT_NEAR(sum.flat[sum.tail_offset + 1].item<double>() / tasks, whole.accuracy.item<double>(), 1e-12);
  if (running) {
    std::vector<at::Tensor> mean_whole, var_whole, mean_pooled, var_pooled;
    running_stats_after(m.params(), running_stat_sums(m.params(), whole.observations), mean_whole, var_whole);
    running_stats_after(m.params(), packet_bn_sums(sum, m.params().running_mean), mean_pooled, var_pooled);
    for (size_t s = 0; s < mean_whole.size(); ++s) {
      EXPECT_LT(max_rel(mean_whole[s], mean_pooled[s]), 1e-12);
      EXPECT_LT(max_rel(var_whole[s], var_pooled[s]), 1e-12);
      EXPECT_GT(max_rel(m.params().running_mean[s], mean_pooled[s]), 1e-6) << "the statistics did not move";
    }
  }
}

INSTANTIATE_TEST_SUITE_P(BnModes, PooledStep, ::testing::Values(BnStats::Support, BnStats::Running));

TEST(Agreement, SameModelAgrees) {
  const MetaLearner a(config64(BnStats::Support)), b(config64(BnStats::Support));
  EXPECT_EQ(agreement_error({fingerprint(a), fingerprint(b), fingerprint(a)}), "");
}

TEST(Agreement, NamesTheConfigFieldAndTheRank) {
  Config c = config64(BnStats::Support);
  const MetaLearner a(c);
  c.inner_steps = 3;
  const MetaLearner b(c);
  const std::string e = agreement_error({fingerprint(a), fingerprint(a), fingerprint(b)});
  EXPECT_NE(e.find("config field inner_steps is 3 on rank 2 but 2 on rank 0"), std::string::npos) << e;
}

TEST(Agreement, PerRankFieldsMayDiffer) {
  Config c = config64(BnStats::Support);
  const MetaLearner a(c);
  c.num_threads = 3;
  c.task_batching = TaskBatching::Batched;
  const MetaLearner b(c);
  EXPECT_EQ(agreement_error({fingerprint(a), fingerprint(b)}), "");
}

TEST(Agreement, NamesTheLibraryVersionAndDtype) {
  const MetaLearner a(config64(BnStats::Support));
  std::string other = fingerprint(a);
  other.replace(other.find("library version="), other.find('\n') - other.find("library version="),
                "library version=9.9.9");
  const std::string e = agreement_error({fingerprint(a), other});
  EXPECT_NE(e.find("library version is 9.9.9 on rank 1"), std::string::npos) << e;
  Config c = config64(BnStats::Support);
  c.dtype = DType::Float32;
  const std::string e2 = agreement_error({fingerprint(a), fingerprint(MetaLearner(c))});
  EXPECT_NE(e2.find("dtype is float32 on rank 1 but float64 on rank 0"), std::string::npos) << e2;
}

TEST(Agreement, TrainedRanksMustHoldRankZerosModelFreshOnesReceiveIt) {
  const Config c = config64(BnStats::Support);
  MetaLearner trained(c), other(c);
  const TaskTensors t = random_tasks(c, 2, 5);
  trained.meta_train_step(t);
  other.meta_train_step(random_tasks(c, 2, 6));  // same config and step, other tensors
  const MetaLearner fresh(c);
  // A fresh rank beside a trained rank 0: it will receive rank 0's state.
  EXPECT_EQ(agreement_error({fingerprint(trained), fingerprint(fresh)}), "");
  // A trained rank 1 that is not rank 0's model (another file) is refused, naming the tensor.
  const std::string e = agreement_error({fingerprint(trained), fingerprint(other)});
  EXPECT_NE(e.find("tensor backbone.stage0.conv.weight (checksum) is"), std::string::npos) << e;
  EXPECT_NE(e.find("same model file"), std::string::npos) << e;
  // A trained rank beside a fresh rank 0 is refused too (its step counter differs).
  const std::string e2 = agreement_error({fingerprint(fresh), fingerprint(trained)});
  EXPECT_NE(e2.find("step counter is 1 on rank 1 but 0 on rank 0"), std::string::npos) << e2;
}

TEST(GroupOfOne, CollectiveStepEqualsTheLocalStep) {
  if (!distributed_unavailable_reason().empty()) GTEST_SKIP() << distributed_unavailable_reason();
  for (BnStats bn : {BnStats::Support, BnStats::Running}) {
    const Config c = config64(bn);
    MetaLearner local(c), grouped(c);
    GroupOptions o;
    o.master_addr = "127.0.0.1";
    o.master_port = free_port();
    o.timeout_seconds = 30;
    grouped.attach(Group::join(o));
    for (int step = 0; step < 3; ++step) {
      const TaskTensors t = random_tasks(c, 3, 20 + step);
      const Metrics a = local.meta_train_step(t), b = grouped.meta_train_step(t);
      EXPECT_NEAR(a.loss, b.loss, 1e-12);
      EXPECT_EQ(a.step, b.step);
    }
    // Each tensor against the largest value of its kind (parameters, first moments, second
    // moments): the inner rates of the conv biases and their moments see a zero true gradient
    // (the inner passes use batch statistics), so theirs is rounding noise with no relative
    // precision of its own (tests/dist/safetensors_compare.py says more).
    const auto sa = local.state(true), sb = grouped.state(true);
    auto kind = [](const std::string& n) { return n.rfind("adam.m.", 0) == 0 ? 1 : n.rfind("adam.v.", 0) == 0 ? 2 : 0; };
    double scale[3] = {0, 0, 0};
    for (const auto& t : sa) scale[kind(t.name)] = std::max(scale[kind(t.name)], t.tensor.abs().max().item<double>());
    for (size_t i = 0; i < sa.size(); ++i) {
      // With batch statistics everywhere the conv biases themselves are noise too.
      if (bn != BnStats::Running && sa[i].name.rfind("backbone.stage", 0) == 0 &&
          sa[i].name.find(".conv.bias") != std::string::npos)
        continue;
      const double d = (sa[i].tensor - sb[i].tensor).abs().max().item<double>();
      EXPECT_LT(d / scale[kind(sa[i].name)], 1e-10) << sa[i].name;
    }
    // A refused input on the only rank: the step is refused and nothing changes.
    const auto before = grouped.state(true);
    EXPECT_THROW(grouped.refuse_step_together(std::make_exception_ptr(invalid_argument("bad input"))), Error);
    const auto after = grouped.state(true);
    for (size_t i = 0; i < before.size(); ++i) EXPECT_TRUE(before[i].tensor.equal(after[i].tensor));
  }
}

// Regression reports no accuracy (NaN): the collective step must not take that for a non-finite
// gradient, and must take the local step.
TEST(GroupOfOne, RegressionStepEqualsTheLocalStep) {
  if (!distributed_unavailable_reason().empty()) GTEST_SKIP() << distributed_unavailable_reason();
  Config c;
  c.backbone = Backbone::Mlp;
  c.input_features = 2;
  c.hidden_sizes = HiddenSizes{6, 5, 0, 0, 0, 0, 0, 0};
  c.task_kind = TaskKind::Regression;
  c.inner_steps = 2;
  c.dtype = DType::Float64;
  c.device_type = DeviceType::Cpu;
  MetaLearner local(c), grouped(c);
  GroupOptions o;
  o.master_addr = "127.0.0.1";
  o.master_port = free_port();
  o.timeout_seconds = 30;
  grouped.attach(Group::join(o));
  const TaskTensors t = core_test::random_tasks(c, 3, 6, 4, 5);
  const Metrics a = local.meta_train_step(t), b = grouped.meta_train_step(t);
  EXPECT_NEAR(a.loss, b.loss, 1e-12);
  EXPECT_TRUE(std::isnan(a.accuracy) && std::isnan(b.accuracy));
  EXPECT_EQ(b.step, 1);
  const auto sa = local.state(false), sb = grouped.state(false);
  for (size_t i = 0; i < sa.size(); ++i)
    EXPECT_LT((sa[i].tensor - sb[i].tensor).abs().max().item<double>(), 1e-12) << sa[i].name;
}

namespace {

bool sigpipe_blocked_here() {
  sigset_t now;
  pthread_sigmask(SIG_BLOCK, nullptr, &now);
  return sigismember(&now, SIGPIPE) == 1;
}

bool sigpipe_pending_here() {
  sigset_t p;
  sigpending(&p);
  return sigismember(&p, SIGPIPE) == 1;
}

// Writes to a socket whose peer has closed: EPIPE, plus a SIGPIPE that ends the process when it is
// not blocked (the default action), which is what killed rank 0 when its peer died mid-step.
int write_to_a_closed_peer() {
  int fds[2];
  if (socketpair(AF_UNIX, SOCK_STREAM, 0, fds) != 0) return -2;
  close(fds[1]);
  const char byte = 1;
  const ssize_t n = write(fds[0], &byte, 1);
  const int err = errno;
  close(fds[0]);
  return n < 0 ? err : 0;
}

}  // namespace

TEST(SigpipeBlocked, AWriteToADeadPeerFailsWithEpipeInsteadOfEndingTheProcess) {
  ASSERT_FALSE(sigpipe_blocked_here());
  bool thread_blocked = false;
  int thread_err = 0;
  {
    const SigpipeBlocked guard;
    EXPECT_TRUE(sigpipe_blocked_here());
    EXPECT_EQ(write_to_a_closed_peer(), EPIPE);
    EXPECT_TRUE(sigpipe_pending_here());
    // A thread started meanwhile (as Gloo's and the store's are) keeps SIGPIPE blocked for good.
    std::thread t([&] {
      thread_blocked = sigpipe_blocked_here();
      thread_err = write_to_a_closed_peer();
    });
    t.join();
  }
  EXPECT_TRUE(thread_blocked);
  EXPECT_EQ(thread_err, EPIPE);
  // The guard discarded the SIGPIPE it caused and restored the mask.
  EXPECT_FALSE(sigpipe_blocked_here());
  EXPECT_FALSE(sigpipe_pending_here());
}

TEST(SigpipeBlocked, LeavesAThreadThatAlreadyBlocksSigpipeAsItIs) {
  sigset_t pipe, old;
  sigemptyset(&pipe);
  sigaddset(&pipe, SIGPIPE);
  ASSERT_EQ(pthread_sigmask(SIG_BLOCK, &pipe, &old), 0);
  { const SigpipeBlocked guard; }
  EXPECT_TRUE(sigpipe_blocked_here());
  // The host's own pending SIGPIPE is the host's: the guard does not discard it.
  EXPECT_EQ(write_to_a_closed_peer(), EPIPE);
  { const SigpipeBlocked guard; }
  EXPECT_TRUE(sigpipe_pending_here());
  const timespec now{0, 0};
  sigtimedwait(&pipe, nullptr, &now);
  pthread_sigmask(SIG_SETMASK, &old, nullptr);
}
