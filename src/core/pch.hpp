// Precompiled header for the C++ core: the part of LibTorch the core uses (ATen ops, autograd).
// Deliberately not <torch/torch.h>, which costs three times as much to parse.
#pragma once

#include <ATen/ATen.h>
#include <torch/csrc/autograd/autograd.h>
#include <torch/csrc/autograd/generated/variable_factories.h>
#include <torch/cuda.h>

#include <cstdint>
#include <memory>
#include <string>
#include <vector>
