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

std::string lslr_svg(const LslrChart& c) {
  const size_t rows = c.names.size();
  const int32_t S = std::max<int32_t>(1, c.steps);
  auto at = [&](size_t r, int32_t s) { return static_cast<double>(c.rates[r * static_cast<size_t>(S) + static_cast<size_t>(s)]); };

  double lo = c.initial, hi = c.initial;
  for (float v : c.rates) {
    lo = std::min(lo, static_cast<double>(v));
    hi = std::max(hi, static_cast<double>(v));
  }
  const bool negative = lo < 0;

  // Group colours: stages first, then the head.
  size_t max_group = 0;
  for (const auto& n : c.names)
    if (n.find("stage") != std::string::npos) max_group = std::max(max_group, group_of(n, 0));
  const size_t head_group = max_group + 1;

  const double W = 960;
  const double chart_x0 = 90, chart_x1 = 660, chart_y0 = 90, chart_y1 = 390;
  const double legend_x = 690;
  const double heat_y0 = 515, label_w = 200, heat_x0 = 40 + label_w;
  const double cell_w = std::min(90.0, (W - heat_x0 - 40) / S), cell_h = 24;
  const double heat_y1 = heat_y0 + cell_h * static_cast<double>(rows);
  const double H = heat_y1 + 110;

  std::ostringstream o;
  o << "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n";
  o << "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"" << num(W) << "\" height=\"" << num(H)
    << "\" viewBox=\"0 0 " << num(W) << " " << num(H) << "\" font-family=\"Helvetica, Arial, sans-serif\">\n";
  o << "<rect x=\"0\" y=\"0\" width=\"" << num(W) << "\" height=\"" << num(H) << "\" fill=\"white\"/>\n";
  o << "<text x=\"" << num(W / 2) << "\" y=\"32\" font-size=\"20\" text-anchor=\"middle\" font-weight=\"bold\">"
    << xml_escape(c.title) << "</text>\n";
  o << "<text x=\"" << num(W / 2) << "\" y=\"56\" font-size=\"13\" text-anchor=\"middle\" fill=\"#555\">"
    << xml_escape(c.subtitle) << "</text>\n";

  // ---- line chart ----
  double y_lo = lo, y_hi = hi;
  if (y_hi - y_lo < 1e-9) {
    y_lo -= std::max(1e-3, std::fabs(y_lo) * 0.1);
    y_hi += std::max(1e-3, std::fabs(y_hi) * 0.1);
  }
  const double step = nice_step(y_lo, y_hi, 6);
  y_lo = std::floor(y_lo / step) * step;
  y_hi = std::ceil(y_hi / step) * step;
  auto X = [&](double s) {
    return S == 1 ? (chart_x0 + chart_x1) / 2 : chart_x0 + 20 + (chart_x1 - chart_x0 - 40) * s / (S - 1);
  };
  auto Y = [&](double v) { return chart_y1 - (chart_y1 - chart_y0) * (v - y_lo) / (y_hi - y_lo); };

  o << "<g id=\"line-chart\">\n";
  o << "<text x=\"" << num(chart_x0) << "\" y=\"" << num(chart_y0 - 14) << "\" font-size=\"14\" font-weight=\"bold\">"
    << "Inner learning rate per tensor across inner steps</text>\n";
  for (double v = y_lo; v <= y_hi + step * 0.5; v += step) {
    const double y = Y(v);
    o << "<line x1=\"" << num(chart_x0) << "\" y1=\"" << num(y) << "\" x2=\"" << num(chart_x1) << "\" y2=\"" << num(y)
      << "\" stroke=\"#e5e5e5\"/>\n";
    o << "<text x=\"" << num(chart_x0 - 8) << "\" y=\"" << num(y + 4) << "\" font-size=\"11\" text-anchor=\"end\">"
      << value_text(std::fabs(v) < step * 1e-6 ? 0.0 : v) << "</text>\n";
  }
  for (int32_t s = 0; s < S; ++s)
    o << "<text x=\"" << num(X(s)) << "\" y=\"" << num(chart_y1 + 18) << "\" font-size=\"11\" text-anchor=\"middle\">"
      << s << "</text>\n";
  o << "<line x1=\"" << num(chart_x0) << "\" y1=\"" << num(chart_y1) << "\" x2=\"" << num(chart_x1) << "\" y2=\""
    << num(chart_y1) << "\" stroke=\"black\"/>\n";
  o << "<line x1=\"" << num(chart_x0) << "\" y1=\"" << num(chart_y0) << "\" x2=\"" << num(chart_x0) << "\" y2=\""
    << num(chart_y1) << "\" stroke=\"black\"/>\n";
  o << "<text x=\"" << num((chart_x0 + chart_x1) / 2) << "\" y=\"" << num(chart_y1 + 40)
    << "\" font-size=\"13\" text-anchor=\"middle\">inner step</text>\n";
  o << "<text x=\"" << num(chart_x0 - 58) << "\" y=\"" << num((chart_y0 + chart_y1) / 2)
    << "\" font-size=\"13\" text-anchor=\"middle\" transform=\"rotate(-90 " << num(chart_x0 - 58) << " "
    << num((chart_y0 + chart_y1) / 2) << ")\">learning rate</text>\n";
  if (negative && y_lo < 0 && y_hi > 0)
    o << "<line x1=\"" << num(chart_x0) << "\" y1=\"" << num(Y(0)) << "\" x2=\"" << num(chart_x1) << "\" y2=\""
      << num(Y(0)) << "\" stroke=\"#444\" stroke-width=\"1\"/>\n";
  o << "<line x1=\"" << num(chart_x0) << "\" y1=\"" << num(Y(c.initial)) << "\" x2=\"" << num(chart_x1)
    << "\" y2=\"" << num(Y(c.initial)) << "\" stroke=\"#888\" stroke-dasharray=\"2 3\"/>\n";
  o << "<text x=\"" << num(chart_x1 - 4) << "\" y=\"" << num(Y(c.initial) - 5)
    << "\" font-size=\"11\" text-anchor=\"end\" fill=\"#555\" stroke=\"white\" stroke-width=\"3\" "
       "paint-order=\"stroke\">initial inner_lr = " << value_text(c.initial)
    << "</text>\n";

  for (size_t r = 0; r < rows; ++r) {
    const std::string& name = c.names[r];
    const size_t g = name.find("stage") != std::string::npos ? group_of(name, 0) : head_group;
    const char* colour = kPalette[g % 10];
    const bool bias = name.size() >= 4 && name.compare(name.size() - 4, 4, "bias") == 0;
    o << "<g class=\"series\" data-name=\"" << xml_escape(name) << "\">\n";
    if (S > 1) {
      o << "<polyline fill=\"none\" stroke=\"" << colour << "\" stroke-width=\"2\""
        << (bias ? " stroke-dasharray=\"6 4\"" : "") << " points=\"";
      for (int32_t s = 0; s < S; ++s) o << (s ? " " : "") << num(X(s)) << "," << num(Y(at(r, s)));
      o << "\"/>\n";
    }
    for (int32_t s = 0; s < S; ++s)
      o << "<circle cx=\"" << num(X(s)) << "\" cy=\"" << num(Y(at(r, s))) << "\" r=\"3\" fill=\""
        << (bias ? "white" : colour) << "\" stroke=\"" << colour << "\" stroke-width=\"1.5\"><title>"
        << xml_escape(name) << ", step " << s << ": " << value_text(at(r, s)) << "</title></circle>\n";
    o << "</g>\n";
  }
  // legend
  o << "<text x=\"" << num(legend_x) << "\" y=\"" << num(chart_y0 - 14) << "\" font-size=\"13\" font-weight=\"bold\">"
    << "adapted tensor</text>\n";
  const double legend_dy = std::min(20.0, (chart_y1 + 40 - chart_y0) / std::max<size_t>(1, rows));
  for (size_t r = 0; r < rows; ++r) {
    const std::string& name = c.names[r];
    const size_t g = name.find("stage") != std::string::npos ? group_of(name, 0) : head_group;
    const bool bias = name.size() >= 4 && name.compare(name.size() - 4, 4, "bias") == 0;
    const double y = chart_y0 + legend_dy * static_cast<double>(r) + 6;
    o << "<line x1=\"" << num(legend_x) << "\" y1=\"" << num(y) << "\" x2=\"" << num(legend_x + 28) << "\" y2=\""
      << num(y) << "\" stroke=\"" << kPalette[g % 10] << "\" stroke-width=\"2\""
      << (bias ? " stroke-dasharray=\"6 4\"" : "") << "/>\n";
    o << "<text x=\"" << num(legend_x + 36) << "\" y=\"" << num(y + 4) << "\" font-size=\"12\">"
      << xml_escape(short_name(name)) << "</text>\n";
  }
  o << "</g>\n";

  // ---- heatmap ----
  const double abs_max = std::max(std::fabs(lo), std::fabs(hi));
  auto colour_of = [&](double v) {
    if (negative) return ramp(kDiverging, abs_max > 0 ? 0.5 + 0.5 * v / abs_max : 0.5);
    return ramp(kSequential, hi > lo ? (v - lo) / (hi - lo) : 0.5);
  };
  o << "<g id=\"heatmap\">\n";
  o << "<text x=\"40\" y=\"" << num(heat_y0 - 30) << "\" font-size=\"14\" font-weight=\"bold\">"
    << "The same table as a heatmap (rows: adapted tensors, columns: inner steps)</text>\n";
  for (int32_t s = 0; s < S; ++s)
    o << "<text x=\"" << num(heat_x0 + cell_w * (s + 0.5)) << "\" y=\"" << num(heat_y0 - 8)
      << "\" font-size=\"11\" text-anchor=\"middle\">step " << s << "</text>\n";
  for (size_t r = 0; r < rows; ++r) {
    const double y = heat_y0 + cell_h * static_cast<double>(r);
    o << "<text x=\"" << num(heat_x0 - 8) << "\" y=\"" << num(y + cell_h / 2 + 4)
      << "\" font-size=\"12\" text-anchor=\"end\">" << xml_escape(short_name(c.names[r])) << "</text>\n";
    for (int32_t s = 0; s < S; ++s) {
      const Rgb col = colour_of(at(r, s));
      const double lum = 0.299 * col.r + 0.587 * col.g + 0.114 * col.b;
      o << "<rect x=\"" << num(heat_x0 + cell_w * s) << "\" y=\"" << num(y) << "\" width=\"" << num(cell_w)
        << "\" height=\"" << num(cell_h) << "\" fill=\"" << hex(col) << "\" stroke=\"white\"><title>"
        << xml_escape(c.names[r]) << ", step " << s << ": " << value_text(at(r, s)) << "</title></rect>\n";
      if (cell_w >= 34)
        o << "<text x=\"" << num(heat_x0 + cell_w * (s + 0.5)) << "\" y=\"" << num(y + cell_h / 2 + 4)
          << "\" font-size=\"10\" text-anchor=\"middle\" fill=\"" << (lum < 0.5 ? "white" : "black") << "\">"
          << value_text(at(r, s)) << "</text>\n";
    }
  }
  // colour bar
  const double bar_x0 = heat_x0, bar_w = std::max(200.0, cell_w * S), bar_y = heat_y1 + 30;
  o << "<defs><linearGradient id=\"lslr-scale\" x1=\"0\" x2=\"1\" y1=\"0\" y2=\"0\">\n";
  const auto& anchors = negative ? kDiverging : kSequential;
  for (size_t i = 0; i < anchors.size(); ++i)
    o << "<stop offset=\"" << num(100.0 * static_cast<double>(i) / static_cast<double>(anchors.size() - 1))
      << "%\" stop-color=\"" << hex(anchors[i]) << "\"/>\n";
  o << "</linearGradient></defs>\n";
  o << "<rect x=\"" << num(bar_x0) << "\" y=\"" << num(bar_y) << "\" width=\"" << num(bar_w)
    << "\" height=\"12\" fill=\"url(#lslr-scale)\" stroke=\"#999\"/>\n";
  const double scale_lo = negative ? -abs_max : lo, scale_hi = negative ? abs_max : hi;
  o << "<text x=\"" << num(bar_x0) << "\" y=\"" << num(bar_y + 28) << "\" font-size=\"11\" text-anchor=\"start\">"
    << value_text(scale_lo) << "</text>\n";
  o << "<text x=\"" << num(bar_x0 + bar_w / 2) << "\" y=\"" << num(bar_y + 28)
    << "\" font-size=\"11\" text-anchor=\"middle\">" << value_text((scale_lo + scale_hi) / 2) << "</text>\n";
  o << "<text x=\"" << num(bar_x0 + bar_w) << "\" y=\"" << num(bar_y + 28) << "\" font-size=\"11\" text-anchor=\"end\">"
    << value_text(scale_hi) << "</text>\n";
  o << "<text x=\"" << num(bar_x0 - 8) << "\" y=\"" << num(bar_y + 10) << "\" font-size=\"11\" text-anchor=\"end\">"
    << "learning rate</text>\n";
  o << "</g>\n";
  o << "</svg>\n";
  return o.str();
}

}  // namespace mamlpp::cli
