// mamlpp-perf: the physical frame of a meta-train step on this machine (docs/BENCHMARKS.md, "The
// physical frame"). A developer's tool that links the C++ core directly:
//
//   mamlpp-perf peak                   sustained float32 GEMM and convolution throughput, 1 and 2 cores
//   mamlpp-perf flops   [shape flags]  FLOPs of one meta-train step, counted from the shapes
//   mamlpp-perf profile [shape flags]  time per step, achieved GFLOP/s, and the top operators by self time
//   mamlpp-perf adapt   [shape flags]  latency of adapting to one task and of predicting 1 and 100 images
//                                      (median and p99; --calls N, --intra T intra-op threads,
//                                      after --train N meta-train steps, 12 by default)
//
// Shape flags: --way N --shot K --query Q --batch B --filters F --steps S --bn-stats
// support|transductive|running --first-order --threads T --iters N --top N --dtype float32|float64
// --adapt-last K (ANIL: the inner loop adapts the last K layers).
#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <ATen/record_function.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <functional>
#include <map>
#include <memory>
#include <mutex>
#include <string>
#include <thread>
#include <vector>

#include "common/parallel.hpp"
#include "core/learner.hpp"
#include "core/meta_learner.hpp"
#include "core/parallel.hpp"
#include "core/schedules.hpp"

namespace {

using Clock = std::chrono::steady_clock;
using mamlpp::Config;

double seconds_since(Clock::time_point t0) { return std::chrono::duration<double>(Clock::now() - t0).count(); }

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

// ---------------------------------------------------------------------------------------------
// peak: what this CPU sustains on large float32 GEMMs and on convolutions of the model's shapes.

// Median GFLOP/s of `fn` (which performs `flop` FLOPs) run by `threads` threads at once, each
// with one intra-op thread (the library's own arrangement: one task per core), or by one thread
// with `threads` intra-op threads when intra is set.
double throughput(const std::function<void()>& fn, double flop, int threads, bool intra, int reps) {
  std::vector<double> rates;
  for (int r = 0; r < reps; ++r) {
    const auto t0 = Clock::now();
    if (intra || threads == 1) {
      at::set_num_threads(intra ? threads : 1);
      fn();
    } else {
      std::vector<std::thread> pool;
      for (int t = 0; t < threads; ++t) pool.emplace_back([&] { at::set_num_threads(1); fn(); });
      for (std::thread& t : pool) t.join();
    }
    const double s = seconds_since(t0);
    rates.push_back(flop * (intra ? 1 : threads) / s / 1e9);
  }
  return median(rates);
}

int cmd_peak() {
  at::manual_seed(0);
  std::printf("%-52s %10s %10s %10s\n", "kernel (float32)", "1 core", "2 cores", "2 cores");
  std::printf("%-52s %10s %10s %10s\n", "", "", "2 threads", "intra-op");
  auto row = [](const char* what, const std::function<void()>& once, double flop, int inner) {
    auto fn = [&] { for (int i = 0; i < inner; ++i) once(); };
    fn();  // warm-up
    const double one = throughput(fn, flop * inner, 1, false, 5);
    const double two = throughput(fn, flop * inner, 2, false, 5);
    const double intra = throughput(fn, flop * inner, 2, true, 5);
    std::printf("%-52s %10.1f %10.1f %10.1f\n", what, one, two, intra);
    std::fflush(stdout);
  };
  for (int64_t n : {512, 1024, 2048}) {
    const at::Tensor a = at::randn({n, n}), b = at::randn({n, n});
    const std::string what = "GEMM " + std::to_string(n) + "^3";
    row(what.c_str(), [&] { at::mm(a, b); }, 2.0 * n * n * n, n >= 2048 ? 1 : 4);
  }
  // The model's largest GEMM shapes: stage 1 of the 64-filter Omniglot model as im2col GEMMs.
  {
    const at::Tensor w = at::randn({64, 576}), cols = at::randn({576, 196 * 10});
    row("GEMM 64x576 . 576x1960 (stage 1, 10 images)", [&] { at::mm(w, cols); }, 2.0 * 64 * 576 * 1960, 20);
  }
  struct ConvShape {
    const char* what;
    int64_t n, c, f, hw;
  };
  for (const ConvShape& s : {ConvShape{"conv3x3 64->64 14x14, 64 images", 64, 64, 64, 14},
                             ConvShape{"conv3x3 64->64 14x14, 10 images", 10, 64, 64, 14},
                             ConvShape{"conv3x3 64->64 7x7, 10 images", 10, 64, 64, 7},
                             ConvShape{"conv3x3 1->64 28x28, 10 images", 10, 1, 64, 28}}) {
    const at::Tensor x = at::randn({s.n, s.c, s.hw, s.hw}), w = at::randn({s.f, s.c, 3, 3});
    const double flop = 2.0 * s.n * s.f * s.c * 9 * s.hw * s.hw;
    row(s.what, [&] { at::conv2d(x, w, {}, 1, 1); }, flop, std::max<int>(1, static_cast<int>(2e9 / flop)));
  }
  // What a meta-batch's task threads cost to start: parallel_for starts them on every call.
  {
    std::vector<double> us;
    for (int i = 0; i < 2000; ++i) {
      const auto t0 = Clock::now();
      mamlpp::parallel_for(2, 2, [](int64_t, int32_t) {});
      us.push_back(1e6 * seconds_since(t0));
    }
    std::printf("starting and joining one task thread (parallel_for over 2 items, 2 threads): %.1f us (median of 2000)\n",
                median(us));
  }
  std::printf("(GFLOP/s, medians of 5; '2 threads': one single-threaded kernel per core at once, the\n"
              " library's arrangement; 'intra-op': one kernel on LibTorch's 2-thread pool)\n");
  return 0;
}

// ---------------------------------------------------------------------------------------------
// flops: the arithmetic of one meta-train step, from the shapes.

struct Shape {
  Config cfg;
  int64_t shot = 1, query = 1, batch = 8;
  int iters = 10, top = 25, calls = 200, intra = 1, train = 12;
};

// Forward FLOPs per image of each conv layer (multiply-adds count 2), and the head's.
std::vector<double> conv_flops(const Config& cfg) {
  std::vector<double> c;
  int64_t h = cfg.image_height, w = cfg.image_width, cin = cfg.image_channels;
  for (int s = 0; s < cfg.num_stages; ++s) {
    if (!cfg.max_pool) h = (h + 1) / 2, w = (w + 1) / 2;  // stride 2, padding 1
    c.push_back(2.0 * cfg.num_filters * cin * 9 * h * w);
    if (cfg.max_pool) h /= 2, w /= 2;
    cin = cfg.num_filters;
  }
  return c;
}

// Forward FLOPs of one image, and of one adaptation: eval_inner_steps steps of a forward pass and
// a backward pass over the support through the adapted conv layers (weight and input gradients,
// none for the first adapted layer's input; with adapt_last_layers = 1 no conv backward at all).
double image_flops(const Config& cfg) {
  double c = 0;
  for (double l : conv_flops(cfg)) c += l;
  return c;
}
double adapt_flops(const Config& cfg, int64_t shot) {
  const std::vector<double> layers = conv_flops(cfg);
  const size_t first = cfg.adapt_last_layers == 0 ? 0 : layers.size() + 1 - static_cast<size_t>(cfg.adapt_last_layers);
  double backward = 0;
  for (size_t l = first; l < layers.size(); ++l) backward += (l == first ? 1 : 2) * layers[l];
  return cfg.eval_inner_steps * (image_flops(cfg) + backward) * static_cast<double>(cfg.n_way * shot);
}

struct StepFlops {
  double inner_forward = 0, inner_backward = 0, query_forward = 0, outer_backward = 0;
  double total() const { return inner_forward + inner_backward + query_forward + outer_backward; }
};

// Convolutions only (99% of the arithmetic; BN, activations, pooling and the head are memory-bound
// or tiny). Per task and inner step, with c = sum of the layers' forward FLOPs per image and c0
// the first layer's (whose input gradient nobody needs):
//   support forward c S; support backward (2c - c0) S (weight and input gradients);
//   query forward c Nq (Nq = S + Q with support statistics, Q otherwise) at the steps MSL weighs;
//   outer backward through each query pass (2c - c0) Nq;
//   second order also: through each support backward, whose two products per layer (input and
//   weight gradient) each have two differentiable inputs, (4c - 2c0) S, and through the support
//   forward that produced it, (2c - c0) S.
StepFlops count_flops(const Shape& s, bool second_order, const std::vector<double>& msl_weights) {
  const double c = image_flops(s.cfg), c0 = conv_flops(s.cfg).front();
  const double S = static_cast<double>(s.cfg.n_way * s.shot);
  const double Q = static_cast<double>(s.cfg.n_way * s.query);
  const double Nq = s.cfg.bn_stats == mamlpp::BnStats::Support ? S + Q : Q;
  StepFlops f;
  for (int i = 0; i < s.cfg.inner_steps; ++i) {
    f.inner_forward += c * S;
    f.inner_backward += (2 * c - c0) * S;
    const bool query = msl_weights[static_cast<size_t>(i)] != 0.0 || i + 1 == s.cfg.inner_steps;
    if (query) {
      f.query_forward += c * Nq;
      f.outer_backward += (2 * c - c0) * Nq;
    }
    if (second_order) f.outer_backward += (4 * c - 2 * c0) * S + (2 * c - c0) * S;
  }
  const double tasks = static_cast<double>(s.batch);
  f.inner_forward *= tasks;
  f.inner_backward *= tasks;
  f.query_forward *= tasks;
  f.outer_backward *= tasks;
  return f;
}

StepFlops step_flops(const Shape& s) {
  return count_flops(s, s.cfg.second_order, mamlpp::query_loss_weights(s.cfg, 0));
}

int cmd_flops(const Shape& s) {
  const StepFlops f = step_flops(s);
  const std::vector<double> layers = conv_flops(s.cfg);
  std::printf("forward FLOPs of one image: ");
  double c = 0;
  for (size_t l = 0; l < layers.size(); ++l) {
    std::printf("%sconv%zu %.2f M", l ? ", " : "", l, layers[l] / 1e6);
    c += layers[l];
  }
  std::printf(" = %.2f MFLOP\n", c / 1e6);
  std::printf("one meta-train step (%d-way %d-shot, %d queries per class, B=%d, %d filters, %d steps, %s, %s):\n",
              s.cfg.n_way, static_cast<int>(s.shot), static_cast<int>(s.query), static_cast<int>(s.batch),
              s.cfg.num_filters, s.cfg.inner_steps, s.cfg.second_order ? "second order" : "first order",
              mamlpp::to_string(s.cfg.bn_stats).c_str());
  std::printf("  inner forward   %8.2f GFLOP\n  inner backward  %8.2f GFLOP\n  query forward   %8.2f GFLOP\n"
              "  outer backward  %8.2f GFLOP\n  total           %8.2f GFLOP\n",
              f.inner_forward / 1e9, f.inner_backward / 1e9, f.query_forward / 1e9, f.outer_backward / 1e9,
              f.total() / 1e9);
  std::printf("one adaptation (%d steps, %d support images): %.3f GFLOP; one-image prediction: %.1f MFLOP\n",
              s.cfg.eval_inner_steps, static_cast<int>(s.cfg.n_way * s.shot), adapt_flops(s.cfg, s.shot) / 1e9,
              c / 1e6);
  return 0;
}

// ---------------------------------------------------------------------------------------------
// profile: self time per operator, through LibTorch's RecordFunction callbacks.

struct OpStat {
  double self = 0, total = 0;
  int64_t calls = 0;
};

struct Frame {
  std::string name;
  Clock::time_point start;
  double children = 0;
};

std::mutex g_merge_mutex;
std::map<std::string, OpStat> g_stats;

// Adds a thread's operator statistics to the process's, and empties them.
void merge(std::map<std::string, OpStat>& stats) {
  std::lock_guard<std::mutex> lock(g_merge_mutex);
  for (const auto& [name, st] : stats) {
    OpStat& g = g_stats[name];
    g.self += st.self;
    g.total += st.total;
    g.calls += st.calls;
  }
  stats.clear();
}

struct ThreadStats {
  std::vector<Frame> stack;
  std::map<std::string, OpStat> stats;
  ~ThreadStats() { merge(stats); }
};

ThreadStats& thread_stats() {
  static thread_local ThreadStats t;
  return t;
}

std::unique_ptr<at::ObserverContext> on_enter(const at::RecordFunction& fn) {
  thread_stats().stack.push_back(Frame{std::string(fn.name()), Clock::now(), 0.0});
  return nullptr;
}

void on_exit(const at::RecordFunction&, at::ObserverContext*) {
  ThreadStats& t = thread_stats();
  if (t.stack.empty()) return;
  Frame f = std::move(t.stack.back());
  t.stack.pop_back();
  const double total = seconds_since(f.start);
  OpStat& st = t.stats[f.name];
  st.total += total;
  st.self += total - f.children;
  st.calls += 1;
  if (!t.stack.empty()) t.stack.back().children += total;
}

// Runs fn `reps` times with every operator's self time recorded (its time less that of the
// operators it called), and prints the top ones.
void profile_calls(const std::function<void()>& fn, int reps, int top, const char* unit) {
  g_stats.clear();
  at::RecordFunctionCallback cb(&on_enter, &on_exit);
  const auto handle = at::addGlobalCallback(cb);
  const auto t0 = Clock::now();
  for (int i = 0; i < reps; ++i) fn();
  const double wall = seconds_since(t0) / reps;
  at::removeCallback(handle);
  merge(thread_stats().stats);  // worker threads have ended and merged theirs; add this thread's
  std::vector<std::pair<std::string, OpStat>> rows(g_stats.begin(), g_stats.end());
  double all = 0;
  int64_t calls = 0;
  for (const auto& r : rows) all += r.second.self, calls += r.second.calls;
  std::sort(rows.begin(), rows.end(), [](const auto& a, const auto& b) { return a.second.self > b.second.self; });
  std::printf("\nprofiled: %.4f s per %s with the callbacks; operator self time summed over threads "
              "(%.4f thread-s per %s)\n",
              wall, unit, all / reps, unit);
  std::printf("| operator | self ms / %s | share | calls / %s | us / call |\n|---|---|---|---|---|\n", unit, unit);
  for (int i = 0; i < std::min<int>(top, static_cast<int>(rows.size())); ++i) {
    const OpStat& st = rows[static_cast<size_t>(i)].second;
    std::printf("| %s | %.2f | %.1f%% | %.0f | %.1f |\n", rows[static_cast<size_t>(i)].first.c_str(),
                1000.0 * st.self / reps, 100.0 * st.self / all, static_cast<double>(st.calls) / reps,
                1e6 * st.self / static_cast<double>(st.calls));
  }
  std::printf("(%zu distinct operators, %.0f calls per %s)\n", rows.size(), static_cast<double>(calls) / reps, unit);
}

mamlpp::TaskTensors synthetic_tasks(const Shape& s, at::ScalarType dtype) {
  const Config& c = s.cfg;
  const int64_t S = c.n_way * s.shot, Q = c.n_way * s.query;
  mamlpp::TaskTensors t;
  const auto opt = at::TensorOptions().dtype(dtype);
  t.support_x = at::rand({s.batch, S, c.image_channels, c.image_height, c.image_width}, opt);
  t.query_x = at::rand({s.batch, Q, c.image_channels, c.image_height, c.image_width}, opt);
  // Labels class-major, as the episode sampler lays them out.
  t.support_y = at::arange(S, at::kLong).div(s.shot, "floor").repeat({s.batch, 1});
  t.query_y = at::arange(Q, at::kLong).div(s.query, "floor").repeat({s.batch, 1});
  return t;
}

int cmd_profile(const Shape& s) {
  at::manual_seed(0);
  mamlpp::MetaLearner model(s.cfg);
  const mamlpp::TaskTensors tasks = synthetic_tasks(s, model.dtype());
  const double flop = step_flops(s).total();
  for (int i = 0; i < 2; ++i) model.meta_train_step(tasks);  // warm-up
  std::vector<double> times;
  for (int i = 0; i < s.iters; ++i) {
    const auto t0 = Clock::now();
    model.meta_train_step(tasks);
    times.push_back(seconds_since(t0));
  }
  const double t = median(times);
  std::printf("%.3f s per step (median of %d), %.1f GFLOP per step, %.1f GFLOP/s (%d task threads, %d intra-op)\n",
              t, s.iters, flop / 1e9, flop / t / 1e9, mamlpp::task_workers(s.cfg, model.device(), s.batch),
              at::get_num_threads());
  if (s.top <= 0) return 0;

  profile_calls([&] { model.meta_train_step(tasks); }, std::max(1, s.iters / 2), s.top, "step");
  return 0;
}

// ---------------------------------------------------------------------------------------------
// adapt: the embedding path, one task at a time, as maml_adapt and maml_predict run it.

double percentile(std::vector<double> v, double p) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[std::min(v.size() - 1, static_cast<size_t>(p * static_cast<double>(v.size())))];
}

int cmd_adapt(Shape s) {
  at::set_num_threads(s.intra);
  at::manual_seed(0);
  s.batch = 1;
  s.query = 20;  // 100 query images for the batch prediction (5-way)
  mamlpp::MetaLearner model(s.cfg);
  const mamlpp::TaskTensors task = synthetic_tasks(s, model.dtype());
  {
    // As `mamlpp bench` measures: after 12 meta-train steps (B = 8) on synthetic pixels. (The
    // untrained initialisation adapted markedly slower, 83 against 50 ms; not investigated.)
    Shape t = s;
    t.batch = 8;
    t.query = 1;
    const mamlpp::TaskTensors batch = synthetic_tasks(t, model.dtype());
    for (int i = 0; i < s.train; ++i) model.meta_train_step(batch);
  }
  mamlpp::TaskTensors support = task;
  support.query_x = support.query_y = at::Tensor();
  const at::Tensor hundred = task.query_x.select(0, 0).narrow(0, 0, std::min<int64_t>(100, task.query_x.size(1)));
  const at::Tensor one = hundred.narrow(0, 0, 1);
  auto time_ms = [&](const std::function<void()>& fn) {
    for (int i = 0; i < 5; ++i) fn();  // warm-up
    std::vector<double> ms;
    for (int i = 0; i < s.calls; ++i) {
      const auto t0 = Clock::now();
      fn();
      ms.push_back(1000.0 * seconds_since(t0));
    }
    return ms;
  };
  std::shared_ptr<const mamlpp::Learner> learner;
  const std::vector<double> adapt = time_ms([&] { learner = model.adapt(support).front(); });
  const std::vector<double> p1 = time_ms([&] { learner->predict(one); });
  const std::vector<double> p100 = time_ms([&] { learner->predict(hundred); });
  const double c = image_flops(s.cfg), adapt_flop = adapt_flops(s.cfg, s.shot);
  std::printf("%d filters, %d intra-op thread(s), %d calls each: adapt (%d-way %d-shot, %d steps, %.2f GFLOP) "
              "median %.2f ms p99 %.2f ms (%.1f GFLOP/s); predict 1 image median %.3f ms p99 %.3f ms; "
              "predict 100 images median %.2f ms p99 %.2f ms (%.1f GFLOP/s)\n",
              s.cfg.num_filters, s.intra, s.calls, s.cfg.n_way, static_cast<int>(s.shot), s.cfg.eval_inner_steps,
              adapt_flop / 1e9, percentile(adapt, 0.5), percentile(adapt, 0.99),
              adapt_flop / percentile(adapt, 0.5) / 1e6, percentile(p1, 0.5), percentile(p1, 0.99),
              percentile(p100, 0.5), percentile(p100, 0.99), 100 * c / percentile(p100, 0.5) / 1e6);
  if (s.top > 0) {
    profile_calls([&] { learner = model.adapt(support).front(); }, 20, s.top, "adaptation");
    profile_calls([&] { learner->predict(one); }, 200, s.top, "1-image prediction");
    profile_calls([&] { learner->predict(hundred); }, 10, s.top, "100-image prediction");
  }
  return 0;
}

[[noreturn]] void usage(const char* msg) {
  std::fprintf(stderr, "mamlpp-perf: %s\nusage: mamlpp-perf peak | flops [flags] | profile [flags] | adapt [flags]\n", msg);
  std::exit(2);
}

}  // namespace

int main(int argc, char** argv) {
  if (argc < 2) usage("which command?");
  const std::string cmd = argv[1];
  Shape s;
  s.cfg.first_order_epochs = 0;
  for (int i = 2; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) usage((a + " needs a value").c_str());
      return argv[++i];
    };
    auto number = [&]() { return std::atoi(value().c_str()); };
    if (a == "--way") s.cfg.n_way = number();
    else if (a == "--shot") s.shot = number();
    else if (a == "--query") s.query = number();
    else if (a == "--batch") s.batch = number();
    else if (a == "--filters") s.cfg.num_filters = number();
    else if (a == "--steps") s.cfg.inner_steps = s.cfg.eval_inner_steps = number();
    else if (a == "--threads") s.cfg.num_threads = number();
    else if (a == "--iters") s.iters = number();
    else if (a == "--top") s.top = number();
    else if (a == "--calls") s.calls = number();
    else if (a == "--intra") s.intra = number();
    else if (a == "--train") s.train = number();
    else if (a == "--first-order") s.cfg.second_order = false;
    else if (a == "--no-msl") s.cfg.multi_step_loss = false;
    else if (a == "--strided") s.cfg.max_pool = false;
    else if (a == "--adapt-last") s.cfg.adapt_last_layers = number();
    else if (a == "--batched") s.cfg.task_batching = mamlpp::TaskBatching::Batched;
    else if (a == "--dtype") s.cfg.dtype = value() == "float64" ? mamlpp::DType::Float64 : mamlpp::DType::Float32;
    else if (a == "--bn-stats") {
      const std::string v = value();
      s.cfg.bn_stats = v == "running" ? mamlpp::BnStats::Running
                       : v == "transductive" ? mamlpp::BnStats::Transductive
                                             : mamlpp::BnStats::Support;
    } else usage(("unknown flag " + a).c_str());
  }
  try {
    if (cmd == "peak") return cmd_peak();
    if (cmd == "flops") return cmd_flops(s);
    if (cmd == "profile") return cmd_profile(s);
    if (cmd == "adapt") return cmd_adapt(s);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "mamlpp-perf: %s\n", e.what());
    return 1;
  }
  usage(("unknown command " + cmd).c_str());
}
