// Class splits: which classes (and which rotations of them) meta-training, validation and test
// draw their tasks from. A split never holds a class twice, and check_disjoint() proves that no
// class is in two splits.
#pragma once

#include <cstdint>
#include <string>
#include <vector>

#include "data/dataset.hpp"

namespace mamlpp::data {

// One class of a split: a dataset class seen under a fixed rotation. Rotated copies of a
// character are distinct classes in the Vinyals split; elsewhere rotation is 0.
struct ClassRef {
  int32_t index = 0;     // class in the dataset
  int32_t rotation = 0;  // quarter turns counter-clockwise (np.rot90's k, PIL's rotate(90 k)), 0..3

  bool operator==(const ClassRef& o) const { return index == o.index && rotation == o.rotation; }
  bool operator!=(const ClassRef& o) const { return !(*this == o); }
  bool operator<(const ClassRef& o) const {
    return index != o.index ? index < o.index : rotation < o.rotation;
  }
};

struct Split {
  std::string name;
  std::vector<ClassRef> classes;
  int32_t size() const { return static_cast<int32_t>(classes.size()); }
};

struct SplitSet {
  Split train, val, test;
};

// The MAML++ reference's seeded split of a dataset's classes (for Omniglot: the 1623 characters of
// both archives, 1150 / 50 / 423). It reproduces the reference's procedure step by step:
//  1. sort the class names ("Alphabet/characterNN") in byte order, as Python's sorted();
//  2. seed MT19937 with `seed` (the reference's val_seed, 0 in its configs) exactly as numpy's
//     RandomState(seed) does, and draw seed2 = randint(1, 999999) from it;
//  3. seed a fresh MT19937 with seed2 and shuffle [0, n) with numpy's legacy Fisher-Yates
//     (from the back; j drawn in [0, i] by masked rejection on 32-bit outputs);
//  4. cut the shuffled list at int(f_train * n) and int((f_train + f_val) * n), with the
//     reference's fractions 0.70918052988 and 0.03080714725: train, val, then test.
// std::mt19937's output and seeding are fixed by the C++ standard and equal numpy's, so the
// membership equals the reference's for the same seed.
SplitSet reference_split(const ImageDataset& dataset, uint32_t seed = 0);

// The split with explicit fractions (the rest is test); same procedure as reference_split.
SplitSet seeded_split(const ImageDataset& dataset, double train_fraction, double val_fraction,
                      uint32_t seed);

// The Vinyals et al. (2016) Omniglot split: <folder>/{train,val,test}.txt, one class a line,
// "<Alphabet>/<characterNN>/rot<DDD>" with DDD in {000, 090, 180, 270}. Every (character,
// rotation) is its own class: 4112 / 688 / 1692 classes from 1028 / 172 / 423 characters.
// Needs a dataset holding both archives. Errors name the file and line.
SplitSet vinyals_split(const ImageDataset& omniglot, const std::string& folder);
Split read_split_file(const ImageDataset& dataset, const std::string& path, const std::string& name);

// Classes [0, train), [train, train + val), [train + val, train + val + test) of the dataset, in
// order; for procedurally generated classes, which are already in random order.
SplitSet sequential_split(const ImageDataset& dataset, int32_t train, int32_t val, int32_t test);

// Every class of the dataset once, rotation 0 (e.g. a pre-split Mini-ImageNet folder).
Split whole_dataset(const ImageDataset& dataset, std::string name = "all");

// Throws mamlpp::Error (InvalidArgument) naming the class when a class (index and rotation) is in
// two splits or twice in one, or when `by_character` and one dataset class appears (under any
// rotation) in two splits.
void check_disjoint(const ImageDataset& dataset, const SplitSet& splits, bool by_character = true);

}  // namespace mamlpp::data
