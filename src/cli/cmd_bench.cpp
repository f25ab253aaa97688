// mamlpp bench: how fast meta-training, adaptation and prediction run on this machine, for the
// MAML++ paper's standard shapes (synthetic pixels), with each inner-loop path (task_batching).
// Each (config, path) pair runs in a fresh child process so that its peak memory is its own.
#include <CLI/CLI.hpp>

#include <spawn.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cerrno>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <memory>
#include <sstream>

#include "cli/commands.hpp"
#include "cli/errors.hpp"
#include "cli/machine_info.hpp"
#include "cli/model.hpp"
#include "cli/settings.hpp"
#include "data/rng.hpp"

extern char** environ;

namespace mamlpp::cli {
namespace {

namespace fs = std::filesystem;
using json = nlohmann::json;
using Clock = std::chrono::steady_clock;

struct BenchConfig {
  std::string name, what;
  int32_t n_way, k_shot, q_query, batch, filters, channels, size;
};

const std::vector<BenchConfig>& bench_configs() {
  static const std::vector<BenchConfig> c = {
      {"omniglot-5w1s", "Omniglot 5-way 1-shot", 5, 1, 1, 8, 64, 1, 28},
      {"omniglot-20w1s", "Omniglot 20-way 1-shot", 20, 1, 1, 16, 64, 1, 28},
      {"mini-5w1s", "Mini-ImageNet 5-way 1-shot", 5, 1, 15, 2, 48, 3, 84},
  };
  return c;
}

struct BenchOptions {
  std::vector<std::string> configs = {"omniglot-5w1s", "omniglot-20w1s", "mini-5w1s"};
  std::vector<std::string> batching = {"loop", "batched"};  // add "auto" to see the choice
  std::string device = "auto";
  int32_t warmup = 1, iters = 2, adapt_iters = 5, predict_iters = 20, threads = 0;
  int32_t batch_size = 0;            // 0 = each config's own B
  std::string bn_stats = "support";  // the library's default
  bool first_order = false;
  bool cuda_nondeterministic = false;
  bool in_process = false;
  std::string json_out;
  std::string child_out;  // internal: run one pair and write its result here
};

int32_t batching_value(const std::string& b) {
  return b == "loop" ? MAML_TASKS_LOOP : b == "batched" ? MAML_TASKS_BATCHED : MAML_TASKS_AUTO;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  return v.empty() ? 0.0 : v[v.size() / 2];
}

json run_one(const BenchOptions& o, BenchConfig bc, const std::string& batching) {
  if (o.batch_size > 0) bc.batch = o.batch_size;
  const double rss_start = current_rss_mib();
  // GPU memory: start this run's peak window (a fresh child's window starts at zero anyway). A
  // library built without the allocator statistics (MAML_E_UNSUPPORTED) reports none.
  const bool gpu = o.device != "cpu" && maml_cuda_device_count() > 0 &&
                   maml_cuda_memory(0, 1, nullptr, nullptr) == MAML_OK;
  maml_config cfg;
  maml_config_init(&cfg);
  cfg.n_way = bc.n_way;
  cfg.image_channels = bc.channels;
  cfg.image_height = cfg.image_width = bc.size;
  cfg.num_filters = bc.filters;
  cfg.inner_steps = cfg.eval_inner_steps = 5;
  cfg.second_order = o.first_order ? 0 : 1;
  cfg.first_order_epochs = 0;
  cfg.multi_step_loss = 1;
  cfg.task_batching = batching_value(batching);
  cfg.bn_stats = o.bn_stats == "running" ? MAML_BN_RUNNING
                 : o.bn_stats == "transductive" ? MAML_BN_TRANSDUCTIVE
                                                 : MAML_BN_SUPPORT;
  cfg.device_type = o.device == "cpu" ? MAML_DEVICE_CPU : o.device == "cuda" ? MAML_DEVICE_CUDA : MAML_DEVICE_AUTO;
  cfg.num_threads = o.threads;
  const Model model = Model::create(cfg);

  // Synthetic pixels: uniform noise, labels class-major as the episode sampler lays them out.
  const int64_t numel = int64_t{bc.channels} * bc.size * bc.size;
  const int32_t S = bc.n_way * bc.k_shot, Q = bc.n_way * bc.q_query;
  std::vector<float> sx(static_cast<size_t>(bc.batch) * S * numel), qx(static_cast<size_t>(bc.batch) * Q * numel);
  std::vector<int32_t> sy(static_cast<size_t>(bc.batch) * S), qy(static_cast<size_t>(bc.batch) * Q);
  data::Rng rng(42);
  for (float& v : sx) v = rng.uniform();
  for (float& v : qx) v = rng.uniform();
  for (int32_t t = 0; t < bc.batch; ++t) {
    for (int32_t i = 0; i < S; ++i) sy[static_cast<size_t>(t * S + i)] = i / bc.k_shot;
    for (int32_t i = 0; i < Q; ++i) qy[static_cast<size_t>(t * Q + i)] = i / bc.q_query;
  }
  maml_tasks tasks{};
  tasks.struct_size = sizeof tasks;
  tasks.num_tasks = bc.batch;
  tasks.support_size = S;
  tasks.query_size = Q;
  tasks.support_x = sx.data();
  tasks.support_y = sy.data();
  tasks.query_x = qx.data();
  tasks.query_y = qy.data();

  maml_metrics m{};
  m.struct_size = sizeof m;
  for (int32_t i = 0; i < o.warmup; ++i) check(maml_meta_train_step(model.get(), &tasks, &m), "warm-up step");
  auto t0 = Clock::now();
  for (int32_t i = 0; i < o.iters; ++i) check(maml_meta_train_step(model.get(), &tasks, &m), "timed step");
  const double train_s = std::chrono::duration<double>(Clock::now() - t0).count();
  const double s_per_step = o.iters > 0 ? train_s / o.iters : 0.0;

  // Adaptation latency: one task's support set, eval_inner_steps (5) steps.
  std::vector<double> adapt_ms;
  LearnerPtr learner = model.adapt(sx.data(), sy.data(), S);  // warm-up
  for (int32_t i = 0; i < o.adapt_iters; ++i) {
    t0 = Clock::now();
    learner = model.adapt(sx.data(), sy.data(), S);
    adapt_ms.push_back(1000.0 * std::chrono::duration<double>(Clock::now() - t0).count());
  }
  // Prediction latency: one image.
  std::vector<float> logits(static_cast<size_t>(bc.n_way));
  std::vector<double> predict_ms;
  check(maml_predict(learner.get(), qx.data(), 1, logits.data(), nullptr), "warm-up prediction");
  for (int32_t i = 0; i < o.predict_iters; ++i) {
    t0 = Clock::now();
    check(maml_predict(learner.get(), qx.data(), 1, logits.data(), nullptr), "prediction");
    predict_ms.push_back(1000.0 * std::chrono::duration<double>(Clock::now() - t0).count());
  }

  json r;
  r["config"] = bc.name;
  r["description"] = bc.what;
  r["task_batching"] = batching;
  r["device"] = model.device_name();
  r["n_way"] = bc.n_way;
  r["k_shot"] = bc.k_shot;
  r["q_query"] = bc.q_query;
  r["batch_size"] = bc.batch;
  r["num_filters"] = bc.filters;
  r["image"] = std::to_string(bc.channels) + "x" + std::to_string(bc.size) + "x" + std::to_string(bc.size);
  r["inner_steps"] = 5;
  r["bn_stats"] = o.bn_stats;
  r["second_order"] = !o.first_order;
  r["warmup_steps"] = o.warmup;
  r["timed_steps"] = o.iters;
  r["seconds_per_step"] = s_per_step;
  r["steps_per_second"] = s_per_step > 0 ? 1.0 / s_per_step : 0.0;
  r["tasks_per_second"] = s_per_step > 0 ? bc.batch / s_per_step : 0.0;
  r["query_images_per_second"] = s_per_step > 0 ? static_cast<double>(bc.batch) * Q / s_per_step : 0.0;
  r["images_per_second"] = s_per_step > 0 ? static_cast<double>(bc.batch) * (S + Q) / s_per_step : 0.0;
  r["adapt_support_images"] = S;
  r["adapt_ms_median"] = median(adapt_ms);
  r["predict_one_ms_median"] = median(predict_ms);
  r["peak_rss_mib"] = peak_rss_mib();
  r["start_rss_mib"] = rss_start;
  // On the CPU the device's memory is the host's: peak_rss_mib covers it.
  r["peak_device_mib"] = nullptr;
  int64_t peak = 0;
  if (gpu && model.device_name() != "cpu" && maml_cuda_memory(0, 0, nullptr, &peak) == MAML_OK)
    r["peak_device_mib"] = static_cast<double>(peak) / (1024.0 * 1024.0);
  return r;
}

// Runs `mamlpp bench --child FILE ...` for one pair and reads its result.
json run_child(const BenchOptions& o, const std::string& config, const std::string& batching) {
  char templ[] = "/tmp/mamlpp-bench-XXXXXX";
  const int fd = ::mkstemp(templ);
  if (fd < 0) throw runtime_failure("cannot create a temporary file under /tmp");
  ::close(fd);
  const std::string out = templ;
  std::vector<std::string> args = {"mamlpp",   "bench",      "--child",   out,        "--configs",
                                   config,     "--batching", batching,    "--device", o.device,
                                   "--warmup", std::to_string(o.warmup), "--iters", std::to_string(o.iters),
                                   "--adapt-iters", std::to_string(o.adapt_iters), "--predict-iters",
                                   std::to_string(o.predict_iters), "--threads", std::to_string(o.threads),
                                   "--batch-size", std::to_string(o.batch_size), "--bn-stats", o.bn_stats};
  if (o.first_order) args.push_back("--first-order");
  if (o.cuda_nondeterministic) args.push_back("--cuda-nondeterministic");
  std::vector<char*> argv;
  for (std::string& a : args) argv.push_back(a.data());
  argv.push_back(nullptr);
  pid_t pid = 0;
  const int rc = ::posix_spawn(&pid, "/proc/self/exe", nullptr, nullptr, argv.data(), environ);
  if (rc != 0) {
    std::remove(out.c_str());
    throw runtime_failure("cannot start a benchmark process (posix_spawn: " + std::string(std::strerror(rc)) + ")");
  }
  int status = 0;
  while (::waitpid(pid, &status, 0) < 0 && errno == EINTR) {
  }
  json r;
  std::ifstream in(out);
  if (WIFEXITED(status) && WEXITSTATUS(status) == 0 && in) {
    in >> r;
  } else {
    r = {{"config", config}, {"task_batching", batching},
         {"error", WIFSIGNALED(status) ? "killed by signal " + std::to_string(WTERMSIG(status))
                                       : "exit code " + std::to_string(WEXITSTATUS(status))}};
  }
  std::remove(out.c_str());
  return r;
}

void print_header() {
  std::printf("%-15s %-8s %-7s %8s %8s %8s %11s %9s %10s %8s %8s\n", "config", "batching", "device", "steps/s",
              "s/step", "tasks/s", "query img/s", "adapt ms", "predict ms", "peak MiB", "dev MiB");
  std::fflush(stdout);
}

void print_row(const json& r) {
  if (r.contains("error")) {
    std::printf("%-15s %-8s failed: %s\n", r.value("config", "?").c_str(), r.value("task_batching", "?").c_str(),
                r.value("error", "?").c_str());
  } else {
    const json& dev = r["peak_device_mib"];
    const std::string dev_mib = dev.is_number() ? std::to_string(static_cast<long long>(dev.get<double>() + 0.5)) : "-";
    std::printf("%-15s %-8s %-7s %8.3f %8.2f %8.2f %11.1f %9.1f %10.2f %8.0f %8s\n", r["config"].get<std::string>().c_str(),
                r["task_batching"].get<std::string>().c_str(), r["device"].get<std::string>().c_str(),
                r["steps_per_second"].get<double>(), r["seconds_per_step"].get<double>(),
                r["tasks_per_second"].get<double>(), r["query_images_per_second"].get<double>(),
                r["adapt_ms_median"].get<double>(), r["predict_one_ms_median"].get<double>(),
                r["peak_rss_mib"].get<double>(), dev_mib.c_str());
  }
  std::fflush(stdout);
}

int run_bench(const BenchOptions& o) {
  for (const std::string& c : o.configs) {
    if (std::none_of(bench_configs().begin(), bench_configs().end(), [&](const BenchConfig& b) { return b.name == c; }))
      throw usage_error("--configs: unknown config '" + c + "'; known: omniglot-5w1s, omniglot-20w1s, mini-5w1s");
  }
  constexpr int32_t kMaxIters = 1000000;
  const std::string range = " must be in [1, " + std::to_string(kMaxIters) + "]";
  if (o.warmup < 0 || o.warmup > kMaxIters) throw usage_error("--warmup must be in [0, " + std::to_string(kMaxIters) + "]");
  if (o.iters < 1 || o.iters > kMaxIters) throw usage_error("--iters" + range);
  if (o.adapt_iters < 1 || o.adapt_iters > kMaxIters) throw usage_error("--adapt-iters" + range);
  if (o.predict_iters < 1 || o.predict_iters > kMaxIters) throw usage_error("--predict-iters" + range);
  if (o.batch_size < 0 || o.batch_size > kMaxBatch)
    throw usage_error("--batch-size must be in [0, " + std::to_string(kMaxBatch) + "] (0 = each config's own)");
  if (o.cuda_nondeterministic) maml_set_cuda_deterministic(0);
  if (!o.child_out.empty()) {
    const BenchConfig& bc = *std::find_if(bench_configs().begin(), bench_configs().end(),
                                          [&](const BenchConfig& b) { return b.name == o.configs.front(); });
    const json r = run_one(o, bc, o.batching.front());
    std::ofstream out(o.child_out);
    out << r.dump() << "\n";
    return out ? kExitOk : kExitRuntime;
  }

  std::printf("mamlpp bench: %s, %d hardware threads, libmamlpp %s, %d CUDA device(s); %d warm-up + %d timed "
              "meta-train steps, %s, 5 inner steps, MSL; synthetic pixels\n",
              cpu_model().c_str(), hardware_threads(), maml_version_string(), maml_cuda_device_count(), o.warmup,
              o.iters, o.first_order ? "first order" : "second order");
  print_header();
  json results = json::array();
  bool failed = false;
  for (const std::string& c : o.configs) {
    for (const std::string& b : o.batching) {
      json r;
      if (o.in_process) {
        const BenchConfig& bc = *std::find_if(bench_configs().begin(), bench_configs().end(),
                                              [&](const BenchConfig& x) { return x.name == c; });
        try {
          r = run_one(o, bc, b);
        } catch (const CliError& e) {
          r = {{"config", c}, {"task_batching", b}, {"error", e.what()}};
        }
      } else {
        r = run_child(o, c, b);
      }
      failed = failed || r.contains("error");
      print_row(r);
      results.push_back(r);
    }
  }
  std::printf("(steps/s: meta-train steps; query img/s = B * N * Q per second; adapt: one task's support set, 5 steps; "
              "predict: one image; peak: max resident memory of %s; dev: peak GPU memory held by tensors, '-' on the CPU)\n",
              o.in_process ? "this process so far" : "each run's own process");
  if (!o.json_out.empty()) {
    json j = {{"machine",
               {{"cpu_model", cpu_model()},
                {"hardware_threads", hardware_threads()},
                {"host", host_name()},
                {"cuda_devices", maml_cuda_device_count()},
                {"device_requested", o.device},
                {"library_version", maml_version_string()}}},
              {"settings",
               {{"warmup_steps", o.warmup},
                {"timed_steps", o.iters},
                {"adapt_iters", o.adapt_iters},
                {"predict_iters", o.predict_iters},
                {"num_threads", o.threads},
                {"second_order", !o.first_order},
                {"isolated_processes", !o.in_process}}},
              {"results", results}};
    write_json_file(o.json_out, j);
    std::printf("wrote %s\n", o.json_out.c_str());
  }
  if (failed) throw runtime_failure("some benchmark runs failed (see the table)");
  return kExitOk;
}

}  // namespace

Command add_bench_command(CLI::App& root) {
  auto o = std::make_shared<BenchOptions>();
  CLI::App* app = root.add_subcommand(
      "bench", "Meta-train steps/s, adaptation and prediction latency, peak memory for the paper's shapes");
  app->add_option("--configs", o->configs, "omniglot-5w1s (B=8, 64 filters), omniglot-20w1s (B=16), mini-5w1s (3x84x84, 48 filters, B=2, 15 queries)")
      ->delimiter(',')
      ->capture_default_str();
  app->add_option("--batching", o->batching, "inner-loop paths (task_batching): loop, batched, auto")
      ->delimiter(',')
      ->check(CLI::IsMember({"loop", "batched", "auto"}))
      ->capture_default_str();
  app->add_option("--device", o->device, "where to compute")->check(CLI::IsMember({"auto", "cpu", "cuda"}))->capture_default_str();
  app->add_option("--warmup", o->warmup, "untimed meta-train steps first")->capture_default_str();
  app->add_option("--iters", o->iters, "timed meta-train steps")->capture_default_str();
  app->add_option("--adapt-iters", o->adapt_iters, "timed adaptations (median reported)")->capture_default_str();
  app->add_option("--predict-iters", o->predict_iters, "timed one-image predictions (median reported)")->capture_default_str();
  app->add_option("--threads", o->threads, "num_threads for the model (0 = all cores)")->capture_default_str();
  app->add_option("--batch-size", o->batch_size, "tasks per meta-batch for every config (0 = each config's own B)")
      ->capture_default_str();
  app->add_option("--bn-stats", o->bn_stats, "bn_stats of the models")
      ->check(CLI::IsMember({"support", "running", "transductive"}))
      ->capture_default_str();
  app->add_flag("--first-order", o->first_order, "first-order meta-gradients (default: second order)");
  app->add_flag("--cuda-nondeterministic", o->cuda_nondeterministic,
                "let cuDNN use its nondeterministic algorithms (maml_set_cuda_deterministic(0))");
  app->add_flag("--in-process", o->in_process, "run everything in this process (peak memory is then cumulative)");
  app->add_option("--json", o->json_out, "write all figures and machine info to this JSON file")->type_name("FILE");
  app->add_option("--child", o->child_out, "internal: run one config/path and write its result here")
      ->group("");  // hidden
  app->footer("Example:\n  mamlpp bench --configs omniglot-5w1s --batching loop,batched --iters 5 --json bench.json");
  return {app, [o] { return run_bench(*o); }};
}

}  // namespace mamlpp::cli
