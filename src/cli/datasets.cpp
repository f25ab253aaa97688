#include "cli/datasets.hpp"

#include <chrono>
#include <cmath>
#include <cstdio>
#include <algorithm>
#include <filesystem>

#include "cli/errors.hpp"
#include "data/image_folder.hpp"
#include "data/omniglot.hpp"
#include "data/synthetic.hpp"

namespace mamlpp::cli {
namespace fs = std::filesystem;

const char* split_name(SplitName s) {
  switch (s) {
    case SplitName::Train: return "train";
    case SplitName::Val: return "val";
    default: return "test";
  }
}

namespace {

bool is_dir(const std::string& p) {
  std::error_code ec;
  return fs::is_directory(p, ec);
}

std::string join(const std::string& a, const std::string& b) { return (fs::path(a) / b).string(); }

data::ResizeFilter filter_of(const std::string& resize, bool omniglot) {
  if (resize == "nearest") return data::ResizeFilter::Nearest;
  if (resize == "bilinear") return data::ResizeFilter::Bilinear;
  return omniglot ? data::ResizeFilter::Nearest : data::ResizeFilter::Bilinear;
}

}  // namespace

DataSource::DataSource(const Settings& settings)
    : settings_(settings),
      shape_{settings.model.image_channels, settings.model.image_height, settings.model.image_width} {
  const Settings& s = settings_;
  // Vectors and regression targets need a model that reads them, and the reverse.
  const maml_config& m = s.model;
  const bool vectors = s.dataset == "sinusoid" || s.dataset == "csv";
  if (s.dataset == "sinusoid" && (m.backbone != MAML_BACKBONE_MLP || m.input_features != 1 ||
                                  m.task_kind != MAML_TASK_REGRESSION || m.n_outputs != 1))
    throw usage_error("the sinusoid dataset gives one feature and one real-valued target per example: set "
                      "backbone=mlp input_features=1 task_kind=regression n_outputs=1 (configs/sinusoid-mamlpp.json "
                      "does)");
  if (s.dataset == "csv" && m.backbone != MAML_BACKBONE_MLP)
    throw usage_error("the csv dataset gives vectors, but the model is convolutional (backbone=conv): set backbone=mlp "
                      "and input_features to the number of feature columns");
  if (!vectors && m.backbone == MAML_BACKBONE_MLP)
    throw usage_error("the " + s.dataset + " dataset gives images, but the model is an MLP over vectors "
                      "(backbone=mlp): use backbone=conv for images, or a vector dataset (sinusoid, csv)");
  if (!vectors && m.task_kind == MAML_TASK_REGRESSION)
    throw usage_error("the " + s.dataset + " dataset gives class labels, but the model does regression "
                      "(task_kind=regression): use task_kind=classification");
  if (s.dataset == "csv") {
    if (s.data_dir.empty()) throw usage_error("the csv dataset needs --data-dir FILE.csv (the table)");
    const bool regression = m.task_kind == MAML_TASK_REGRESSION;
    if (regression && s.csv_task.empty())
      throw usage_error("a regression CSV needs csv_task: the column grouping its rows into tasks (e.g. a user id)");
    if (regression && !s.csv_label.empty())
      throw usage_error("csv_label names a classification table's class column; a regression table takes csv_targets");
    if (!regression && (!s.csv_targets.empty() || !s.csv_task.empty()))
      throw usage_error("csv_targets and csv_task are for regression tables (task_kind=regression)");
    if (regression && static_cast<int32_t>(std::max<size_t>(1, s.csv_targets.size())) != m.n_outputs)
      throw usage_error("the model predicts n_outputs=" + std::to_string(m.n_outputs) + " values, but csv_targets names " +
                        std::to_string(std::max<size_t>(1, s.csv_targets.size())) + " target column(s)");
    if (s.split == "vinyals" || s.split == "pre_split")
      throw usage_error("split '" + s.split + "' does not apply to a CSV table; use auto or seeded");
  }
  if (s.dataset == "csv") {
    kind_ = m.task_kind == MAML_TASK_REGRESSION ? "csv_regression" : "csv";
  } else if (vectors) {
    kind_ = "sinusoid";
  } else if (s.dataset == "synthetic") {
    kind_ = "synthetic";
    if (s.split == "vinyals" || s.split == "pre_split")
      throw usage_error("split '" + s.split + "' does not apply to the synthetic dataset; use auto or seeded");
  } else if (s.dataset == "omniglot") {
    kind_ = "omniglot";
    if (s.model.image_channels != 1)
      throw usage_error("Omniglot images are grey: set image_channels to 1 (it is " +
                        std::to_string(s.model.image_channels) + ")");
    if (s.split == "pre_split")
      throw usage_error("split 'pre_split' is for image folders; Omniglot uses reference, seeded or vinyals");
    if (s.archives.empty() && s.data_dir.empty())
      throw usage_error("the omniglot dataset needs --data-dir DIR holding images_background.zip and "
                        "images_evaluation.zip (or --archives A.zip,B.zip); they are in the python/ folder of "
                        "https://github.com/brendenlake/omniglot");
    if (s.archives.empty() && !is_dir(s.data_dir)) {
      std::error_code ec;
      throw data_error(s.data_dir + (std::filesystem::exists(s.data_dir, ec) ? ": not a folder" : ": no such folder") +
                       "; --data-dir should be the folder holding images_background.zip and images_evaluation.zip "
                       "(check the path for a typo)");
    }
  } else {
    if (s.data_dir.empty())
      throw usage_error("the folder dataset needs --data-dir ROOT (ROOT/<class>/<image> or ROOT/{train,val,test}/<class>/<image>)");
    if (s.split == "vinyals") throw usage_error("split 'vinyals' is for Omniglot only");
    if (!is_dir(s.data_dir)) throw data_error(s.data_dir + ": image folder not found");
    const bool pre = s.split == "pre_split" ||
                     (s.split == "auto" && is_dir(join(s.data_dir, "train")) && is_dir(join(s.data_dir, "test")));
    kind_ = pre ? "folder_pre_split" : "folder_split";
  }
}

void DataSource::check_features(int32_t features) const {
  if (features != settings_.model.input_features)
    throw data_error(settings_.data_dir + ": rows have " + std::to_string(features) +
                     " feature columns, but the model reads input_features = " +
                     std::to_string(settings_.model.input_features) + "; set input_features=" + std::to_string(features));
}

void DataSource::load_shared() {
  if (shared_ || table_) return;
  const Settings& s = settings_;
  const auto t0 = std::chrono::steady_clock::now();
  const double f_train = s.split_fractions[0], f_val = s.split_fractions[1];
  if (kind_ == "csv" || kind_ == "csv_regression") {
    data::CsvOptions o;
    o.has_header = s.csv_header;
    o.label_column = s.csv_label;
    o.target_columns = s.csv_targets;
    o.task_column = s.csv_task;
    if (kind_ == "csv_regression") {
      table_ = with_data_errors("", [&] {
        return std::make_shared<const data::RegressionTable>(data::load_csv_regression(s.data_dir, o));
      });
      check_features(table_->features);
      data::split_groups(table_->num_groups(), f_train, f_val, s.val_seed, groups_[0], groups_[1], groups_[2]);
      load_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
      return;
    }
    shared_ = with_data_errors("", [&] {
      return std::make_shared<const data::ImageDataset>(data::load_csv_classification(s.data_dir, o));
    });
    check_features(static_cast<int32_t>(shared_->shape().numel()));
    splits_ = with_data_errors("", [&] {
      return data::seeded_split(*shared_, f_train, f_val, static_cast<uint32_t>(s.val_seed));
    });
  } else if (kind_ == "synthetic") {
    data::SyntheticOptions o;
    o.shape = shape_;
    o.num_classes = s.synthetic_classes;
    o.images_per_class = s.synthetic_images;
    o.seed = s.synthetic_seed;
    shared_ = with_data_errors("synthetic dataset", [&] {
      return std::make_shared<const data::ImageDataset>(data::make_synthetic(o));
    });
    // Generated classes are already in random order: cut them in sequence.
    const int32_t n = shared_->num_classes();
    const auto train = static_cast<int32_t>(std::floor(f_train * n));
    const auto val = static_cast<int32_t>(std::floor(f_val * n));
    splits_ = data::sequential_split(*shared_, train, val, n - train - val);
  } else if (kind_ == "omniglot") {
    data::OmniglotOptions o;
    o.height = shape_.height;
    o.width = shape_.width;
    o.filter = filter_of(s.resize, true);
    if (s.reference_pixels) {
      o.ink = 0.0f;
      o.background = 1.0f;
    }
    std::vector<std::string> archives = s.archives;
    if (archives.empty())
      archives = {join(s.data_dir, "images_background.zip"), join(s.data_dir, "images_evaluation.zip")};
    shared_ = with_data_errors("", [&] {
      return std::make_shared<const data::ImageDataset>(data::load_omniglot(archives, o));
    });
    if (s.split == "vinyals") {
      const std::string dir = s.split_dir.empty() ? join(s.data_dir, "splits/vinyals") : s.split_dir;
      splits_ = with_data_errors("", [&] { return data::vinyals_split(*shared_, dir); });
    } else {
      splits_ = with_data_errors("", [&] {
        return data::seeded_split(*shared_, f_train, f_val, static_cast<uint32_t>(s.val_seed));
      });
    }
  } else {  // folder_split
    data::ImageFolderOptions o;
    o.channels = shape_.channels;
    o.height = shape_.height;
    o.width = shape_.width;
    o.filter = filter_of(s.resize, false);
    o.mean = s.mean;
    o.std = s.std;
    shared_ = with_data_errors("", [&] {
      return std::make_shared<const data::ImageDataset>(data::load_image_folder(s.data_dir, o));
    });
    splits_ = with_data_errors("", [&] {
      return data::seeded_split(*shared_, f_train, f_val, static_cast<uint32_t>(s.val_seed));
    });
  }
  with_data_errors("", [&] { data::check_disjoint(*shared_, splits_, kind_ == "omniglot"); });
  load_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

const SplitData& DataSource::get(SplitName which) {
  auto it = loaded_.find(which);
  if (it != loaded_.end()) return it->second;
  SplitData d;
  if (kind_ == "folder_pre_split") {
    const auto t0 = std::chrono::steady_clock::now();
    const Settings& s = settings_;
    data::ImageFolderOptions o;
    o.channels = shape_.channels;
    o.height = shape_.height;
    o.width = shape_.width;
    o.filter = filter_of(s.resize, false);
    o.mean = s.mean;
    o.std = s.std;
    const std::string root = join(s.data_dir, split_name(which));
    if (!is_dir(root))
      throw data_error(root + ": folder not found; a pre-split dataset needs " + s.data_dir +
                       "/{train,val,test}/<class>/<image> (set val_tasks 0 to train without val/)");
    d.dataset = with_data_errors("", [&] {
      return std::make_shared<const data::ImageDataset>(data::load_image_folder(root, o));
    });
    d.split = data::whole_dataset(*d.dataset, split_name(which));
    load_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  } else {
    load_shared();
    d.dataset = shared_;
    d.split = which == SplitName::Train ? splits_.train : which == SplitName::Val ? splits_.val : splits_.test;
  }
  return loaded_.emplace(which, std::move(d)).first->second;
}

data::EpisodeSampler DataSource::sampler(SplitName which, int32_t num_tasks, uint64_t seed, bool augment) {
  if (kind_ == "sinusoid" || kind_ == "csv_regression") {
    // Task t of a stream is a function of (seed, t): the train, validation and test streams
    // differ by seed (as the caller passes) and, for a table, by the tasks each split holds.
    data::EpisodeOptions o;
    o.k_shot = settings_.k_shot;
    o.q_query = settings_.q_query;
    o.num_tasks = num_tasks;
    o.seed = seed;
    std::shared_ptr<const data::RegressionTasks> tasks;
    if (kind_ == "sinusoid") {
      tasks = std::make_shared<const data::SinusoidTasks>();
    } else {
      load_shared();
      const auto& groups = groups_[which == SplitName::Train ? 0 : which == SplitName::Val ? 1 : 2];
      tasks = with_data_errors("", [&] {
        return std::make_shared<const data::TableRegressionTasks>(table_, groups, o.k_shot + o.q_query,
                                                                  split_name(which));
      });
    }
    return with_data_errors("", [&] { return data::EpisodeSampler(tasks, split_name(which), o); });
  }
  const SplitData& d = get(which);
  data::EpisodeOptions o;
  o.n_way = settings_.model.n_way;
  o.k_shot = settings_.k_shot;
  o.q_query = settings_.q_query;
  o.num_tasks = num_tasks;
  o.augment_rotations = augment;
  o.seed = seed;
  if ((kind_ == "folder_split" || kind_ == "synthetic" || kind_ == "csv") && d.split.size() < o.n_way && shared_) {
    // The split fractions cut too few classes into this split: say which setting does it.
    const Settings& s = settings_;
    const int32_t total = shared_->num_classes();
    char fractions[64];
    std::snprintf(fractions, sizeof fractions, "[%g,%g]", s.split_fractions[0], s.split_fractions[1]);
    std::string fix;
    // floor(f * total) >= n_way for validation and test, the rest for training.
    const double f = std::ceil(100.0 * o.n_way / total) / 100.0;
    if (total >= 3 * o.n_way && std::floor((1.0 - 2 * f) * total) >= o.n_way) {
      char buf[160];
      std::snprintf(buf, sizeof buf, "give each split at least n_way classes with --set split_fractions=[%g,%g]",
                    1.0 - 2 * f, f);
      fix = buf;
    } else {
      fix = "add classes (a seeded split needs at least 3 x n_way = " + std::to_string(3 * o.n_way) +
            "), lower n_way, or put the images in train/ val/ test/ subfolders";
    }
    throw data_error(description() + ": split '" + d.split.name + "' has " + std::to_string(d.split.size()) +
                     " of the " + std::to_string(total) + " classes, fewer than n_way = " + std::to_string(o.n_way) +
                     ": split_fractions " + fractions + " (train, validation; test is the rest) cut it too small; " +
                     fix + (which == SplitName::Val ? ", or train without validation (--val-tasks 0)" : ""));
  }
  return with_data_errors("", [&] { return data::EpisodeSampler(d.dataset, d.split, o); });
}

std::string DataSource::description() const {
  const Settings& s = settings_;
  if (kind_ == "csv" || kind_ == "csv_regression")
    return "csv (" + s.data_dir + ", " + (kind_ == "csv" ? "classification" : "regression, tasks by " + s.csv_task) +
           ", seeded split)";
  if (kind_ == "sinusoid")
    return data::SinusoidTasks().description() + ", " + std::to_string(s.k_shot) + " support and " +
           std::to_string(s.q_query) + " query points per task";
  const std::string shape = data::to_string(shape_);
  if (kind_ == "synthetic")
    return "synthetic (" + std::to_string(s.synthetic_classes) + " classes x " +
           std::to_string(s.synthetic_images) + " images, seed " + std::to_string(s.synthetic_seed) + ", " +
           shape + ")";
  if (kind_ == "omniglot") {
    const bool reference = std::fabs(s.split_fractions[0] - 0.70918052988) < 1e-12 &&
                           std::fabs(s.split_fractions[1] - 0.03080714725) < 1e-12;
    return "omniglot (" + (s.archives.empty() ? s.data_dir : s.archives.front() + ", ...") + ", " +
           (s.split == "vinyals" ? "Vinyals" : reference ? "MAML++ reference" : "seeded") + " split, " + shape + ")";
  }
  return "folder (" + s.data_dir + ", " + (kind_ == "folder_pre_split" ? "train/val/test" : "seeded split") +
         ", " + shape + ")";
}

bool DataSource::augment_training() const {
  if (settings_.augment >= 0) return settings_.augment == 1;
  return kind_ == "omniglot";
}

}  // namespace mamlpp::cli
