// The single-input-channel 3x3 convolution of conv_kernels.hpp and its weight gradient. This file
// is compiled once as it is (the baseline build, which also holds the dispatch) and once more
// through conv_kernels_avx2.cpp with AVX2 and FMA enabled. Each map is copied once into a zero-padded
// plane; each output row (or gradient plane) is then nine multiply-adds per pixel over three
// shifted views of it, which `omp simd` (-fopenmp-simd, no OpenMP runtime) vectorises. Both run
// at the speed of writing (reading) the 64 output maps.
#ifndef MAMLPP_CONV_ISA
#define MAMLPP_CONV_ISA base
#define MAMLPP_CONV_DISPATCH 1
#endif

#include <algorithm>
#include <vector>

#include "core/conv_kernels.hpp"

namespace mamlpp {
namespace MAMLPP_CONV_ISA {
namespace {

// Copies one map of x ([h, w]) into the interior of `padded` ([h + 2, w + 2], zero border).
template <class T>
void pad(const T* x, std::vector<T>& padded, const SingleChannelConv& g) {
  const int64_t pw = g.w + 2;
  for (int64_t r = 0; r < g.h; ++r) std::copy(x + r * g.w, x + (r + 1) * g.w, padded.data() + (r + 1) * pw + 1);
}

// Whether every value of one map is finite (x - x is NaN exactly for Inf and NaN).
template <class T>
bool finite(const T* x, const SingleChannelConv& g) {
  T sum = 0;
#pragma omp simd reduction(+ : sum)
  for (int64_t k = 0; k < g.h * g.w; ++k) sum += x[k] - x[k];
  return sum == 0;
}

template <class T>
void forward(const T* x, const T* weight, const T* bias, T* y, const SingleChannelConv& g) {
  const int64_t pw = g.w + 2, plane = g.h * g.w;
  std::vector<T> padded(static_cast<size_t>((g.h + 2) * pw), T(0));
  for (int64_t i = 0; i < g.n; ++i) {
    for (int64_t grp = 0; grp < g.groups; ++grp) {
      pad(x + (i * g.groups + grp) * plane, padded, g);
      for (int64_t co = 0; co < g.cout; ++co) {
        const int64_t channel = grp * g.cout + co;
        const T* k = weight + channel * 9;
        const T b = bias != nullptr ? bias[channel] : T(0);
        T* out = y + (i * g.groups * g.cout + channel) * plane;
        for (int64_t r = 0; r < g.h; ++r) {
          const T* p0 = padded.data() + r * pw;
          const T* p1 = p0 + pw;
          const T* p2 = p1 + pw;
          T* o = out + r * g.w;
#pragma omp simd
          for (int64_t c = 0; c < g.w; ++c)
            o[c] = b + k[0] * p0[c] + k[1] * p0[c + 1] + k[2] * p0[c + 2] + k[3] * p1[c] + k[4] * p1[c + 1] +
                   k[5] * p1[c + 2] + k[6] * p2[c] + k[7] * p2[c + 1] + k[8] * p2[c + 2];
        }
      }
    }
  }
}

// Nine correlations per output channel of its gradient plane with the shifted padded input. The
// gradient plane is laid out with the padded row stride (zeros in the two extra columns), so each
// correlation is one long loop over the plane, summed in T per plane and in double over examples.
// Those zeros also meet input values across the row ends, so a map with an infinite or NaN value
// takes a loop per row instead (0 * Inf would be NaN where the convolution has no product).
template <class T>
void weight_grad(const T* x, const T* gy, T* weight_grad, const SingleChannelConv& g) {
  const int64_t pw = g.w + 2, plane = g.h * g.w, span = g.h * pw;
  std::vector<T> padded(static_cast<size_t>((g.h + 2) * pw + 2), T(0));
  std::vector<T> grad(static_cast<size_t>(span), T(0));
  std::vector<double> sums(static_cast<size_t>(g.groups * g.cout * 9), 0.0);
  for (int64_t i = 0; i < g.n; ++i) {
    for (int64_t grp = 0; grp < g.groups; ++grp) {
      const T* map = x + (i * g.groups + grp) * plane;
      pad(map, padded, g);
      const bool whole = finite(map, g);
      for (int64_t co = 0; co < g.cout; ++co) {
        const int64_t channel = grp * g.cout + co;
        const T* d = gy + (i * g.groups * g.cout + channel) * plane;
        for (int64_t r = 0; r < g.h; ++r) std::copy(d + r * g.w, d + (r + 1) * g.w, grad.data() + r * pw);
        // The whole plane as one loop, or (a non-finite map) one row of w values at a time.
        const int64_t rows = whole ? g.h : 1, length = whole ? span : g.w;
        double* acc = sums.data() + channel * 9;
        for (int64_t r = 0; r < g.h; r += rows) {
          const T* e = grad.data() + r * pw;
          const T* p0 = padded.data() + r * pw;
          const T* p1 = p0 + pw;
          const T* p2 = p1 + pw;
          T s0 = 0, s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0, s6 = 0, s7 = 0, s8 = 0;
#pragma omp simd reduction(+ : s0, s1, s2, s3, s4, s5, s6, s7, s8)
          for (int64_t q = 0; q < length; ++q) {
            s0 += e[q] * p0[q];
            s1 += e[q] * p0[q + 1];
            s2 += e[q] * p0[q + 2];
            s3 += e[q] * p1[q];
            s4 += e[q] * p1[q + 1];
            s5 += e[q] * p1[q + 2];
            s6 += e[q] * p2[q];
            s7 += e[q] * p2[q + 1];
            s8 += e[q] * p2[q + 2];
          }
          const T s[9] = {s0, s1, s2, s3, s4, s5, s6, s7, s8};
          for (int k = 0; k < 9; ++k) acc[k] += static_cast<double>(s[k]);
        }
      }
    }
  }
  for (size_t k = 0; k < sums.size(); ++k) weight_grad[k] = static_cast<T>(sums[k]);
}

}  // namespace

template <class T>
const SingleChannelConvKernels<T>& kernels() {
  static const SingleChannelConvKernels<T> k{&forward<T>, &weight_grad<T>};
  return k;
}
template const SingleChannelConvKernels<float>& kernels<float>();
template const SingleChannelConvKernels<double>& kernels<double>();

}  // namespace MAMLPP_CONV_ISA

#ifdef MAMLPP_CONV_DISPATCH
#ifdef MAMLPP_CONV_HAVE_AVX2
namespace avx2 {
template <class T>
const SingleChannelConvKernels<T>& kernels();
}
#endif

template <class T>
const SingleChannelConvKernels<T>& single_channel_conv3x3() {
#ifdef MAMLPP_CONV_HAVE_AVX2
  static const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  if (avx2) return avx2::kernels<T>();
#endif
  return base::kernels<T>();
}
template const SingleChannelConvKernels<float>& single_channel_conv3x3<float>();
template const SingleChannelConvKernels<double>& single_channel_conv3x3<double>();
#endif

}  // namespace mamlpp
