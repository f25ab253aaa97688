#include "cli/trainer.hpp"

#include "cli/errors.hpp"
#include "cli/signals.hpp"
#include "cli/task_eval.hpp"

namespace mamlpp::cli {

StepTotals train_steps(const Model& model, data::Prefetcher& prefetch, int64_t until, Progress* progress,
                       const std::function<std::string()>& on_numerical,
                       const std::function<std::string(int64_t)>& on_interrupt) {
  StepTotals totals;
  data::MetaBatch batch;
  int64_t step = model.step();
  while (step < until) {
    if (stop_requested()) throw CliError(kExitInterrupted, on_interrupt(step));
    const bool got = with_data_errors("", [&] { return prefetch.next(batch); });
    if (!got) throw runtime_failure("the data stream ended early at step " + std::to_string(step));
    const maml_tasks tasks = as_tasks(batch);
    maml_metrics m{};
    m.struct_size = sizeof(maml_metrics);
    const maml_status s = maml_meta_train_step(model.get(), &tasks, &m);
    if (s == MAML_E_NUMERICAL) {
      const std::string why = maml_last_error();
      throw runtime_failure("meta-train step " + std::to_string(step + 1) +
                            " produced a non-finite loss or gradient and was refused (libmamlpp: " + why + "). " +
                            (on_numerical ? on_numerical() : std::string()));
    }
    check(s, "meta-train step " + std::to_string(step + 1));
    step = m.step;
    ++totals.steps;
    totals.loss_sum += m.loss;
    totals.acc_sum += m.accuracy;
    totals.last_meta_lr = m.meta_lr;
    totals.last_second_order = m.second_order != 0;
    if (progress) progress->update(step, totals.mean_loss(), totals.mean_acc(), prefetch.wait_stats().total_seconds);
  }
  return totals;
}

}  // namespace mamlpp::cli
