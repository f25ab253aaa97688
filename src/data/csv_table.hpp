// Vector datasets from CSV files: classification tables become an ImageDataset (so the episode
// sampler and the class splits work on them unchanged), regression tables a RegressionTable.
//
// The format is the common RFC 4180 subset:
//  - cells separated by commas; rows end with LF or CRLF (a lone CR is an error); the last row may
//    or may not end with a line break, and any number of blank lines (empty, or only spaces and
//    tabs) may follow it; a blank line anywhere else is an error;
//  - a cell may be enclosed in double quotes, and then holds commas, line breaks and doubled
//    quotes ("" for "); a quote inside an unquoted cell, or anything but a comma or line end after
//    a closing quote, is an error;
//  - a UTF-8 byte order mark at the start is skipped; bytes are otherwise taken as they are (text
//    cells are not checked to be valid UTF-8);
//  - the first row is the header when `has_header` (the default), else the first data row;
//    every row must have as many cells as the first row;
//  - numbers (feature and target cells) are parsed locale-independently with std::from_chars as
//    float32: decimal or scientific notation ("1", "-0.5", ".5", "2.", "1e-3", "+3"), surrounding
//    spaces and tabs ignored. Refused: empty cells, anything else ("abc", "1,5" in a quoted cell,
//    "0x10"), NaN and infinities, and magnitudes beyond float's range (above ~3.4e38); magnitudes
//    below the smallest float subnormal (~1.4e-45) become zero;
//  - text cells (class labels, task names) are used verbatim, spaces included, and must not be
//    empty.
//
// Files larger than kMaxCsvFileSize are refused before they are read. Every error is a
// mamlpp::Error: Io when the file is missing, unreadable, not a regular file or too large;
// InvalidArgument otherwise, with a message naming the file, the 1-based line and, for a cell, the
// 1-based column and its header name, e.g. "data.csv, line 7, column 3 ('petal_width'): 'abc' is
// not a number". Rows spanning several lines (quoted line breaks) are reported at the line where
// the row, or the cell, starts.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset.hpp"

namespace mamlpp::data {

// CSV files above this size are refused (Io) before anything is allocated.
constexpr uint64_t kMaxCsvFileSize = uint64_t{1} << 30;  // 1 GiB

// A column is named by a reference: its header name, or its 0-based index written in decimal
// ("0", "12"). With a header, a name wins over an index (a column named "3" is found by name); a
// name shared by several header cells is refused as ambiguous (use its index). Without a header,
// only indices work. An empty reference means the default given below.
struct CsvOptions {
  enum class Kind { Classification, Regression };
  // Only load_csv() reads this; load_csv_classification() and load_csv_regression() are the
  // kinds themselves.
  Kind kind = Kind::Classification;
  bool has_header = true;
  // Classification: the column holding the class label; default the last column. Every other
  // column is a feature.
  std::string label_column;
  // Regression: the target columns, in output order (one reference each, so names containing
  // commas work); default {the last column}. Every column that is neither a target nor the task
  // column is a feature, in file order.
  std::vector<std::string> target_columns;
  // Regression: the column grouping rows into tasks (e.g. a user id); empty = one task of every
  // row.
  std::string task_column;
};

// A regression table: rows grouped into tasks, each task a contiguous block of rows.
struct RegressionTable {
  int32_t features = 0;  // inputs per row
  int32_t outputs = 0;   // targets per row
  // The columns' header names, or "column N" (1-based) without a header: features in file order,
  // targets in output order.
  std::vector<std::string> feature_names;
  std::vector<std::string> target_names;
  // The task column's distinct values in byte order (std::sort); {"all"} without a task column.
  std::vector<std::string> group_names;
  // Rows of group g are [offsets[g], offsets[g + 1]), in file order within the group;
  // offsets.size() == group_names.size() + 1 and offsets.back() == the number of rows.
  std::vector<int64_t> offsets;
  std::vector<float> x;  // rows * features, row-major
  std::vector<float> t;  // rows * outputs, row-major
  std::string source;    // the file

  int32_t num_groups() const { return static_cast<int32_t>(group_names.size()); }
  int64_t num_rows() const { return offsets.empty() ? 0 : offsets.back(); }
  int64_t group_rows(int32_t g) const { return offsets[g + 1] - offsets[g]; }
  const float* row_x(int64_t row) const { return x.data() + row * features; }
  const float* row_t(int64_t row) const { return t.data() + row * outputs; }
};

// A classification table: an ImageDataset of shape ImageShape{1, 1, D}, D the number of feature
// columns (every column but the label column, in file order). One class per distinct label
// value; class names are the label strings in byte order (std::sort: "10" before "9"); a class's
// examples are its rows in file order. source() is the path. Needs at least 2 columns and 1 data
// row. Refuses options.target_columns and options.task_column (regression only).
ImageDataset load_csv_classification(const std::string& path, const CsvOptions& options = {});

// A regression table (see RegressionTable). Needs at least one feature column and 1 data row; the
// target and task columns must be distinct. Refuses options.label_column (classification only).
RegressionTable load_csv_regression(const std::string& path, const CsvOptions& options);

// Either of the above, as options.kind says; the other member stays empty.
struct CsvTable {
  CsvOptions::Kind kind = CsvOptions::Kind::Classification;
  ImageDataset classification;
  RegressionTable regression;
};
CsvTable load_csv(const std::string& path, const CsvOptions& options = {});

// A table of numbers only (every cell a number, e.g. query rows of features to predict):
// rows * columns floats, row-major, and the column names (as RegressionTable's).
struct NumericTable {
  int32_t columns = 0;
  int64_t rows = 0;
  std::vector<std::string> names;
  std::vector<float> values;
  std::string source;
};
NumericTable load_csv_numbers(const std::string& path, bool has_header = true);

// The number of columns of a CSV file's first row (the same checks as the loaders up to there).
int32_t csv_column_count(const std::string& path);

}  // namespace mamlpp::data
