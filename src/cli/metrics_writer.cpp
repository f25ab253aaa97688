#include "cli/metrics_writer.hpp"

#include <cstdio>
#include <sstream>

#include "cli/errors.hpp"
#include "io/file.hpp"

namespace mamlpp::cli {

const std::vector<std::string>& metrics_columns() {
  static const std::vector<std::string> c = {"epoch",   "step",    "train_loss",   "train_acc",
                                              "val_loss", "val_acc", "meta_lr",      "second_order",
                                              "seconds", "wait_seconds"};
  return c;
}

MetricsFormat metrics_format(const std::string& path) {
  const auto dot = path.rfind('.');
  const std::string ext = dot == std::string::npos ? "" : path.substr(dot);
  return ext == ".csv" ? MetricsFormat::Csv : MetricsFormat::JsonLines;
}

namespace {

std::string csv_value(const nlohmann::json& v) {
  if (v.is_null()) return "";
  if (v.is_boolean()) return v.get<bool>() ? "1" : "0";
  if (v.is_number_float()) {
    char buf[32];
    std::snprintf(buf, sizeof buf, "%.6g", v.get<double>());
    return buf;
  }
  if (v.is_string()) return v.get<std::string>();
  return v.dump();
}

}  // namespace

std::string format_metrics(const std::vector<nlohmann::json>& rows, MetricsFormat format) {
  std::ostringstream o;
  const auto& cols = metrics_columns();
  if (format == MetricsFormat::Csv) {
    for (size_t i = 0; i < cols.size(); ++i) o << (i ? "," : "") << cols[i];
    o << "\n";
    for (const auto& r : rows) {
      for (size_t i = 0; i < cols.size(); ++i) o << (i ? "," : "") << csv_value(r.value(cols[i], nlohmann::json()));
      o << "\n";
    }
  } else {
    for (const auto& r : rows) {
      // Columns in their documented order (nlohmann::json would sort the keys).
      o << "{";
      for (size_t i = 0; i < cols.size(); ++i)
        o << (i ? "," : "") << nlohmann::json(cols[i]).dump() << ":" << r.value(cols[i], nlohmann::json()).dump();
      o << "}\n";
    }
  }
  return o.str();
}

void write_metrics(const std::string& path, const std::vector<nlohmann::json>& rows) {
  const std::string text = format_metrics(rows, metrics_format(path));
  with_model_errors("metrics file", [&] {
    io::atomic_write_file(path, reinterpret_cast<const uint8_t*>(text.data()), text.size());
  });
}

}  // namespace mamlpp::cli
