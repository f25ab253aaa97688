// Any folder of images laid out root/<class>/<image>: Mini-ImageNet as downloaded, or a user's own.
//
// Classes are root's sub-folders sorted by name (hidden ones skipped); a class's images are its
// files ending in .png, .jpg or .jpeg (any case), sorted by name; other files are ignored. Each
// file is decoded by its signature (PNG or JPEG), converted to `channels` (1 = grey, 3 = RGB),
// resized to height x width, scaled to [0, 1], then normalised per channel: (v - mean[c]) / std[c].
#pragma once

#include <string>
#include <vector>

#include "data/dataset.hpp"
#include "data/resize.hpp"

namespace mamlpp::data {

struct ImageFolderOptions {
  int32_t channels = 3;
  int32_t height = 84;
  int32_t width = 84;
  ResizeFilter filter = ResizeFilter::Bilinear;
  // One value per channel, or empty for none (mean 0, std 1). ImageNet's statistics, as the
  // MAML++ reference uses for Mini-ImageNet: mean {0.485, 0.456, 0.406}, std {0.229, 0.224, 0.225}.
  std::vector<float> mean;
  std::vector<float> std;
  int32_t threads = 0;  // decoding threads; 0 = one per hardware thread
};

// Throws mamlpp::Error: Io when root is missing or not a folder, Format when it has no class
// folder or a file does not decode (the message names the file), InvalidArgument for bad options.
ImageDataset load_image_folder(const std::string& root, const ImageFolderOptions& options = {});

// ImageNet mean/std (for 3 channels), for Mini-ImageNet and other natural images.
ImageFolderOptions imagenet_normalised(int32_t height = 84, int32_t width = 84);

}  // namespace mamlpp::data
