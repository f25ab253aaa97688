// A live model's tensors in file order: file_tensors() (core/layout.hpp) names them, this maps
// them onto the meta-parameters and Adam moments. Saving copies them out; loading copies into
// a freshly built model. The one torch-side twin of the order io validates files against.
#pragma once

#include <ATen/ATen.h>

#include <string>
#include <vector>

#include "core/adam.hpp"
#include "core/config.hpp"
#include "core/meta_params.hpp"

namespace mamlpp {

struct NamedTensor {
  std::string name;
  at::Tensor tensor;  // CPU, contiguous
};

// Views of every tensor file_tensors(cfg, adam != nullptr) names, in that order (rows of the LSLR
// table and of its moments are views into them). Writing into a view writes into the model.
std::vector<at::Tensor> state_views(const Config& cfg, const MetaParams& params, const AdamState* adam);

// Copies of the views, named, on the CPU.
std::vector<NamedTensor> export_state(const Config& cfg, const MetaParams& params, const AdamState* adam);

// Copies the named tensors into the model's views (converted to its device and dtype). Throws
// Error(Format) naming a tensor that is missing or misshapen. Writes nothing unless all are there.
void import_state(const Config& cfg, const std::vector<NamedTensor>& tensors, MetaParams& params,
                  AdamState* adam);

}  // namespace mamlpp
