// Dataset selection: which images and which classes the training, validation and test tasks come
// from, as the settings say (synthetic, Omniglot archives, an image folder). Loading is lazy and
// per split, so `eval` on a pre-split folder decodes only test/. Errors are CliError(kExitData)
// naming the archive, folder or file.
#pragma once

#include <map>
#include <memory>
#include <string>

#include "cli/settings.hpp"
#include "data/csv_table.hpp"
#include "data/dataset.hpp"
#include "data/sampler.hpp"
#include "data/splits.hpp"

namespace mamlpp::cli {

enum class SplitName { Train, Val, Test };
const char* split_name(SplitName s);

struct SplitData {
  std::shared_ptr<const data::ImageDataset> dataset;
  data::Split split;
};

class DataSource {
 public:
  // The image shape comes from settings.model (image_channels/height/width).
  explicit DataSource(const Settings& settings);

  const SplitData& get(SplitName which);
  // A sampler over one split with the settings' N, K, Q; checks that every class has enough
  // images and the split enough classes (kExitData naming the dataset/class otherwise).
  data::EpisodeSampler sampler(SplitName which, int32_t num_tasks, uint64_t seed, bool augment);

  // "synthetic (1200 classes x 20 images, seed 0)", "omniglot (…/images_background.zip, …)", …
  std::string description() const;
  // Rotation augmentation for training: the setting, or on for Omniglot when it is null.
  bool augment_training() const;
  double load_seconds() const { return load_seconds_; }

 private:
  void load_shared();  // synthetic / omniglot / a folder or a CSV table cut by a seeded split
  void check_features(int32_t features) const;  // csv: the model reads as many as a row holds
  const Settings settings_;
  data::ImageShape shape_;
  std::string kind_;  // synthetic | omniglot | folder_split | folder_pre_split
  std::shared_ptr<const data::ImageDataset> shared_;
  std::shared_ptr<const data::RegressionTable> table_;  // csv regression
  std::vector<int32_t> groups_[3];                      // csv regression: train, val, test tasks
  data::SplitSet splits_;
  std::map<SplitName, SplitData> loaded_;
  double load_seconds_ = 0;
};

}  // namespace mamlpp::cli
