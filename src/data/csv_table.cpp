#include "data/csv_table.hpp"

#include <algorithm>
#include <charconv>
#include <cmath>
#include <cstring>
#include <limits>
#include <map>
#include <system_error>
#include <utility>

#include "common/error.hpp"
#include "common/read_file.hpp"

namespace mamlpp::data {
namespace {

bool blank_char(char c) { return c == ' ' || c == '\t'; }

struct Cell {
  std::string text;
  int64_t line = 0;  // where the cell starts
};

// Splits the file into rows of cells (RFC 4180 subset, see the header). Enforces the blank-line
// rule and the same cell count on every row; knows the header names for messages.
class CsvReader {
 public:
  // min_columns: 2 for labelled tables (a label or target and a feature), 1 for numbers only.
  CsvReader(std::string path, bool has_header, int32_t min_columns = 2)
      : path_(std::move(path)), has_header_(has_header) {
    bytes_ = read_regular_file(path_, kMaxCsvFileSize);
    p_ = reinterpret_cast<const char*>(bytes_.data());
    end_ = p_ + bytes_.size();
    if (end_ - p_ >= 3 && std::memcmp(p_, "\xEF\xBB\xBF", 3) == 0) p_ += 3;

    std::vector<Cell> first;
    if (!read_row(first))
      throw invalid_argument(path_ + ": the file is empty; expected a CSV table");
    first_line_ = row_line_;
    columns_ = static_cast<int32_t>(first.size());
    if (columns_ < min_columns)
      throw invalid_argument(where(first_line_) + "the first row has 1 column; a CSV table needs "
                             "at least 2 (the label or target column and a feature column), "
                             "separated by commas");
    if (has_header_) {
      for (auto& c : first) names_.push_back(std::move(c.text));
    } else {
      pending_ = std::move(first);
      has_pending_ = true;
    }
  }

  const std::string& path() const { return path_; }
  int32_t columns() const { return columns_; }
  bool has_header() const { return has_header_; }
  int64_t first_line() const { return first_line_; }
  const std::vector<std::string>& names() const { return names_; }

  // "path, line L: "
  std::string where(int64_t line) const { return path_ + ", line " + std::to_string(line) + ": "; }
  // "path, line L, column C ('name'): ", C 1-based.
  std::string where(int64_t line, int32_t col) const {
    std::string s = path_ + ", line " + std::to_string(line) + ", column " +
                    std::to_string(col + 1);
    if (has_header_) s += " ('" + names_[col] + "')";
    return s + ": ";
  }
  // How messages call a column: "column 3 ('x')", 1-based.
  std::string describe(int32_t col) const {
    std::string s = "column " + std::to_string(col + 1);
    if (has_header_) s += " ('" + names_[col] + "')";
    return s;
  }
  // A column's name for RegressionTable: the header name, or "column N" (1-based).
  std::string column_name(int32_t col) const {
    return has_header_ ? names_[col] : "column " + std::to_string(col + 1);
  }

  // The next data row, with exactly columns() cells; false at the end of the file.
  bool next(std::vector<Cell>& row, int64_t& line) {
    if (has_pending_) {
      has_pending_ = false;
      row = std::move(pending_);
      line = first_line_;
      return true;
    }
    if (!read_row(row)) return false;
    line = row_line_;
    if (static_cast<int32_t>(row.size()) != columns_)
      throw invalid_argument(where(line) + "the row has " + std::to_string(row.size()) + " cell" +
                             (row.size() == 1 ? "" : "s") + " but the " +
                             (has_header_ ? "header" : "first row") + " (line " +
                             std::to_string(first_line_) + ") has " + std::to_string(columns_) +
                             "; every row needs one cell per column (quote cells that hold "
                             "commas)");
    return true;
  }

 private:
  // A line of only spaces and tabs (or nothing) up to LF, CRLF or the end of the file.
  bool at_blank_line(const char** after) const {
    const char* q = p_;
    while (q < end_ && blank_char(*q)) ++q;
    if (q == end_) {
      *after = q;
      return true;
    }
    if (*q == '\n') {
      *after = q + 1;
      return true;
    }
    if (*q == '\r' && q + 1 < end_ && q[1] == '\n') {
      *after = q + 2;
      return true;
    }
    return false;
  }

  // Reads one row into `row` (cells reused); false when only blank lines are left.
  bool read_row(std::vector<Cell>& row) {
    // Blank lines: allowed only when nothing but blank lines follows them.
    int64_t first_blank = 0;
    const char* after = nullptr;
    while (p_ < end_ && at_blank_line(&after)) {
      if (first_blank == 0) first_blank = line_;
      p_ = after;
      ++line_;
    }
    if (p_ == end_) return false;
    if (first_blank != 0)
      throw invalid_argument(where(first_blank) + "the line is blank; blank lines are allowed only "
                             "at the end of the file");

    row_line_ = line_;
    size_t n = 0;
    for (;;) {
      if (n == row.size()) row.emplace_back();
      Cell& cell = row[n++];
      cell.text.clear();
      cell.line = line_;
      const int32_t col = static_cast<int32_t>(n);  // 1-based, for messages
      if (p_ < end_ && *p_ == '"') {
        ++p_;
        for (;;) {
          if (p_ == end_)
            throw invalid_argument(path_ + ", line " + std::to_string(cell.line) + ", column " +
                                   std::to_string(col) +
                                   ": a quoted cell is not closed before the end of the file");
          const char c = *p_;
          if (c == '"') {
            if (p_ + 1 < end_ && p_[1] == '"') {
              cell.text.push_back('"');
              p_ += 2;
              continue;
            }
            ++p_;
            break;
          }
          if (c == '\n') ++line_;
          cell.text.push_back(c);
          ++p_;
        }
        if (p_ < end_ && *p_ != ',' && *p_ != '\n' && *p_ != '\r')
          throw invalid_argument(path_ + ", line " + std::to_string(line_) + ", column " +
                                 std::to_string(col) +
                                 ": unexpected text after the closing quote of a quoted cell; "
                                 "double a quote inside a quoted cell (\"\")");
      } else {
        const char* start = p_;
        while (p_ < end_ && *p_ != ',' && *p_ != '\n' && *p_ != '\r') {
          if (*p_ == '"')
            throw invalid_argument(path_ + ", line " + std::to_string(line_) + ", column " +
                                   std::to_string(col) +
                                   ": a double quote inside an unquoted cell; quote the whole cell "
                                   "and double the quote (\"a \"\"b\"\" c\")");
          ++p_;
        }
        cell.text.assign(start, p_);
      }
      if (p_ == end_) break;
      if (*p_ == ',') {
        ++p_;
        continue;
      }
      if (*p_ == '\r') {
        if (p_ + 1 == end_ || p_[1] != '\n')
          throw invalid_argument(path_ + ", line " + std::to_string(line_) +
                                 ": a carriage return not followed by a line feed; rows must end "
                                 "with LF or CRLF");
        ++p_;
      }
      ++p_;  // '\n'
      ++line_;
      break;
    }
    row.resize(n);
    return true;
  }

  std::string path_;
  bool has_header_;
  std::vector<uint8_t> bytes_;
  const char* p_ = nullptr;
  const char* end_ = nullptr;
  int64_t line_ = 1;
  int64_t row_line_ = 1;
  int64_t first_line_ = 1;
  int32_t columns_ = 0;
  std::vector<std::string> names_;
  std::vector<Cell> pending_;
  bool has_pending_ = false;
};

// Whether a number that from_chars found out of float range is too small (else too large): the
// decimal order of its first significant digit plus its exponent is negative.
bool underflows(const char* s, const char* e) {
  if (s < e && (*s == '-' || *s == '+')) ++s;
  bool seen_point = false, seen_digit = false;
  int64_t before_point = 0, leading_zeros_after_point = 0;
  for (; s < e && *s != 'e' && *s != 'E'; ++s) {
    if (*s == '.') {
      seen_point = true;
    } else if (!seen_digit && *s == '0') {
      if (seen_point) ++leading_zeros_after_point;
    } else {
      if (!seen_digit) seen_digit = true;
      if (!seen_point) ++before_point;
    }
  }
  const int64_t order = before_point > 0 ? before_point - 1 : -(leading_zeros_after_point + 1);
  int64_t exponent = 0;
  if (s < e) {
    ++s;
    bool negative = false;
    if (s < e && (*s == '-' || *s == '+')) negative = *s++ == '-';
    for (; s < e && exponent < 1'000'000'000; ++s) exponent = exponent * 10 + (*s - '0');
    if (negative) exponent = -exponent;
  }
  return order + exponent < 0;
}

// A feature or target cell as float32, or an InvalidArgument naming line and column.
float parse_number(const CsvReader& r, const Cell& cell, int32_t col) {
  const char* s = cell.text.data();
  const char* e = s + cell.text.size();
  while (s < e && blank_char(*s)) ++s;
  while (e > s && blank_char(e[-1])) --e;
  if (s == e)
    throw invalid_argument(r.where(cell.line, col) + "the cell is empty; a number is needed here");
  const char* digits = s;
  if (*digits == '+' && e - digits > 1 && *(digits + 1) != '-' && *(digits + 1) != '+') ++digits;
  float v = 0.0f;
  const auto res = std::from_chars(digits, e, v, std::chars_format::general);
  const std::string shown = "'" + cell.text + "'";
  if (res.ptr != e || res.ec == std::errc::invalid_argument)
    throw invalid_argument(r.where(cell.line, col) + shown +
                           " is not a number (expected decimal or scientific notation, with '.' "
                           "as the decimal point)");
  if (res.ec == std::errc::result_out_of_range) {
    if (underflows(digits, e)) return *digits == '-' ? -0.0f : 0.0f;
    throw invalid_argument(r.where(cell.line, col) + shown +
                           " is beyond the float32 range (magnitude above 3.4e38)");
  }
  if (!std::isfinite(v))
    throw invalid_argument(r.where(cell.line, col) + shown +
                           " is not a finite number; NaN and infinities are refused");
  return v;
}

// The text of a label or task cell: verbatim, not empty.
const std::string& parse_text(const CsvReader& r, const Cell& cell, int32_t col, const char* what) {
  if (cell.text.empty())
    throw invalid_argument(r.where(cell.line, col) + "the " + what + " cell is empty");
  return cell.text;
}

bool all_digits(const std::string& s) {
  return !s.empty() && s.size() <= 9 &&
         std::all_of(s.begin(), s.end(), [](char c) { return c >= '0' && c <= '9'; });
}

std::string list_names(const std::vector<std::string>& names) {
  std::string s;
  for (size_t i = 0; i < names.size(); ++i) {
    if (i) s += ", ";
    s += "'" + names[i] + "'";
  }
  return s;
}

// The column a reference (header name or 0-based index) names; `option` names the option for
// messages ("label_column").
int32_t resolve_column(const CsvReader& r, const std::string& ref, const std::string& option) {
  if (ref.empty()) return r.columns() - 1;
  if (r.has_header()) {
    std::vector<int32_t> hits;
    for (int32_t c = 0; c < r.columns(); ++c)
      if (r.names()[c] == ref) hits.push_back(c);
    if (hits.size() == 1) return hits[0];
    if (hits.size() > 1)
      throw invalid_argument(r.where(r.first_line()) + option + " '" + ref +
                             "' is ambiguous: columns " + std::to_string(hits[0] + 1) + " and " +
                             std::to_string(hits[1] + 1) +
                             " of the header both have that name; give a 0-based index instead");
  }
  if (all_digits(ref)) {
    const long idx = std::stol(ref);
    if (idx < r.columns()) return static_cast<int32_t>(idx);
    throw invalid_argument(r.where(r.first_line()) + option + " " + ref +
                           " is out of range: the file has " + std::to_string(r.columns()) +
                           " columns, indices 0.." + std::to_string(r.columns() - 1));
  }
  if (!r.has_header())
    throw invalid_argument(r.where(r.first_line()) + option + " '" + ref +
                           "' is not a 0-based column index, and the file has no header "
                           "(has_header is off) to find a name in");
  throw invalid_argument(r.where(r.first_line()) + option + " '" + ref +
                         "' is neither a column of the header nor a 0-based index; the columns "
                         "are " +
                         list_names(r.names()));
}

void check_row_count(const CsvReader& r, int64_t rows, const std::string& what) {
  if (rows > std::numeric_limits<int32_t>::max())
    throw invalid_argument(r.path() + ": " + what + " has more than 2^31-1 rows");
}

// Distinct keys in byte order, and for each key (first-seen id) its sorted position.
std::vector<int32_t> sorted_positions(const std::vector<std::string>& keys_in_seen_order,
                                      std::vector<std::string>& sorted_names) {
  std::vector<int32_t> order(keys_in_seen_order.size());
  for (size_t i = 0; i < order.size(); ++i) order[i] = static_cast<int32_t>(i);
  std::sort(order.begin(), order.end(),
            [&](int32_t a, int32_t b) { return keys_in_seen_order[a] < keys_in_seen_order[b]; });
  std::vector<int32_t> position(order.size());
  sorted_names.clear();
  for (size_t k = 0; k < order.size(); ++k) {
    position[order[k]] = static_cast<int32_t>(k);
    sorted_names.push_back(keys_in_seen_order[order[k]]);
  }
  return position;
}

std::string no_rows(const CsvReader& r) {
  return r.where(r.first_line()) + "no data rows" +
         (r.has_header() ? " after the header" : "") + "; the table needs at least one";
}

}  // namespace

ImageDataset load_csv_classification(const std::string& path, const CsvOptions& options) {
  if (!options.target_columns.empty() || !options.task_column.empty())
    throw invalid_argument(path + ": target_columns and task_column are for regression tables; a "
                           "classification table takes label_column only");
  CsvReader r(path, options.has_header);
  const int32_t label = resolve_column(r, options.label_column, "label_column");
  const int32_t D = r.columns() - 1;

  std::map<std::string, int32_t> ids;  // label -> first-seen id
  std::vector<std::string> seen;
  std::vector<int32_t> row_ids;
  std::vector<float> values;
  std::vector<Cell> row;
  int64_t line = 0;
  while (r.next(row, line)) {
    const std::string& name = parse_text(r, row[label], label, "label");
    auto it = ids.find(name);
    if (it == ids.end()) {
      it = ids.emplace(name, static_cast<int32_t>(seen.size())).first;
      seen.push_back(name);
    }
    row_ids.push_back(it->second);
    for (int32_t c = 0; c < r.columns(); ++c)
      if (c != label) values.push_back(parse_number(r, row[c], c));
  }
  if (row_ids.empty()) throw invalid_argument(no_rows(r));

  std::vector<std::string> names;
  const std::vector<int32_t> position = sorted_positions(seen, names);
  std::vector<int32_t> counts(names.size(), 0);
  for (int32_t id : row_ids) {
    check_row_count(r, int64_t{counts[position[id]]} + 1, "class '" + seen[id] + "'");
    ++counts[position[id]];
  }
  ImageDataset dataset(ImageShape{1, 1, D}, std::move(names), counts, path);
  std::vector<int32_t> filled(counts.size(), 0);
  for (size_t i = 0; i < row_ids.size(); ++i) {
    const int32_t cls = position[row_ids[i]];
    std::copy_n(values.data() + i * static_cast<size_t>(D), D,
                dataset.mutable_image(cls, filled[cls]++));
  }
  return dataset;
}

RegressionTable load_csv_regression(const std::string& path, const CsvOptions& options) {
  if (!options.label_column.empty())
    throw invalid_argument(path + ": label_column is for classification tables; a regression "
                           "table takes target_columns (and optionally task_column)");
  CsvReader r(path, options.has_header);
  const int32_t C = r.columns();

  std::vector<int32_t> targets;
  if (options.target_columns.empty()) {
    targets.push_back(C - 1);
  } else {
    for (const std::string& ref : options.target_columns) {
      if (ref.empty())
        throw invalid_argument(path + ": an empty entry in target_columns; name every target");
      const int32_t c = resolve_column(r, ref, "target column");
      if (std::find(targets.begin(), targets.end(), c) != targets.end())
        throw invalid_argument(r.where(r.first_line()) + "target_columns names " + r.describe(c) +
                               " twice");
      targets.push_back(c);
    }
  }
  int32_t task = -1;
  if (!options.task_column.empty()) {
    task = resolve_column(r, options.task_column, "task_column");
    if (std::find(targets.begin(), targets.end(), task) != targets.end())
      throw invalid_argument(r.where(r.first_line()) + r.describe(task) +
                             " is both a target and the task column");
  }
  RegressionTable table;
  table.source = path;
  std::vector<int32_t> features;
  for (int32_t c = 0; c < C; ++c)
    if (c != task && std::find(targets.begin(), targets.end(), c) == targets.end()) {
      features.push_back(c);
      table.feature_names.push_back(r.column_name(c));
    }
  for (int32_t c : targets) table.target_names.push_back(r.column_name(c));
  if (features.empty())
    throw invalid_argument(r.where(r.first_line()) + "no feature column is left: the file has " +
                           std::to_string(C) +
                           " columns and they are all targets or the task column");
  table.features = static_cast<int32_t>(features.size());
  table.outputs = static_cast<int32_t>(targets.size());

  std::map<std::string, int32_t> ids;
  std::vector<std::string> seen;
  std::vector<int32_t> row_ids;
  std::vector<float> xs, ts;
  std::vector<Cell> row;
  int64_t line = 0;
  while (r.next(row, line)) {
    int32_t id = 0;
    if (task >= 0) {
      const std::string& name = parse_text(r, row[task], task, "task");
      auto it = ids.find(name);
      if (it == ids.end()) {
        it = ids.emplace(name, static_cast<int32_t>(seen.size())).first;
        seen.push_back(name);
      }
      id = it->second;
    }
    row_ids.push_back(id);
    for (int32_t c : features) xs.push_back(parse_number(r, row[c], c));
    for (int32_t c : targets) ts.push_back(parse_number(r, row[c], c));
  }
  if (row_ids.empty()) throw invalid_argument(no_rows(r));
  if (task < 0) seen.push_back("all");

  const std::vector<int32_t> position = sorted_positions(seen, table.group_names);
  const size_t G = table.group_names.size();
  std::vector<int64_t> counts(G, 0);
  for (int32_t id : row_ids) ++counts[position[id]];
  table.offsets.assign(G + 1, 0);
  for (size_t g = 0; g < G; ++g) table.offsets[g + 1] = table.offsets[g] + counts[g];
  const size_t F = features.size(), O = targets.size();
  table.x.resize(row_ids.size() * F);
  table.t.resize(row_ids.size() * O);
  std::vector<int64_t> next(table.offsets.begin(), table.offsets.end() - 1);
  for (size_t i = 0; i < row_ids.size(); ++i) {
    const auto dst = static_cast<size_t>(next[position[row_ids[i]]]++);
    std::copy_n(xs.data() + i * F, F, table.x.data() + dst * F);
    std::copy_n(ts.data() + i * O, O, table.t.data() + dst * O);
  }
  return table;
}

int32_t csv_column_count(const std::string& path) { return CsvReader(path, true, 1).columns(); }

NumericTable load_csv_numbers(const std::string& path, bool has_header) {
  CsvReader r(path, has_header, 1);
  NumericTable table;
  table.source = path;
  table.columns = r.columns();
  for (int32_t c = 0; c < table.columns; ++c) table.names.push_back(r.column_name(c));
  std::vector<Cell> row;
  int64_t line = 0;
  while (r.next(row, line)) {
    for (int32_t c = 0; c < table.columns; ++c) table.values.push_back(parse_number(r, row[c], c));
    ++table.rows;
  }
  if (table.rows == 0) throw invalid_argument(no_rows(r));
  return table;
}

CsvTable load_csv(const std::string& path, const CsvOptions& options) {
  CsvTable out;
  out.kind = options.kind;
  if (options.kind == CsvOptions::Kind::Classification)
    out.classification = load_csv_classification(path, options);
  else
    out.regression = load_csv_regression(path, options);
  return out;
}

}  // namespace mamlpp::data
