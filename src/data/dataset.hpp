// An in-memory image dataset: classes of images decoded once to float32 CHW at one fixed size.
//
// All pixels live in one contiguous buffer, class after class, so the episode sampler copies
// examples with plain memcpy and never allocates per image.
#pragma once

#include <cstdint>
#include <string>
#include <unordered_map>
#include <vector>

namespace mamlpp::data {

struct ImageShape {
  int32_t channels = 1;
  int32_t height = 28;
  int32_t width = 28;

  int64_t numel() const { return int64_t{channels} * height * width; }
  bool square() const { return height == width; }
  bool operator==(const ImageShape& o) const {
    return channels == o.channels && height == o.height && width == o.width;
  }
  bool operator!=(const ImageShape& o) const { return !(*this == o); }
};

// "CxHxW", for messages.
std::string to_string(const ImageShape& shape);

class ImageDataset {
 public:
  ImageDataset() = default;

  // Allocates zero-filled storage for every image at once; loaders then fill it in place through
  // mutable_image(), from any number of threads (each image slot is independent).
  // `source` says where the data came from (a path, "synthetic(seed=1)") for error messages.
  ImageDataset(ImageShape shape, std::vector<std::string> class_names,
               const std::vector<int32_t>& images_per_class, std::string source);

  const ImageShape& shape() const { return shape_; }
  int32_t channels() const { return shape_.channels; }
  int32_t height() const { return shape_.height; }
  int32_t width() const { return shape_.width; }

  int32_t num_classes() const { return static_cast<int32_t>(names_.size()); }
  int32_t num_images(int32_t cls) const;
  int64_t total_images() const { return offsets_.empty() ? 0 : offsets_.back(); }
  const std::string& class_name(int32_t cls) const;
  // The class index of `name`, or -1 when there is none.
  int32_t find_class(const std::string& name) const;
  const std::string& source() const { return source_; }

  // Image i of class cls: shape().numel() floats, CHW. Unchecked on the hot path (asserts only).
  const float* image(int32_t cls, int32_t i) const;
  float* mutable_image(int32_t cls, int32_t i);

 private:
  ImageShape shape_{};
  std::vector<std::string> names_;
  std::vector<int64_t> offsets_;  // offsets_[c] = index of the first image of class c; size C+1
  std::vector<float> pixels_;
  std::unordered_map<std::string, int32_t> by_name_;
  std::string source_;
};

}  // namespace mamlpp::data
