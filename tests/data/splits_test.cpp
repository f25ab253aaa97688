// Class splits on the real Omniglot: the MAML++ reference's seeded split and the Vinyals split.
#include <gtest/gtest.h>

#include <map>
#include <fstream>
#include <set>

#include "data/rotate.hpp"
#include "data/sampler.hpp"
#include "data/splits.hpp"
#include "omniglot_common.hpp"

namespace mamlpp::data {
namespace {

using test::expect_error;
using test::TempDir;

std::string vinyals_dir() { return test::omniglot_dir() + "/splits/vinyals"; }

TEST(ReferenceSplit, SizesDisjointAndCoveringAll) {
  MAMLPP_REQUIRE_OMNIGLOT();
  const auto ds = test::full_omniglot();
  const SplitSet s = reference_split(*ds);
  EXPECT_EQ(s.train.size(), 1150);
  EXPECT_EQ(s.val.size(), 50);
  EXPECT_EQ(s.test.size(), 423);
  EXPECT_NO_THROW(check_disjoint(*ds, s));
  std::set<int32_t> all;
  for (const Split* sp : {&s.train, &s.val, &s.test})
    for (const ClassRef& c : sp->classes) {
      EXPECT_EQ(c.rotation, 0);
      all.insert(c.index);
    }
  EXPECT_EQ(all.size(), 1623u);
}

TEST(ReferenceSplit, EqualsNumpysShuffleOfTheSortedNames) {
  MAMLPP_REQUIRE_OMNIGLOT();
  const auto ds = test::full_omniglot();
  const SplitSet s = reference_split(*ds, 0);
  // Computed with numpy 1.24: RandomState(0).randint(1, 999999) == 985773, then
  // RandomState(985773).shuffle(np.arange(1623)) over the sorted "Alphabet/characterNN" names.
  EXPECT_EQ(ds->class_name(s.train.classes[0].index), "Ojibwe_(Canadian_Aboriginal_Syllabics)/character09");
  EXPECT_EQ(ds->class_name(s.train.classes[1].index), "Mongolian/character20");
  EXPECT_EQ(ds->class_name(s.train.classes[2].index), "Gujarati/character10");
  EXPECT_EQ(ds->class_name(s.val.classes[0].index), "Arcadian/character20");
  EXPECT_EQ(ds->class_name(s.test.classes[0].index), "Sylheti/character11");
  EXPECT_EQ(ds->class_name(s.test.classes[422].index), "Malayalam/character21");
  // Another seed, another split; the same seed, the same split.
  EXPECT_NE(reference_split(*ds, 1).train.classes[0], s.train.classes[0]);
  EXPECT_EQ(reference_split(*ds, 0).test.classes, s.test.classes);
}

TEST(VinyalsSplit, SizesAndCharactersDisjoint) {
  MAMLPP_REQUIRE_OMNIGLOT();
  const auto ds = test::full_omniglot();
  const SplitSet s = vinyals_split(*ds, vinyals_dir());
  EXPECT_EQ(s.train.size(), 4112);
  EXPECT_EQ(s.val.size(), 688);
  EXPECT_EQ(s.test.size(), 1692);
  EXPECT_NO_THROW(check_disjoint(*ds, s, /*by_character=*/true));
  std::map<int32_t, std::set<int32_t>> rotations;
  for (const Split* sp : {&s.train, &s.val, &s.test})
    for (const ClassRef& c : sp->classes) rotations[c.index].insert(c.rotation);
  EXPECT_EQ(rotations.size(), 1623u);
  for (const auto& [cls, rots] : rotations) EXPECT_EQ(rots.size(), 4u) << ds->class_name(cls);
  std::set<int32_t> train_chars;
  for (const ClassRef& c : s.train.classes) train_chars.insert(c.index);
  EXPECT_EQ(train_chars.size(), 1028u);
}

TEST(VinyalsSplit, RotatedClassesServeRotatedImages) {
  MAMLPP_REQUIRE_OMNIGLOT();
  const auto ds = test::full_omniglot();
  EpisodeOptions o;
  o.n_way = 20;
  o.num_tasks = 4;
  const EpisodeSampler sampler(ds, vinyals_split(*ds, vinyals_dir()).test, o);
  const MetaBatch b = sampler.batch(0);
  std::vector<float> want(28 * 28);
  std::set<int32_t> seen;
  for (int slot = 0; slot < 4 * 20; ++slot) {
    seen.insert(b.rotations[slot]);
    rotate_quarter_turns(ds->image(b.classes[slot], b.support_images[slot]), want.data(), 1, 28,
                         b.rotations[slot]);
    EXPECT_TRUE(std::equal(want.begin(), want.end(), b.support_x.begin() + slot * 28 * 28));
  }
  EXPECT_EQ(seen.size(), 4u);
}

TEST(SplitErrors, SplitFileProblemsNameFileAndLine) {
  MAMLPP_REQUIRE_OMNIGLOT();
  const auto ds = test::full_omniglot();
  TempDir dir;
  const std::string unknown = (dir / "unknown.txt").string();
  test::write_bytes(unknown, {});
  {
    std::ofstream f(unknown);
    f << "Greek/character01/rot000\nKlingon/character01/rot090\n";
  }
  expect_error([&] { read_split_file(*ds, unknown, "x"); }, ErrorKind::Format,
               {unknown, "line 2", "Klingon/character01"});
  const std::string bad_rot = (dir / "bad.txt").string();
  {
    std::ofstream f(bad_rot);
    f << "Greek/character01/rot045\n";
  }
  expect_error([&] { read_split_file(*ds, bad_rot, "x"); }, ErrorKind::Format, {bad_rot, "line 1"});
  expect_error([&] { vinyals_split(*ds, (dir / "nope").string()); }, ErrorKind::Io, {"train.txt"});
  // A class in two splits is refused, naming it.
  SplitSet s = reference_split(*ds);
  s.val.classes.push_back(s.test.classes[5]);
  expect_error([&] { check_disjoint(*ds, s); }, ErrorKind::InvalidArgument,
               {ds->class_name(s.test.classes[5].index), "'val'", "'test'"});
}

}  // namespace
}  // namespace mamlpp::data
