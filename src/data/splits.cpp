#include "data/splits.hpp"

#include <algorithm>
#include <fstream>
#include <map>
#include <numeric>
#include <random>
#include <set>

#include "common/error.hpp"

namespace mamlpp::data {
namespace {

// numpy's legacy bounded integer in [0, max]: the smallest all-ones mask covering max, then
// rejection of masked 32-bit outputs above max (RandomState.randint / shuffle for max < 2^32).
uint32_t numpy_legacy_interval(std::mt19937& gen, uint32_t max) {
  if (max == 0) return 0;
  uint32_t mask = max;
  mask |= mask >> 1;
  mask |= mask >> 2;
  mask |= mask >> 4;
  mask |= mask >> 8;
  mask |= mask >> 16;
  uint32_t value = static_cast<uint32_t>(gen()) & mask;
  while (value > max) value = static_cast<uint32_t>(gen()) & mask;
  return value;
}

std::string describe(const ImageDataset& ds, const ClassRef& c) {
  std::string s = "'" + ds.class_name(c.index) + "'";
  if (c.rotation != 0) s += " rotated " + std::to_string(90 * c.rotation) + " degrees";
  return s;
}

}  // namespace

SplitSet seeded_split(const ImageDataset& dataset, double train_fraction, double val_fraction,
                      uint32_t seed) {
  if (!(train_fraction >= 0 && val_fraction >= 0 && train_fraction + val_fraction <= 1))
    throw invalid_argument("seeded_split: fractions must be in [0, 1] and sum to at most 1");
  const int32_t n = dataset.num_classes();
  std::vector<int32_t> sorted(n);
  std::iota(sorted.begin(), sorted.end(), 0);
  std::sort(sorted.begin(), sorted.end(), [&](int32_t a, int32_t b) {
    return dataset.class_name(a) < dataset.class_name(b);
  });

  std::mt19937 seeder(seed);
  const uint32_t shuffle_seed = 1 + numpy_legacy_interval(seeder, 999999 - 1 - 1);
  std::mt19937 gen(shuffle_seed);
  std::vector<int32_t> order(n);
  std::iota(order.begin(), order.end(), 0);
  for (int32_t i = n - 1; i >= 1; --i)
    std::swap(order[i], order[numpy_legacy_interval(gen, static_cast<uint32_t>(i))]);

  const auto n_train = static_cast<int32_t>(train_fraction * n);
  const auto n_train_val = static_cast<int32_t>((train_fraction + val_fraction) * n);
  SplitSet s;
  s.train.name = "train";
  s.val.name = "val";
  s.test.name = "test";
  for (int32_t k = 0; k < n; ++k) {
    Split& to = k < n_train ? s.train : (k < n_train_val ? s.val : s.test);
    to.classes.push_back({sorted[order[k]], 0});
  }
  return s;
}

SplitSet reference_split(const ImageDataset& dataset, uint32_t seed) {
  return seeded_split(dataset, 0.70918052988, 0.03080714725, seed);
}

Split read_split_file(const ImageDataset& dataset, const std::string& path, const std::string& name) {
  std::ifstream in(path);
  if (!in) throw io_error(path + ": split file not found or unreadable");
  Split split;
  split.name = name;
  std::set<ClassRef> seen;
  std::string line;
  for (int64_t number = 1; std::getline(in, line); ++number) {
    while (!line.empty() && (line.back() == '\r' || line.back() == ' ' || line.back() == '\t'))
      line.pop_back();
    if (line.empty()) continue;
    const std::string where = path + " line " + std::to_string(number) + ": ";
    const size_t slash = line.rfind('/');
    const std::string rot = slash == std::string::npos ? "" : line.substr(slash + 1);
    int32_t rotation = -1;
    if (rot == "rot000") rotation = 0;
    if (rot == "rot090") rotation = 1;
    if (rot == "rot180") rotation = 2;
    if (rot == "rot270") rotation = 3;
    if (rotation < 0)
      throw format_error(where + "'" + line +
                         "' is not <Alphabet>/<characterNN>/rot<000|090|180|270>");
    const std::string cls = line.substr(0, slash);
    const int32_t index = dataset.find_class(cls);
    if (index < 0)
      throw format_error(where + "class '" + cls + "' is not in " + dataset.source() +
                         "; load both images_background.zip and images_evaluation.zip");
    if (!seen.insert({index, rotation}).second)
      throw format_error(where + "'" + line + "' is listed twice");
    split.classes.push_back({index, rotation});
  }
  if (split.classes.empty()) throw format_error(path + ": split file lists no class");
  return split;
}

SplitSet vinyals_split(const ImageDataset& omniglot, const std::string& folder) {
  SplitSet s;
  s.train = read_split_file(omniglot, folder + "/train.txt", "train");
  s.val = read_split_file(omniglot, folder + "/val.txt", "val");
  s.test = read_split_file(omniglot, folder + "/test.txt", "test");
  return s;
}

SplitSet sequential_split(const ImageDataset& dataset, int32_t train, int32_t val, int32_t test) {
  if (train < 0 || val < 0 || test < 0 || int64_t{train} + val + test > dataset.num_classes())
    throw invalid_argument(dataset.source() + ": cannot split " +
                           std::to_string(dataset.num_classes()) + " classes into " +
                           std::to_string(train) + " / " + std::to_string(val) + " / " +
                           std::to_string(test));
  SplitSet s;
  s.train.name = "train";
  s.val.name = "val";
  s.test.name = "test";
  int32_t next = 0;
  for (auto [split, count] : {std::pair{&s.train, train}, {&s.val, val}, {&s.test, test}})
    for (int32_t k = 0; k < count; ++k) split->classes.push_back({next++, 0});
  return s;
}

Split whole_dataset(const ImageDataset& dataset, std::string name) {
  Split s;
  s.name = std::move(name);
  for (int32_t c = 0; c < dataset.num_classes(); ++c) s.classes.push_back({c, 0});
  return s;
}

void check_disjoint(const ImageDataset& dataset, const SplitSet& splits, bool by_character) {
  std::map<ClassRef, const Split*> owner;
  std::map<int32_t, const Split*> character_owner;
  for (const Split* split : {&splits.train, &splits.val, &splits.test}) {
    for (const ClassRef& c : split->classes) {
      if (c.index < 0 || c.index >= dataset.num_classes() || c.rotation < 0 || c.rotation > 3)
        throw invalid_argument("split '" + split->name + "' refers to a class outside " +
                               dataset.source());
      auto [it, fresh] = owner.emplace(c, split);
      if (!fresh)
        throw invalid_argument("class " + describe(dataset, c) + " is in split '" +
                               it->second->name + "' and in split '" + split->name + "'");
      if (!by_character) continue;
      auto [jt, first] = character_owner.emplace(c.index, split);
      if (!first && jt->second != split)
        throw invalid_argument("class '" + dataset.class_name(c.index) + "' is in split '" +
                               jt->second->name + "' and (rotated) in split '" + split->name + "'");
    }
  }
}

}  // namespace mamlpp::data
