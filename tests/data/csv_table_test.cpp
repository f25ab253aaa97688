// CSV tables (data/csv_table.hpp): classification tables as ImageDatasets of 1x1xD "images",
// regression tables grouped into tasks, every refusal with its line number, and the episode
// sampler over a CSV dataset. Files are written to a temporary folder.
#include <gtest/gtest.h>

#include <cmath>
#include <filesystem>
#include <fstream>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include "common/error.hpp"
#include "data/csv_table.hpp"
#include "data/sampler.hpp"
#include "data/splits.hpp"
#include "test_util.hpp"

namespace mamlpp::data {
namespace {

using test::expect_error;
using test::TempDir;
using Kind = CsvOptions::Kind;

std::string write_csv(const TempDir& dir, const std::string& name, const std::string& text) {
  const std::filesystem::path path = dir / name;
  std::ofstream out(path, std::ios::binary);
  out.write(text.data(), static_cast<std::streamsize>(text.size()));
  return path.string();
}

std::vector<float> row(const ImageDataset& ds, int32_t cls, int32_t i) {
  const float* p = ds.image(cls, i);
  return std::vector<float>(p, p + ds.shape().numel());
}

CsvOptions classification(std::string label = "", bool header = true) {
  CsvOptions o;
  o.label_column = std::move(label);
  o.has_header = header;
  return o;
}

CsvOptions regression(std::vector<std::string> targets = {}, std::string task = "",
                      bool header = true) {
  CsvOptions o;
  o.kind = Kind::Regression;
  o.target_columns = std::move(targets);
  o.task_column = std::move(task);
  o.has_header = header;
  return o;
}

// ---- classification -----------------------------------------------------------------------------

TEST(CsvClassification, RoundTripWithBomCrlfQuotesAndNamedLabel) {
  TempDir dir;
  const std::string path = write_csv(dir, "t.csv",
                                     "\xEF\xBB\xBFx1,\"label\",x2\r\n"
                                     "1.5,cat,-2\r\n"
                                     "\"3\",dog,4e1\r\n"
                                     "0.25,\"cat\",  7 \r\n"
                                     "-1,\"d,og \"\"x\"\"\",+8\r\n"
                                     "\r\n");
  const ImageDataset ds = load_csv_classification(path, classification("label"));
  EXPECT_EQ(ds.shape(), (ImageShape{1, 1, 2}));
  EXPECT_EQ(ds.source(), path);
  ASSERT_EQ(ds.num_classes(), 3);
  // Byte order: ',' (0x2c) sorts before 'o'.
  EXPECT_EQ(ds.class_name(0), "cat");
  EXPECT_EQ(ds.class_name(1), "d,og \"x\"");
  EXPECT_EQ(ds.class_name(2), "dog");
  EXPECT_EQ(ds.total_images(), 4);
  ASSERT_EQ(ds.num_images(0), 2);
  EXPECT_EQ(row(ds, 0, 0), (std::vector<float>{1.5f, -2.0f}));  // file order within a class
  EXPECT_EQ(row(ds, 0, 1), (std::vector<float>{0.25f, 7.0f}));
  EXPECT_EQ(row(ds, 1, 0), (std::vector<float>{-1.0f, 8.0f}));
  EXPECT_EQ(row(ds, 2, 0), (std::vector<float>{3.0f, 40.0f}));
}

TEST(CsvClassification, DefaultLabelIsTheLastColumnAndLfWithoutFinalNewline) {
  TempDir dir;
  const std::string path = write_csv(dir, "t.csv", "a,b,c,y\n1,2,3,B\n4,5,6,A\n7,8,9,B");
  const ImageDataset ds = load_csv_classification(path);
  EXPECT_EQ(ds.shape(), (ImageShape{1, 1, 3}));
  ASSERT_EQ(ds.num_classes(), 2);
  EXPECT_EQ(ds.class_name(0), "A");
  EXPECT_EQ(ds.class_name(1), "B");
  EXPECT_EQ(row(ds, 0, 0), (std::vector<float>{4, 5, 6}));
  EXPECT_EQ(row(ds, 1, 0), (std::vector<float>{1, 2, 3}));
  EXPECT_EQ(row(ds, 1, 1), (std::vector<float>{7, 8, 9}));
}

TEST(CsvClassification, LabelByIndexWithAndWithoutHeader) {
  TempDir dir;
  const std::string with = write_csv(dir, "h.csv", "y,a,b\nz,1,2\nw,3,4\n");
  const ImageDataset a = load_csv_classification(with, classification("0"));
  ASSERT_EQ(a.num_classes(), 2);
  EXPECT_EQ(a.class_name(0), "w");
  EXPECT_EQ(row(a, 0, 0), (std::vector<float>{3, 4}));
  EXPECT_EQ(row(a, 1, 0), (std::vector<float>{1, 2}));

  // Without a header the first line is data.
  const std::string without = write_csv(dir, "n.csv", "1,z,2\n3,w,4\n5,z,6\n\n\n");
  const ImageDataset b = load_csv_classification(without, classification("1", false));
  ASSERT_EQ(b.num_classes(), 2);
  EXPECT_EQ(b.total_images(), 3);
  EXPECT_EQ(row(b, 1, 0), (std::vector<float>{1, 2}));
  EXPECT_EQ(row(b, 1, 1), (std::vector<float>{5, 6}));

  // A header name wins over an index: the column named "2" is column 0.
  const std::string digits = write_csv(dir, "d.csv", "2,a,b\nz,1,2\n");
  EXPECT_EQ(load_csv_classification(digits, classification("2")).class_name(0), "z");
}

TEST(CsvClassification, ParsesNumbersLocaleIndependently) {
  TempDir dir;
  const std::string path = write_csv(dir, "t.csv",
                                     "a,b,c,d,e,y\n"
                                     ".5,2.,-0,1e-3,1e-50,k\n"
                                     "+3, 1E2 ,\t-7.25\t,3.4e38,1e-40,k\n");
  const ImageDataset ds = load_csv_classification(path);
  EXPECT_EQ(row(ds, 0, 0), (std::vector<float>{0.5f, 2.0f, -0.0f, 1e-3f, 0.0f}));
  EXPECT_EQ(row(ds, 0, 1), (std::vector<float>{3.0f, 100.0f, -7.25f, 3.4e38f, 1e-40f}));
}

TEST(CsvClassification, QuotedLineBreaksKeepLineNumbersRight) {
  TempDir dir;
  // The label of line 2 spans lines 2-3; the bad cell is on line 4.
  const std::string path = write_csv(dir, "t.csv", "a,y\n1,\"two\nlines\"\nabc,x\n");
  expect_error([&] { load_csv_classification(path); }, ErrorKind::InvalidArgument,
               {path, "line 4", "column 1 ('a')", "'abc' is not a number"});
  const std::string ok = write_csv(dir, "ok.csv", "a,y\n1,\"two\r\nlines\"\n2,x\n");
  const ImageDataset ds = load_csv_classification(ok);
  EXPECT_EQ(ds.class_name(0), "two\r\nlines");
}

// ---- regression ---------------------------------------------------------------------------------

TEST(CsvRegression, OneGroupWithoutTaskColumn) {
  TempDir dir;
  const std::string path = write_csv(dir, "r.csv", "x1,x2,y\n1,2,3\n4,5,6\n");
  const RegressionTable t = load_csv_regression(path, regression());
  EXPECT_EQ(t.features, 2);
  EXPECT_EQ(t.outputs, 1);
  EXPECT_EQ(t.source, path);
  EXPECT_EQ(t.feature_names, (std::vector<std::string>{"x1", "x2"}));
  EXPECT_EQ(t.target_names, (std::vector<std::string>{"y"}));
  EXPECT_EQ(t.group_names, (std::vector<std::string>{"all"}));
  EXPECT_EQ(t.offsets, (std::vector<int64_t>{0, 2}));
  EXPECT_EQ(t.num_rows(), 2);
  EXPECT_EQ(t.x, (std::vector<float>{1, 2, 4, 5}));
  EXPECT_EQ(t.t, (std::vector<float>{3, 6}));
}

TEST(CsvRegression, TaskColumnGroupsRowsAndTargetsKeepTheirOrder) {
  TempDir dir;
  const std::string path = write_csv(dir, "r.csv",
                                     "user,x,y1,z,y2\n"
                                     "bob,1,10,100,-1\n"
                                     "al,2,20,200,-2\n"
                                     "bob,3,30,300,-3\n"
                                     "cy,4,40,400,-4\n"
                                     "al,5,50,500,-5\n");
  const RegressionTable t = load_csv_regression(path, regression({"y2", "2"}, "user"));
  EXPECT_EQ(t.features, 2);
  EXPECT_EQ(t.outputs, 2);
  EXPECT_EQ(t.feature_names, (std::vector<std::string>{"x", "z"}));
  EXPECT_EQ(t.target_names, (std::vector<std::string>{"y2", "y1"}));
  EXPECT_EQ(t.group_names, (std::vector<std::string>{"al", "bob", "cy"}));
  EXPECT_EQ(t.offsets, (std::vector<int64_t>{0, 2, 4, 5}));
  EXPECT_EQ(t.group_rows(1), 2);
  EXPECT_EQ(t.x, (std::vector<float>{2, 200, 5, 500, 1, 100, 3, 300, 4, 400}));
  EXPECT_EQ(t.t, (std::vector<float>{-2, 20, -5, 50, -1, 10, -3, 30, -4, 40}));
  EXPECT_EQ(t.row_x(4)[1], 400.0f);
  EXPECT_EQ(t.row_t(2)[0], -1.0f);
}

TEST(CsvRegression, WithoutHeaderByIndexAndThroughLoadCsv) {
  TempDir dir;
  const std::string path = write_csv(dir, "r.csv", "u,1,2\nv,3,4\nu,5,6\n");
  const CsvTable table = load_csv(path, regression({}, "0", false));
  EXPECT_EQ(table.kind, Kind::Regression);
  EXPECT_EQ(table.classification.num_classes(), 0);
  const RegressionTable& t = table.regression;
  EXPECT_EQ(t.feature_names, (std::vector<std::string>{"column 2"}));
  EXPECT_EQ(t.target_names, (std::vector<std::string>{"column 3"}));
  EXPECT_EQ(t.group_names, (std::vector<std::string>{"u", "v"}));
  EXPECT_EQ(t.x, (std::vector<float>{1, 5, 3}));
  EXPECT_EQ(t.t, (std::vector<float>{2, 6, 4}));

  const CsvTable c = load_csv(path, classification("0", false));
  EXPECT_EQ(c.kind, Kind::Classification);
  EXPECT_EQ(c.classification.num_classes(), 2);
}

// ---- errors -------------------------------------------------------------------------------------

TEST(CsvErrors, RaggedRows) {
  TempDir dir;
  const std::string longer = write_csv(dir, "a.csv", "a,b,y\n1,2,x\n1,2,3,x\n");
  expect_error([&] { load_csv_classification(longer); }, ErrorKind::InvalidArgument,
               {longer, "line 3", "4 cells", "header (line 1) has 3"});
  const std::string shorter = write_csv(dir, "b.csv", "1,2,x\nx\n");
  expect_error([&] { load_csv_classification(shorter, classification("", false)); },
               ErrorKind::InvalidArgument, {shorter, "line 2", "1 cell but the first row"});
  const std::string numeric = write_csv(dir, "c.csv", "1,2,3\n4,5,6\n7,8\n");
  expect_error([&] { load_csv_regression(numeric, regression({}, "", false)); },
               ErrorKind::InvalidArgument, {numeric, "line 3", "2 cells but the first row"});
}

TEST(CsvErrors, BadNumbers) {
  TempDir dir;
  const std::vector<std::pair<std::string, std::string>> cases = {
      {"abc", "is not a number"},     {"nan", "not a finite number"},
      {"inf", "not a finite number"}, {"-infinity", "not a finite number"},
      {"", "the cell is empty"},      {"  ", "the cell is empty"},
      {"1e39", "float32 range"},      {"0x10", "is not a number"},
      {"1.5e", "is not a number"},    {"\"1,5\"", "is not a number"},
      {"+", "is not a number"},       {"1 2", "is not a number"},
  };
  for (const auto& [cell, why] : cases) {
    SCOPED_TRACE(cell);
    const std::string path = write_csv(dir, "n.csv", "a,b,y\n1,2,k\n3," + cell + ",k\n");
    expect_error([&] { load_csv_classification(path); }, ErrorKind::InvalidArgument,
                 {path, "line 3", "column 2 ('b')", why});
    expect_error([&] { load_csv_regression(path, regression({"a"}, "y")); },
                 ErrorKind::InvalidArgument, {path, "line 3", "column 2 ('b')", why});
    // As a regression target.
    const std::string target = write_csv(dir, "t.csv", "a,b\n1,2\n3," + cell + "\n");
    expect_error([&] { load_csv_regression(target, regression()); }, ErrorKind::InvalidArgument,
                 {target, "line 3", "column 2 ('b')", why});
  }
  const std::string noheader = write_csv(dir, "h.csv", "1,2,k\nx,2,k\n");
  expect_error([&] { load_csv_classification(noheader, classification("", false)); },
               ErrorKind::InvalidArgument, {noheader, "line 2, column 1: 'x' is not a number"});
}

TEST(CsvErrors, EmptyLabelOrTask) {
  TempDir dir;
  const std::string path = write_csv(dir, "e.csv", "a,y\n1,k\n2,\n");
  expect_error([&] { load_csv_classification(path); }, ErrorKind::InvalidArgument,
               {path, "line 3", "column 2 ('y')", "label cell is empty"});
  const std::string task = write_csv(dir, "t.csv", "u,a,y\nq,1,2\n\"\",1,2\n");
  expect_error([&] { load_csv_regression(task, regression({}, "u")); }, ErrorKind::InvalidArgument,
               {task, "line 3", "column 1 ('u')", "task cell is empty"});
}

TEST(CsvErrors, UnknownOrAmbiguousColumns) {
  TempDir dir;
  const std::string path = write_csv(dir, "c.csv", "a,b,y\n1,2,3\n");
  expect_error([&] { load_csv_classification(path, classification("label")); },
               ErrorKind::InvalidArgument,
               {path, "line 1", "label_column 'label'", "'a', 'b', 'y'"});
  expect_error([&] { load_csv_classification(path, classification("3")); },
               ErrorKind::InvalidArgument, {path, "line 1", "out of range", "indices 0..2"});
  expect_error([&] { load_csv_regression(path, regression({"y", "w"})); },
               ErrorKind::InvalidArgument, {path, "line 1", "target column 'w'"});
  expect_error([&] { load_csv_regression(path, regression({"y"}, "user")); },
               ErrorKind::InvalidArgument, {path, "line 1", "task_column 'user'"});
  expect_error([&] { load_csv_regression(path, regression({"y", "2"})); },
               ErrorKind::InvalidArgument, {path, "line 1", "column 3 ('y') twice"});
  expect_error([&] { load_csv_regression(path, regression({"y"}, "y")); },
               ErrorKind::InvalidArgument, {path, "line 1", "both a target and the task column"});
  expect_error([&] { load_csv_regression(path, regression({"a", "b"}, "y")); },
               ErrorKind::InvalidArgument, {path, "line 1", "no feature column is left"});
  expect_error([&] { load_csv_regression(path, regression({""})); }, ErrorKind::InvalidArgument,
               {path, "empty entry in target_columns"});
  const std::string twice = write_csv(dir, "d.csv", "a,a,y\n1,2,3\n");
  expect_error([&] { load_csv_classification(twice, classification("a")); },
               ErrorKind::InvalidArgument, {twice, "line 1", "ambiguous", "columns 1 and 2"});
  const std::string noheader = write_csv(dir, "n.csv", "1,2,3\n");
  expect_error([&] { load_csv_classification(noheader, classification("y", false)); },
               ErrorKind::InvalidArgument, {noheader, "line 1", "no header"});
}

TEST(CsvErrors, OptionsOfTheOtherKind) {
  TempDir dir;
  const std::string path = write_csv(dir, "c.csv", "a,y\n1,2\n");
  CsvOptions o = classification("y");
  o.task_column = "a";
  expect_error([&] { load_csv_classification(path, o); }, ErrorKind::InvalidArgument,
               {path, "regression"});
  CsvOptions r = regression();
  r.label_column = "y";
  expect_error([&] { load_csv_regression(path, r); }, ErrorKind::InvalidArgument,
               {path, "label_column"});
}

TEST(CsvErrors, TooFewColumnsNoRowsEmptyFile) {
  TempDir dir;
  const std::string one = write_csv(dir, "one.csv", "y\n1\n2\n");
  expect_error([&] { load_csv_classification(one); }, ErrorKind::InvalidArgument,
               {one, "line 1", "1 column", "at least 2"});
  expect_error([&] { load_csv_regression(one, regression()); }, ErrorKind::InvalidArgument,
               {one, "line 1", "at least 2"});
  const std::string header_only = write_csv(dir, "h.csv", "a,b,y\r\n\r\n");
  expect_error([&] { load_csv_classification(header_only); }, ErrorKind::InvalidArgument,
               {header_only, "line 1", "no data rows after the header"});
  expect_error([&] { load_csv_regression(header_only, regression({}, "a")); },
               ErrorKind::InvalidArgument, {header_only, "line 1", "no data rows"});
  for (const std::string text : {"", "\xEF\xBB\xBF", "\n \n", " \t\r\n\r\n"}) {
    const std::string empty = write_csv(dir, "e.csv", text);
    expect_error([&] { load_csv_classification(empty); }, ErrorKind::InvalidArgument,
                 {empty, "the file is empty"});
  }
}

TEST(CsvErrors, BlankLineInsideTheTable) {
  TempDir dir;
  const std::string path = write_csv(dir, "b.csv", "a,y\n1,k\n\n2,k\n");
  expect_error([&] { load_csv_classification(path); }, ErrorKind::InvalidArgument,
               {path, "line 3", "blank"});
  const std::string leading = write_csv(dir, "l.csv", "\r\na,y\n1,k\n");
  expect_error([&] { load_csv_classification(leading); }, ErrorKind::InvalidArgument,
               {leading, "line 1", "blank"});
}

TEST(CsvErrors, MalformedQuotesAndLineEnds) {
  TempDir dir;
  const std::string open = write_csv(dir, "o.csv", "a,y\n1,k\n2,\"k\n3,k\n");
  expect_error([&] { load_csv_classification(open); }, ErrorKind::InvalidArgument,
               {open, "line 3", "column 2", "not closed"});
  const std::string inner = write_csv(dir, "i.csv", "a,y\n1,k\"x\n");
  expect_error([&] { load_csv_classification(inner); }, ErrorKind::InvalidArgument,
               {inner, "line 2", "column 2", "double quote inside an unquoted cell"});
  const std::string after = write_csv(dir, "a.csv", "a,y\n1,k\n2,\"k\"x\n");
  expect_error([&] { load_csv_classification(after); }, ErrorKind::InvalidArgument,
               {after, "line 3", "column 2", "after the closing quote"});
  const std::string cr = write_csv(dir, "c.csv", "a,y\r1,k\r");
  expect_error([&] { load_csv_classification(cr); }, ErrorKind::InvalidArgument,
               {cr, "line 1", "carriage return"});
}

TEST(CsvErrors, MissingUnreadableAndOversizedFiles) {
  TempDir dir;
  const std::string missing = (dir / "missing.csv").string();
  expect_error([&] { load_csv_classification(missing); }, ErrorKind::Io, {missing});
  expect_error([&] { load_csv_regression(missing, regression()); }, ErrorKind::Io, {missing});
  expect_error([&] { load_csv_classification(dir.str()); }, ErrorKind::Io, {dir.str()});
  // A sparse file one byte over the limit: refused from its size, nothing is read.
  const std::string big = write_csv(dir, "big.csv", "a,y\n1,k\n");
  std::filesystem::resize_file(big, kMaxCsvFileSize + 1);
  expect_error([&] { load_csv_classification(big); }, ErrorKind::Io,
               {big, std::to_string(kMaxCsvFileSize)});
}

// ---- the episode sampler over a CSV dataset -----------------------------------------------------

using Rows = std::map<std::string, std::vector<std::vector<float>>>;

// 3 classes (a, b, c) of 4 rows each, 3 features, rows interleaved in the file; `rows` gets each
// class's rows as written.
std::string make_episode_csv(const TempDir& dir, Rows& rows) {
  std::string text = "f0,f1,f2,label\n";
  const char* names[] = {"c", "a", "b"};
  for (int i = 0; i < 12; ++i) {
    const std::string label = names[i % 3];
    const std::vector<float> r = {static_cast<float>(i), 0.5f * i - 3,
                                  static_cast<float>(i * i) / 8};
    rows[label].push_back(r);
    text += std::to_string(r[0]) + "," + std::to_string(r[1]) + "," + std::to_string(r[2]) + "," +
            label + "\n";
  }
  return write_csv(dir, "episodes.csv", text);
}

TEST(CsvEpisodes, SupportAndQueryRowsComeFromTheFile) {
  TempDir dir;
  Rows rows;
  const std::string path = make_episode_csv(dir, rows);
  auto ds = std::make_shared<const ImageDataset>(load_csv_classification(path));
  ASSERT_EQ(ds->num_classes(), 3);
  EXPECT_EQ(ds->shape(), (ImageShape{1, 1, 3}));
  EpisodeOptions o;
  o.n_way = 3;
  o.k_shot = 2;
  o.q_query = 2;
  o.num_tasks = 4;
  o.seed = 11;
  const EpisodeSampler sampler(ds, whole_dataset(*ds), o);
  const MetaBatch b = sampler.batch(0);
  ASSERT_EQ(b.support_x.size(), static_cast<size_t>(4 * 3 * 2 * 3));
  ASSERT_EQ(b.query_x.size(), static_cast<size_t>(4 * 3 * 2 * 3));
  EXPECT_EQ(b.shape, (ImageShape{1, 1, 3}));
  std::vector<float> expected_support, expected_query;
  for (int t = 0; t < 4; ++t)
    for (int j = 0; j < 3; ++j) {
      const std::string& name = ds->class_name(b.classes[t * 3 + j]);
      for (int e = 0; e < 2; ++e) {
        const auto& s = rows[name][b.support_images[(t * 3 + j) * 2 + e]];
        expected_support.insert(expected_support.end(), s.begin(), s.end());
        const auto& q = rows[name][b.query_images[(t * 3 + j) * 2 + e]];
        expected_query.insert(expected_query.end(), q.begin(), q.end());
        EXPECT_EQ(b.support_y[(t * 3 + j) * 2 + e], b.labels[t * 3 + j]);
      }
    }
  EXPECT_EQ(b.support_x, expected_support);
  EXPECT_EQ(b.query_x, expected_query);
}

TEST(CsvEpisodes, SamplerRefusesTooFewClassesOrRowsAndRotations) {
  TempDir dir;
  Rows rows;
  auto ds =
      std::make_shared<const ImageDataset>(load_csv_classification(make_episode_csv(dir, rows)));
  EpisodeOptions o;
  o.n_way = 4;
  o.k_shot = 1;
  o.q_query = 1;
  expect_error([&] { (void)EpisodeSampler(ds, whole_dataset(*ds), o); }, ErrorKind::InvalidArgument,
               {"episodes.csv", "has 3 classes, fewer than n_way = 4"});
  o.n_way = 3;
  o.k_shot = 3;
  o.q_query = 2;
  expect_error([&] { (void)EpisodeSampler(ds, whole_dataset(*ds), o); }, ErrorKind::InvalidArgument,
               {"episodes.csv", "class 'a' has 4 images, fewer than k_shot + q_query = 5"});
  o.k_shot = 2;
  o.augment_rotations = true;
  expect_error([&] { (void)EpisodeSampler(ds, whole_dataset(*ds), o); }, ErrorKind::InvalidArgument,
               {"episodes.csv", "square images"});
}

}  // namespace
}  // namespace mamlpp::data
