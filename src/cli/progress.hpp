// Training progress on stderr. On a terminal: one line redrawn in place (at most 10 times a
// second) with the epoch, a bar, loss, accuracy, iterations per second and the ETA. Otherwise
// (a log file, a pipe, CI): one plain line every `log_every` steps.
#pragma once

#include <chrono>
#include <cstdint>
#include <string>

namespace mamlpp::cli {

// "1:02:03", "12:34" or "0:05".
std::string format_duration(double seconds);

class Progress {
 public:
  // total_steps: the run's last step; start_step: where this process started (for the rate).
  Progress(int64_t start_step, int64_t total_steps, int32_t iters_per_epoch, int32_t epochs,
           int32_t log_every, bool enabled = true);
  ~Progress();

  // After each step: steps completed so far (the model's counter), the running means of this
  // epoch's loss and accuracy, and the total time spent waiting for data.
  void update(int64_t step, double loss, double accuracy, double wait_seconds);
  // Prints a full line (an epoch summary, a note) without garbling the bar.
  void line(const std::string& text);
  // Clears the bar (before other output).
  void clear();
  bool tty() const { return tty_; }
  double rate() const;  // steps per second in this process

 private:
  std::string render(int64_t step, double loss, double accuracy, double wait_seconds) const;

  int64_t start_step_, total_steps_;
  int32_t iters_per_epoch_, epochs_, log_every_;
  bool enabled_, tty_;
  bool bar_shown_ = false;
  int64_t last_step_;
  std::chrono::steady_clock::time_point start_, last_draw_;
};

}  // namespace mamlpp::cli
