// Memory budgets: estimates of what a config and a call need, and the documented limits that
// refuse what no machine could hold before anything is allocated. Without them a 16-stage,
// 4096-filter model (about 10 GB of weights) or an adaptation on 40,000 images ends in an
// allocation failure deep inside LibTorch. The limits are sanity bounds, not a fit to the
// machine: a call under them can still run out of memory, which maml_* report as
// MAML_E_OUT_OF_MEMORY. Torch-free (part of mamlpp_spec).
#pragma once

#include <cstdint>
#include <string>

#include "core/config.hpp"

namespace mamlpp {

// The most meta-parameters a config may have (weights, biases, BN affine rows, LSLR table):
// 2^27, 512 MiB in float32 per copy. A model exists in about six copies during a meta-train step
// (parameters, gradients, two Adam moments, and the update computed aside).
constexpr int64_t kMaxParameters = int64_t{1} << 27;

// The most activation memory one call may need by the estimate below: 16 GiB. Applies to one
// example of a config (validate) and to the inputs of each call (check_call_activations).
constexpr int64_t kMaxCallActivationBytes = int64_t{16} << 30;

// The number of meta-parameters of a config (saturates at INT64_MAX; no overflow).
int64_t parameter_count(const Config& cfg);

// Bytes of activations one example keeps for the backward pass in one forward pass through the
// backbone: per stage the convolution, batch-norm and activation outputs (and the pooled map),
// in the config's dtype. Saturates at INT64_MAX.
int64_t activation_bytes_per_example(const Config& cfg);

// Throws Error(InvalidArgument), naming the fields to lower, when parameter_count exceeds
// kMaxParameters or one example through inner_steps + 1 kept passes exceeds
// kMaxCallActivationBytes. Called by validate().
void check_config_budget(const Config& cfg);

// Throws Error(OutOfMemory) when `examples` examples, each kept for `passes` forward passes,
// need more than kMaxCallActivationBytes: "<what>: <examples> examples would need about X GiB
// of activations ..., more than the limit of 16 GiB per call; <advice>".
void check_call_activations(const Config& cfg, int64_t examples, int64_t passes,
                            const std::string& what, const std::string& advice);

// The most examples a call that keeps `passes` passes may take under the limit (at least 1).
int64_t max_examples_per_call(const Config& cfg, int64_t passes);

}  // namespace mamlpp
