#include "cli/progress.hpp"

#include <unistd.h>

#include <algorithm>
#include <cmath>
#include <cstdio>

namespace mamlpp::cli {

std::string format_duration(double seconds) {
  if (!std::isfinite(seconds) || seconds < 0) return "?";
  const auto s = static_cast<int64_t>(seconds + 0.5);
  char buf[32];
  if (s >= 3600)
    std::snprintf(buf, sizeof buf, "%lld:%02lld:%02lld", static_cast<long long>(s / 3600),
                  static_cast<long long>(s / 60 % 60), static_cast<long long>(s % 60));
  else
    std::snprintf(buf, sizeof buf, "%lld:%02lld", static_cast<long long>(s / 60), static_cast<long long>(s % 60));
  return buf;
}

Progress::Progress(int64_t start_step, int64_t total_steps, int32_t iters_per_epoch, int32_t epochs,
                   int32_t log_every, bool enabled)
    : start_step_(start_step),
      total_steps_(total_steps),
      iters_per_epoch_(std::max(1, iters_per_epoch)),
      epochs_(epochs),
      log_every_(log_every > 0 ? log_every : std::max(1, std::min(100, iters_per_epoch / 5))),
      enabled_(enabled),
      tty_(::isatty(STDERR_FILENO) == 1),
      last_step_(start_step),
      start_(std::chrono::steady_clock::now()),
      last_draw_() {}

Progress::~Progress() { clear(); }

double Progress::rate() const {
  const double dt = std::chrono::duration<double>(std::chrono::steady_clock::now() - start_).count();
  return dt > 0 ? static_cast<double>(last_step_ - start_step_) / dt : 0.0;
}

std::string Progress::render(int64_t step, double loss, double accuracy, double wait_seconds) const {
  const int64_t epoch = std::min<int64_t>(epochs_, (std::max<int64_t>(step, 1) - 1) / iters_per_epoch_ + 1);
  const int64_t in_epoch = step - (epoch - 1) * iters_per_epoch_;
  const double r = rate();
  const double eta = r > 0 ? static_cast<double>(total_steps_ - step) / r : NAN;
  char buf[256];
  // Regression has no accuracy (NaN): the loss is its mean squared error.
  char acc[32];
  if (std::isnan(accuracy)) std::snprintf(acc, sizeof acc, "(mse)");
  else std::snprintf(acc, sizeof acc, "acc %5.1f%%", 100.0 * accuracy);
  if (tty_) {
    const int width = 20;
    const int filled = static_cast<int>(width * in_epoch / iters_per_epoch_);
    std::string bar(static_cast<size_t>(filled), '#');
    bar.append(static_cast<size_t>(width - filled), '-');
    std::snprintf(buf, sizeof buf, "epoch %lld/%d [%s] %lld/%d  loss %.4f  %s  %.2f it/s  ETA %s  wait %.1fs",
                  static_cast<long long>(epoch), epochs_, bar.c_str(), static_cast<long long>(in_epoch),
                  iters_per_epoch_, loss, acc, r, format_duration(eta).c_str(), wait_seconds);
  } else {
    std::snprintf(buf, sizeof buf, "epoch %lld/%d step %lld/%lld  loss %.4f  %s  %.2f it/s  ETA %s  wait %.1fs",
                  static_cast<long long>(epoch), epochs_, static_cast<long long>(step),
                  static_cast<long long>(total_steps_), loss, acc, r, format_duration(eta).c_str(),
                  wait_seconds);
  }
  return buf;
}

void Progress::update(int64_t step, double loss, double accuracy, double wait_seconds) {
  last_step_ = step;
  if (!enabled_) return;
  const auto now = std::chrono::steady_clock::now();
  if (tty_) {
    if (step != total_steps_ && bar_shown_ && now - last_draw_ < std::chrono::milliseconds(100)) return;
    last_draw_ = now;
    std::fprintf(stderr, "\r\033[K%s", render(step, loss, accuracy, wait_seconds).c_str());
    std::fflush(stderr);
    bar_shown_ = true;
  } else if ((step - start_step_) % log_every_ == 0 || step == total_steps_) {
    std::fprintf(stderr, "%s\n", render(step, loss, accuracy, wait_seconds).c_str());
    std::fflush(stderr);
  }
}

void Progress::clear() {
  if (bar_shown_) {
    std::fprintf(stderr, "\r\033[K");
    std::fflush(stderr);
    bar_shown_ = false;
  }
}

void Progress::line(const std::string& text) {
  clear();
  std::fprintf(stderr, "%s\n", text.c_str());
  std::fflush(stderr);
}

}  // namespace mamlpp::cli
