// The per-epoch metrics file: CSV (.csv) or JSON lines (.jsonl, .ndjson, .json), chosen by the
// file's extension. The file is rewritten whole, atomically, from the run's history (kept in
// state.json) after every epoch, so after a crash and --resume it never holds a half-written or
// duplicated row.
#pragma once

#include <string>
#include <vector>

#include <nlohmann/json.hpp>

namespace mamlpp::cli {

// The columns, in order: epoch, step, train_loss, train_acc, val_loss, val_acc, meta_lr,
// second_order, seconds, wait_seconds.
const std::vector<std::string>& metrics_columns();

enum class MetricsFormat { Csv, JsonLines };
MetricsFormat metrics_format(const std::string& path);

std::string format_metrics(const std::vector<nlohmann::json>& rows, MetricsFormat format);
// Atomic rewrite; errors are CliError(kExitModel) naming the path.
void write_metrics(const std::string& path, const std::vector<nlohmann::json>& rows);

}  // namespace mamlpp::cli
