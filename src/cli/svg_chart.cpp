#include "cli/svg_chart.hpp"

#include <algorithm>
#include <cctype>
#include <cmath>
#include <cstdio>
#include <sstream>

namespace mamlpp::cli {
namespace {

struct Rgb {
  double r, g, b;
};

std::string hex(const Rgb& c) {
  char buf[8];
  auto ch = [](double v) { return static_cast<int>(std::lround(std::clamp(v, 0.0, 1.0) * 255)); };
  std::snprintf(buf, sizeof buf, "#%02x%02x%02x", ch(c.r), ch(c.g), ch(c.b));
  return buf;
}

Rgb lerp(const Rgb& a, const Rgb& b, double t) {
  return {a.r + (b.r - a.r) * t, a.g + (b.g - a.g) * t, a.b + (b.b - a.b) * t};
}

Rgb ramp(const std::vector<Rgb>& anchors, double t) {
  t = std::clamp(t, 0.0, 1.0) * static_cast<double>(anchors.size() - 1);
  const auto i = std::min(static_cast<size_t>(t), anchors.size() - 2);
  return lerp(anchors[i], anchors[i + 1], t - static_cast<double>(i));
}

// viridis, sampled.
const std::vector<Rgb> kSequential = {{0.267, 0.005, 0.329}, {0.230, 0.322, 0.546}, {0.128, 0.567, 0.551},
                                      {0.369, 0.789, 0.383}, {0.993, 0.906, 0.144}};
// blue - white - red, for tables with negative rates (centred at 0).
const std::vector<Rgb> kDiverging = {{0.129, 0.400, 0.675}, {0.573, 0.773, 0.871}, {0.969, 0.969, 0.969},
                                     {0.957, 0.647, 0.510}, {0.698, 0.094, 0.169}};
// Tableau 10, one colour per stage (and the head).
const char* const kPalette[] = {"#1f77b4", "#ff7f0e", "#2ca02c", "#d62728", "#9467bd",
                                "#8c564b", "#e377c2", "#7f7f7f", "#bcbd22", "#17becf"};

std::string num(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f", v);
  return buf;
}

std::string value_text(double v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.3g", v);
  return buf;
}

// Round tick spacing (1, 2 or 5 x 10^k) for about `target` ticks over [lo, hi].
double nice_step(double lo, double hi, int target) {
  const double raw = (hi - lo) / std::max(1, target);
  if (!(raw > 0)) return 1;
  const double mag = std::pow(10.0, std::floor(std::log10(raw)));
  const double f = raw / mag;
  return (f < 1.5 ? 1 : f < 3.5 ? 2 : f < 7.5 ? 5 : 10) * mag;
}

std::string short_name(const std::string& n) {
  const std::string prefix = "backbone.";
  return n.rfind(prefix, 0) == 0 ? n.substr(prefix.size()) : n;
}

// The colour group of a tensor: its stage number, or the head after the last stage.
size_t group_of(const std::string& name, size_t fallback) {
  const auto p = name.find("stage");
  if (p != std::string::npos) {
    size_t i = p + 5, v = 0;
    bool any = false;
    while (i < name.size() && std::isdigit(static_cast<unsigned char>(name[i]))) {
      v = v * 10 + static_cast<size_t>(name[i] - '0');
      ++i;
      any = true;
    }
    if (any) return v;
  }
  return fallback;
}

}  // namespace

std::string xml_escape(const std::string& s) {
  std::string o;
  for (char c : s) {
    switch (c) {
      case '&': o += "&amp;"; break;
      case '<': o += "&lt;"; break;
      case '>': o += "&gt;"; break;
      case '"': o += "&quot;"; break;
      case '\'': o += "&apos;"; break;
      default:
        if (static_cast<unsigned char>(c) < 0x20 && c != '\n' && c != '\t') o += '?';
        else o += c;
    }
  }
  return o;
}

namespace {

// The SVG in four parts (title, line chart with its legend, heatmap, colour bar), each written by
// one member from the chart, the value range and the page geometry worked out once.
class LslrSvg {
 public:
  explicit LslrSvg(const LslrChart& c) : c_(c), rows_(c.names.size()), steps_(std::max<int32_t>(1, c.steps)) {
    find_range();
    find_groups();
    lay_out();
  }

  std::string write() {
    write_title();
    write_line_chart();
    write_heatmap();
    o_ << "</svg>\n";
    return o_.str();
  }

 private:
  double at(size_t r, int32_t s) const {
    return static_cast<double>(c_.rates[r * static_cast<size_t>(steps_) + static_cast<size_t>(s)]);
  }
  bool is_bias(const std::string& name) const {
    return name.size() >= 4 && name.compare(name.size() - 4, 4, "bias") == 0;
  }
  // Colour group: stages first, then the head.
  size_t group(const std::string& name) const {
    return name.find("stage") != std::string::npos ? group_of(name, 0) : head_group_;
  }

  void find_range() {
    lo_ = hi_ = c_.initial;
    for (float v : c_.rates) {
      lo_ = std::min(lo_, static_cast<double>(v));
      hi_ = std::max(hi_, static_cast<double>(v));
    }
    negative_ = lo_ < 0;
  }

  void find_groups() {
    size_t max_group = 0;
    for (const auto& n : c_.names)
      if (n.find("stage") != std::string::npos) max_group = std::max(max_group, group_of(n, 0));
    head_group_ = max_group + 1;
  }

  void lay_out() {
    cell_w_ = std::min(90.0, (kWidth - heat_x0_ - 40) / steps_);
    heat_y1_ = kHeatY0 + kCellH * static_cast<double>(rows_);
    height_ = heat_y1_ + 110;
    // The line chart's value axis: the range, widened when flat, rounded out to whole ticks.
    y_lo_ = lo_;
    y_hi_ = hi_;
    if (y_hi_ - y_lo_ < 1e-9) {
      y_lo_ -= std::max(1e-3, std::fabs(y_lo_) * 0.1);
      y_hi_ += std::max(1e-3, std::fabs(y_hi_) * 0.1);
    }
    tick_ = nice_step(y_lo_, y_hi_, 6);
    y_lo_ = std::floor(y_lo_ / tick_) * tick_;
    y_hi_ = std::ceil(y_hi_ / tick_) * tick_;
  }

  double X(double s) const {
    return steps_ == 1 ? (kChartX0 + kChartX1) / 2 : kChartX0 + 20 + (kChartX1 - kChartX0 - 40) * s / (steps_ - 1);
  }
  double Y(double v) const { return kChartY1 - (kChartY1 - kChartY0) * (v - y_lo_) / (y_hi_ - y_lo_); }

  void write_title() {
    o_ << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
    o_ << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << num(kWidth) << "\" height=\"" << num(height_)
       << "\" viewBox=\"0 0 " << num(kWidth) << " " << num(height_) << "\" font-family=\"Helvetica, Arial, sans-serif\">\n";
    o_ << "<rect x=\"0\" y=\"0\" width=\"" << num(kWidth) << "\" height=\"" << num(height_) << "\" fill=\"white\"/>\n";
    o_ << "<text x=\"" << num(kWidth / 2) << "\" y=\"32\" font-size=\"20\" text-anchor=\"middle\" font-weight=\"bold\">"
       << xml_escape(c_.title) << "</text>\n";
    o_ << "<text x=\"" << num(kWidth / 2) << "\" y=\"56\" font-size=\"13\" text-anchor=\"middle\" fill=\"#555\">"
       << xml_escape(c_.subtitle) << "</text>\n";
  }

  void write_line_chart() {
    o_ << "<g id=\"line-chart\">\n";
    write_axes();
    for (size_t r = 0; r < rows_; ++r) write_series(r);
    write_legend();
    o_ << "</g>\n";
  }

  // Grid, tick labels, axis lines and titles, the zero line and the initial rate.
  void write_axes() {
    o_ << "<text x=\"" << num(kChartX0) << "\" y=\"" << num(kChartY0 - 14) << "\" font-size=\"14\" font-weight=\"bold\">"
       << "Inner learning rate per tensor across inner steps</text>\n";
    for (double v = y_lo_; v <= y_hi_ + tick_ * 0.5; v += tick_) {
      const double y = Y(v);
      o_ << "<line x1=\"" << num(kChartX0) << "\" y1=\"" << num(y) << "\" x2=\"" << num(kChartX1) << "\" y2=\"" << num(y)
         << "\" stroke=\"#e5e5e5\"/>\n";
      o_ << "<text x=\"" << num(kChartX0 - 8) << "\" y=\"" << num(y + 4) << "\" font-size=\"11\" text-anchor=\"end\">"
         << value_text(std::fabs(v) < tick_ * 1e-6 ? 0.0 : v) << "</text>\n";
    }
    for (int32_t s = 0; s < steps_; ++s)
      o_ << "<text x=\"" << num(X(s)) << "\" y=\"" << num(kChartY1 + 18) << "\" font-size=\"11\" text-anchor=\"middle\">"
         << s << "</text>\n";
    o_ << "<line x1=\"" << num(kChartX0) << "\" y1=\"" << num(kChartY1) << "\" x2=\"" << num(kChartX1) << "\" y2=\""
       << num(kChartY1) << "\" stroke=\"black\"/>\n";
    o_ << "<line x1=\"" << num(kChartX0) << "\" y1=\"" << num(kChartY0) << "\" x2=\"" << num(kChartX0) << "\" y2=\""
       << num(kChartY1) << "\" stroke=\"black\"/>\n";
    o_ << "<text x=\"" << num((kChartX0 + kChartX1) / 2) << "\" y=\"" << num(kChartY1 + 40)
       << "\" font-size=\"13\" text-anchor=\"middle\">inner step</text>\n";
    o_ << "<text x=\"" << num(kChartX0 - 58) << "\" y=\"" << num((kChartY0 + kChartY1) / 2)
       << "\" font-size=\"13\" text-anchor=\"middle\" transform=\"rotate(-90 " << num(kChartX0 - 58) << " "
       << num((kChartY0 + kChartY1) / 2) << ")\">learning rate</text>\n";
    if (negative_ && y_lo_ < 0 && y_hi_ > 0)
      o_ << "<line x1=\"" << num(kChartX0) << "\" y1=\"" << num(Y(0)) << "\" x2=\"" << num(kChartX1) << "\" y2=\""
         << num(Y(0)) << "\" stroke=\"#444\" stroke-width=\"1\"/>\n";
    o_ << "<line x1=\"" << num(kChartX0) << "\" y1=\"" << num(Y(c_.initial)) << "\" x2=\"" << num(kChartX1)
       << "\" y2=\"" << num(Y(c_.initial)) << "\" stroke=\"#888\" stroke-dasharray=\"2 3\"/>\n";
    o_ << "<text x=\"" << num(kChartX1 - 4) << "\" y=\"" << num(Y(c_.initial) - 5)
       << "\" font-size=\"11\" text-anchor=\"end\" fill=\"#555\" stroke=\"white\" stroke-width=\"3\" "
          "paint-order=\"stroke\">initial inner_lr = " << value_text(c_.initial)
       << "</text>\n";
  }

  // One tensor's rates: a line (dashed for biases) and a marker per step.
  void write_series(size_t r) {
    const std::string& name = c_.names[r];
    const char* colour = kPalette[group(name) % 10];
    const bool bias = is_bias(name);
    o_ << "<g class=\"series\" data-name=\"" << xml_escape(name) << "\">\n";
    if (steps_ > 1) {
      o_ << "<polyline fill=\"none\" stroke=\"" << colour << "\" stroke-width=\"2\""
         << (bias ? " stroke-dasharray=\"6 4\"" : "") << " points=\"";
      for (int32_t s = 0; s < steps_; ++s) o_ << (s ? " " : "") << num(X(s)) << "," << num(Y(at(r, s)));
      o_ << "\"/>\n";
    }
    for (int32_t s = 0; s < steps_; ++s)
      o_ << "<circle cx=\"" << num(X(s)) << "\" cy=\"" << num(Y(at(r, s))) << "\" r=\"3\" fill=\""
         << (bias ? "white" : colour) << "\" stroke=\"" << colour << "\" stroke-width=\"1.5\"><title>"
         << xml_escape(name) << ", step " << s << ": " << value_text(at(r, s)) << "</title></circle>\n";
    o_ << "</g>\n";
  }

  void write_legend() {
    o_ << "<text x=\"" << num(kLegendX) << "\" y=\"" << num(kChartY0 - 14) << "\" font-size=\"13\" font-weight=\"bold\">"
       << "adapted tensor</text>\n";
    const double dy = std::min(20.0, (kChartY1 + 40 - kChartY0) / std::max<size_t>(1, rows_));
    for (size_t r = 0; r < rows_; ++r) {
      const std::string& name = c_.names[r];
      const double y = kChartY0 + dy * static_cast<double>(r) + 6;
      o_ << "<line x1=\"" << num(kLegendX) << "\" y1=\"" << num(y) << "\" x2=\"" << num(kLegendX + 28) << "\" y2=\""
         << num(y) << "\" stroke=\"" << kPalette[group(name) % 10] << "\" stroke-width=\"2\""
         << (is_bias(name) ? " stroke-dasharray=\"6 4\"" : "") << "/>\n";
      o_ << "<text x=\"" << num(kLegendX + 36) << "\" y=\"" << num(y + 4) << "\" font-size=\"12\">"
         << xml_escape(short_name(name)) << "</text>\n";
    }
  }

  // Sequential colours, or diverging ones centred at 0 when some rate is negative.
  Rgb colour_of(double v) const {
    const double abs_max = std::max(std::fabs(lo_), std::fabs(hi_));
    if (negative_) return ramp(kDiverging, abs_max > 0 ? 0.5 + 0.5 * v / abs_max : 0.5);
    return ramp(kSequential, hi_ > lo_ ? (v - lo_) / (hi_ - lo_) : 0.5);
  }

  void write_heatmap() {
    o_ << "<g id=\"heatmap\">\n";
    o_ << "<text x=\"40\" y=\"" << num(kHeatY0 - 30) << "\" font-size=\"14\" font-weight=\"bold\">"
       << "The same table as a heatmap (rows: adapted tensors, columns: inner steps)</text>\n";
    for (int32_t s = 0; s < steps_; ++s)
      o_ << "<text x=\"" << num(heat_x0_ + cell_w_ * (s + 0.5)) << "\" y=\"" << num(kHeatY0 - 8)
         << "\" font-size=\"11\" text-anchor=\"middle\">step " << s << "</text>\n";
    for (size_t r = 0; r < rows_; ++r) write_heatmap_row(r);
    write_colour_bar();
    o_ << "</g>\n";
  }

  void write_heatmap_row(size_t r) {
    const double y = kHeatY0 + kCellH * static_cast<double>(r);
    o_ << "<text x=\"" << num(heat_x0_ - 8) << "\" y=\"" << num(y + kCellH / 2 + 4)
       << "\" font-size=\"12\" text-anchor=\"end\">" << xml_escape(short_name(c_.names[r])) << "</text>\n";
    for (int32_t s = 0; s < steps_; ++s) {
      const Rgb col = colour_of(at(r, s));
      const double lum = 0.299 * col.r + 0.587 * col.g + 0.114 * col.b;
      o_ << "<rect x=\"" << num(heat_x0_ + cell_w_ * s) << "\" y=\"" << num(y) << "\" width=\"" << num(cell_w_)
         << "\" height=\"" << num(kCellH) << "\" fill=\"" << hex(col) << "\" stroke=\"white\"><title>"
         << xml_escape(c_.names[r]) << ", step " << s << ": " << value_text(at(r, s)) << "</title></rect>\n";
      if (cell_w_ >= 34)
        o_ << "<text x=\"" << num(heat_x0_ + cell_w_ * (s + 0.5)) << "\" y=\"" << num(y + kCellH / 2 + 4)
           << "\" font-size=\"10\" text-anchor=\"middle\" fill=\"" << (lum < 0.5 ? "white" : "black") << "\">"
           << value_text(at(r, s)) << "</text>\n";
    }
  }

  void write_colour_bar() {
    const double abs_max = std::max(std::fabs(lo_), std::fabs(hi_));
    const double bar_x0 = heat_x0_, bar_w = std::max(200.0, cell_w_ * steps_), bar_y = heat_y1_ + 30;
    o_ << "<defs><linearGradient id=\"lslr-scale\" x1=\"0\" x2=\"1\" y1=\"0\" y2=\"0\">\n";
    const auto& anchors = negative_ ? kDiverging : kSequential;
    for (size_t i = 0; i < anchors.size(); ++i)
      o_ << "<stop offset=\"" << num(100.0 * static_cast<double>(i) / static_cast<double>(anchors.size() - 1))
         << "%\" stop-color=\"" << hex(anchors[i]) << "\"/>\n";
    o_ << "</linearGradient></defs>\n";
    o_ << "<rect x=\"" << num(bar_x0) << "\" y=\"" << num(bar_y) << "\" width=\"" << num(bar_w)
       << "\" height=\"12\" fill=\"url(#lslr-scale)\" stroke=\"#999\"/>\n";
    const double scale_lo = negative_ ? -abs_max : lo_, scale_hi = negative_ ? abs_max : hi_;
    o_ << "<text x=\"" << num(bar_x0) << "\" y=\"" << num(bar_y + 28) << "\" font-size=\"11\" text-anchor=\"start\">"
       << value_text(scale_lo) << "</text>\n";
    o_ << "<text x=\"" << num(bar_x0 + bar_w / 2) << "\" y=\"" << num(bar_y + 28)
       << "\" font-size=\"11\" text-anchor=\"middle\">" << value_text((scale_lo + scale_hi) / 2) << "</text>\n";
    o_ << "<text x=\"" << num(bar_x0 + bar_w) << "\" y=\"" << num(bar_y + 28) << "\" font-size=\"11\" text-anchor=\"end\">"
       << value_text(scale_hi) << "</text>\n";
    o_ << "<text x=\"" << num(bar_x0 - 8) << "\" y=\"" << num(bar_y + 10) << "\" font-size=\"11\" text-anchor=\"end\">"
       << "learning rate</text>\n";
  }

  // Page geometry (pixels).
  static constexpr double kWidth = 960;
  static constexpr double kChartX0 = 90, kChartX1 = 660, kChartY0 = 90, kChartY1 = 390;
  static constexpr double kLegendX = 690;
  static constexpr double kHeatY0 = 515, kLabelW = 200, kCellH = 24;
  const double heat_x0_ = 40 + kLabelW;

  const LslrChart& c_;
  const size_t rows_;
  const int32_t steps_;
  double lo_ = 0, hi_ = 0;  // the rates' range, the initial rate included
  bool negative_ = false;
  size_t head_group_ = 0;
  double cell_w_ = 0, heat_y1_ = 0, height_ = 0;
  double y_lo_ = 0, y_hi_ = 0, tick_ = 1;  // the line chart's value axis
  std::ostringstream o_;
};

}  // namespace

std::string lslr_svg(const LslrChart& c) { return LslrSvg(c).write(); }

}  // namespace mamlpp::cli
