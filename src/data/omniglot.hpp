// Omniglot (Lake et al. 2015) read straight from the official archives images_background.zip and
// images_evaluation.zip (https://github.com/brendenlake/omniglot, folder python/), without
// unpacking: entries <top>/<Alphabet>/<characterNN>/<XXXX_YY>.png, 105x105 1-bit PNGs. A path
// may also be a folder holding the unpacked layout (e.g. torchvision's omniglot-py/).
//
// A class is one character, named "<Alphabet>/<characterNN>" (the MAML++ reference's label).
// Classes keep the order of the archives given (background's 964, then evaluation's 659), each
// archive's classes sorted by name; a class's 20 images are sorted by file name (drawer 01..20).
//
// Pixels: in the PNGs bit 1 is white paper and bit 0 is ink. By default ink -> 1.0 and
// paper -> 0.0, so images are sparse and zero padding looks like paper. The MAML++ reference feeds
// PIL's raw bits instead (paper 1, ink 0): set ink = 0, background = 1 to reproduce it exactly.
#pragma once

#include <string>
#include <vector>

#include "data/dataset.hpp"
#include "data/resize.hpp"

namespace mamlpp::data {

struct OmniglotOptions {
  int32_t height = 28;  // 105x105 -> 28x28 as the reference
  int32_t width = 28;
  ResizeFilter filter = ResizeFilter::Nearest;  // keeps pixels binary, as the reference's PIL resize
  float ink = 1.0f;
  float background = 0.0f;
  int32_t threads = 0;  // decoding threads; 0 = one per hardware thread
};

// Loads the characters of every archive into one dataset (1 channel). Throws mamlpp::Error naming
// the archive: Io when it is missing or unreadable, Format when it is not a zip, holds no Omniglot
// image, holds a damaged PNG, or repeats a class already read from an earlier archive.
ImageDataset load_omniglot(const std::vector<std::string>& archives,
                           const OmniglotOptions& options = {});

// images_background.zip then images_evaluation.zip from `folder`: all 1623 characters.
ImageDataset load_omniglot_folder(const std::string& folder, const OmniglotOptions& options = {});

// Where to get the archives, for messages.
extern const char* const kOmniglotDownloadHint;

}  // namespace mamlpp::data
