// The learned per-layer, per-step inner learning rates (LSLR) as a picture: a self-contained SVG
// (no scripts, no external fonts or files) with a line chart (one line per adapted tensor across
// inner steps, a legend, axes, the initial rate marked) above a heatmap (rows = tensors,
// columns = steps, values written in the cells, with a colour bar).
#pragma once

#include <cstdint>
#include <string>
#include <vector>

namespace mamlpp::cli {

struct LslrChart {
  std::string title;
  std::string subtitle;
  std::vector<std::string> names;  // adapted tensors, in table order
  int32_t steps = 0;
  std::vector<float> rates;        // row-major [tensor][step]
  float initial = 0;               // the configured inner_lr
};

std::string lslr_svg(const LslrChart& chart);

// "&", "<", ">", quotes escaped for XML text and attributes.
std::string xml_escape(const std::string& s);

}  // namespace mamlpp::cli
