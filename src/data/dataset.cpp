#include "data/dataset.hpp"

#include <cassert>
#include <utility>

#include "common/error.hpp"

namespace mamlpp::data {

std::string to_string(const ImageShape& s) {
  return std::to_string(s.channels) + "x" + std::to_string(s.height) + "x" + std::to_string(s.width);
}

ImageDataset::ImageDataset(ImageShape shape, std::vector<std::string> class_names,
                           const std::vector<int32_t>& images_per_class, std::string source)
    : shape_(shape), names_(std::move(class_names)), source_(std::move(source)) {
  if (shape_.channels < 1 || shape_.height < 1 || shape_.width < 1)
    throw invalid_argument(source_ + ": image shape " + to_string(shape_) + " must be positive");
  if (names_.size() != images_per_class.size())
    throw invalid_argument(source_ + ": " + std::to_string(names_.size()) + " class names but " +
                           std::to_string(images_per_class.size()) + " image counts");
  offsets_.reserve(names_.size() + 1);
  offsets_.push_back(0);
  for (size_t c = 0; c < names_.size(); ++c) {
    if (images_per_class[c] < 0)
      throw invalid_argument(source_ + ": class '" + names_[c] + "' has a negative image count");
    if (!by_name_.emplace(names_[c], static_cast<int32_t>(c)).second)
      throw invalid_argument(source_ + ": class name '" + names_[c] + "' appears twice");
    offsets_.push_back(offsets_.back() + images_per_class[c]);
  }
  pixels_.assign(static_cast<size_t>(offsets_.back() * shape_.numel()), 0.0f);
}

int32_t ImageDataset::num_images(int32_t cls) const {
  assert(cls >= 0 && cls < num_classes());
  return static_cast<int32_t>(offsets_[cls + 1] - offsets_[cls]);
}

const std::string& ImageDataset::class_name(int32_t cls) const {
  assert(cls >= 0 && cls < num_classes());
  return names_[cls];
}

int32_t ImageDataset::find_class(const std::string& name) const {
  auto it = by_name_.find(name);
  return it == by_name_.end() ? -1 : it->second;
}

const float* ImageDataset::image(int32_t cls, int32_t i) const {
  assert(cls >= 0 && cls < num_classes() && i >= 0 && i < num_images(cls));
  return pixels_.data() + (offsets_[cls] + i) * shape_.numel();
}

float* ImageDataset::mutable_image(int32_t cls, int32_t i) {
  assert(cls >= 0 && cls < num_classes() && i >= 0 && i < num_images(cls));
  return pixels_.data() + (offsets_[cls] + i) * shape_.numel();
}

}  // namespace mamlpp::data
