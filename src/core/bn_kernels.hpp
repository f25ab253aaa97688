// The loops behind core/bn_op: training-mode batch norm, its derivative and its second
// derivative, each one pass over the activations per channel after one pass of per-channel sums.
// Compiled twice (bn_kernels.cpp): for the baseline x86-64 and, where the CPU has them, for AVX2
// and FMA; bn_kernels() picks the build this CPU runs. Torch-free.
#pragma once

#include <cstdint>

namespace mamlpp {

// x is [n, c, hw] contiguous; the statistics are over examples [0, ref) of every channel.
struct BnGeometry {
  int64_t n, c, hw, ref;
  double eps;
};

template <class T>
struct BnKernels {
  // y = gamma (x - mean) rstd + beta; writes mean and rstd ([c]).
  void (*forward)(const T* x, const T* gamma, const T* beta, T* y, T* mean, T* rstd, const BnGeometry& g);
  // The gradients of sum(gy * y) with respect to x (all examples), gamma and beta.
  void (*backward)(const T* gy, const T* x, const T* mean, const T* rstd, const T* gamma, T* gx, T* ggamma,
                   T* gbeta, const BnGeometry& g);
  // The gradients of sum(u * gx) + sum(a * ggamma) + sum(b * gbeta), where (gx, ggamma, gbeta) is
  // backward's result, with respect to gy, x and gamma (backward is linear in gy, and depends on
  // x through the statistics).
  void (*double_backward)(const T* u, const T* a, const T* b, const T* gy, const T* x, const T* mean, const T* rstd,
                          const T* gamma, T* ggy, T* gx, T* ggamma, const BnGeometry& g);
};

// The build this CPU runs (AVX2 + FMA where it has them).
template <class T>
const BnKernels<T>& bn_kernels();

// The baseline x86-64 (or other architecture's) build, whatever the CPU: for tests that compare
// the two.
namespace base {
template <class T>
const BnKernels<T>& kernels();
}

}  // namespace mamlpp
