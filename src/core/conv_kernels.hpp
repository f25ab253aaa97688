// The loops behind core/conv_op's first layer: a 3x3 convolution (stride 1, padding 1) of maps
// with one input channel per group, which oneDNN runs at 5 GFLOP/s (it vectorises over input
// channels; the first layer has one), and its weight gradient. Compiled twice (conv_kernels.cpp), as bn_kernels is: for the
// baseline x86-64 and, where the CPU has them, for AVX2 and FMA. Torch-free.
#pragma once

#include <cstdint>

namespace mamlpp {

// x [n, groups, h, w], weight [groups * cout, 1, 3, 3], bias [groups * cout] or null, y [n,
// groups * cout, h, w]; all contiguous.
struct SingleChannelConv {
  int64_t n, groups, cout, h, w;
};

template <class T>
struct SingleChannelConvKernels {
  // y = conv(x, weight) + bias (bias may be null).
  void (*forward)(const T* x, const T* weight, const T* bias, T* y, const SingleChannelConv& g);
  // weight_grad [groups * cout, 1, 3, 3] = d sum(gy * conv(x, weight)) / d weight, for gy shaped as y.
  void (*weight_grad)(const T* x, const T* gy, T* weight_grad, const SingleChannelConv& g);
};

// The build this CPU runs (AVX2 + FMA where it has them).
template <class T>
const SingleChannelConvKernels<T>& single_channel_conv3x3();

}  // namespace mamlpp
