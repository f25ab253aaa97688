// The batch-norm loops of bn_kernels.hpp. This file is compiled once as it is (the baseline
// build, which also holds the dispatch) and once more through bn_kernels_avx2.cpp with AVX2 and
// FMA enabled. Every inner loop runs over one contiguous plane of an example's channel, and
// `omp simd` (-fopenmp-simd, no OpenMP runtime) lets the compiler vectorise its sums; the sums of
// the planes are then added in double precision. Derivations: docs/ALGORITHM.md.
#ifndef MAMLPP_BN_ISA
#define MAMLPP_BN_ISA base
#define MAMLPP_BN_DISPATCH 1
#endif

#include <cmath>

#include "core/bn_kernels.hpp"

namespace mamlpp {
namespace MAMLPP_BN_ISA {
namespace {

// The plane of example i, channel c.
template <class T>
const T* plane(const T* t, const BnGeometry& g, int64_t i, int64_t c) {
  return t + (i * g.c + c) * g.hw;
}
template <class T>
T* plane(T* t, const BnGeometry& g, int64_t i, int64_t c) {
  return t + (i * g.c + c) * g.hw;
}

template <class T>
void forward(const T* x, const T* gamma, const T* beta, T* y, T* mean, T* rstd, const BnGeometry& g) {
  const double m = static_cast<double>(g.ref * g.hw);
  for (int64_t c = 0; c < g.c; ++c) {
    double sum = 0;
    for (int64_t i = 0; i < g.ref; ++i) {
      const T* p = plane(x, g, i, c);
      T s = 0;
#pragma omp simd reduction(+ : s)
      for (int64_t k = 0; k < g.hw; ++k) s += p[k];
      sum += s;
    }
    const T mu = static_cast<T>(sum / m);
    double squares = 0;  // two passes: the variance of centred values, as LibTorch computes it
    for (int64_t i = 0; i < g.ref; ++i) {
      const T* p = plane(x, g, i, c);
      T s = 0;
#pragma omp simd reduction(+ : s)
      for (int64_t k = 0; k < g.hw; ++k) s += (p[k] - mu) * (p[k] - mu);
      squares += s;
    }
    const double r = 1.0 / std::sqrt(squares / m + g.eps);
    mean[c] = mu;
    rstd[c] = static_cast<T>(r);
    const T scale = static_cast<T>(r * static_cast<double>(gamma[c]));
    const T shift = static_cast<T>(static_cast<double>(beta[c]) - static_cast<double>(mu) * r * static_cast<double>(gamma[c]));
    for (int64_t i = 0; i < g.n; ++i) {
      const T* p = plane(x, g, i, c);
      T* q = plane(y, g, i, c);
#pragma omp simd
      for (int64_t k = 0; k < g.hw; ++k) q[k] = p[k] * scale + shift;
    }
  }
}

// With xhat = (x - mean) rstd and M = ref * hw, per channel:
//   gbeta = sum gy, ggamma = sum gy xhat (over all examples),
//   gx = gamma rstd (gy - [reference example] (gbeta + xhat ggamma) / M).
template <class T>
void backward(const T* gy, const T* x, const T* mean, const T* rstd, const T* gamma, T* gx, T* ggamma, T* gbeta,
              const BnGeometry& g) {
  const T m = static_cast<T>(g.ref * g.hw);
  for (int64_t c = 0; c < g.c; ++c) {
    const T mu = mean[c], r = rstd[c];
    double g1 = 0, g2 = 0;
    for (int64_t i = 0; i < g.n; ++i) {
      const T* p = plane(x, g, i, c);
      const T* d = plane(gy, g, i, c);
      T s1 = 0, s2 = 0;
#pragma omp simd reduction(+ : s1, s2)
      for (int64_t k = 0; k < g.hw; ++k) {
        s1 += d[k];
        s2 += d[k] * (p[k] - mu) * r;
      }
      g1 += s1;
      g2 += s2;
    }
    gbeta[c] = static_cast<T>(g1);
    ggamma[c] = static_cast<T>(g2);
    const T k1 = gamma[c] * r;
    const T c1 = static_cast<T>(g1) / m, c2 = static_cast<T>(g2) / m;
    for (int64_t i = 0; i < g.n; ++i) {
      const T* p = plane(x, g, i, c);
      const T* d = plane(gy, g, i, c);
      T* q = plane(gx, g, i, c);
      if (i < g.ref) {
#pragma omp simd
        for (int64_t k = 0; k < g.hw; ++k) q[k] = k1 * (d[k] - c1 - (p[k] - mu) * r * c2);
      } else {
#pragma omp simd
        for (int64_t k = 0; k < g.hw; ++k) q[k] = k1 * d[k];
      }
    }
  }
}

// L = sum u gx + a ggamma + b gbeta, with backward's results written through G1 = sum gy,
// G2 = sum gy xhat, U1 = sum_ref u, U2 = sum_ref u xhat, UG = sum u gy, k = gamma rstd:
//   L = k (UG - (G1 U1 + G2 U2) / M) + a G2 + b G1.
// dL/dgy = k (u - (U1 + xhat U2) / M) + a xhat + b;  dL/dgamma = rstd (UG - (G1 U1 + G2 U2) / M).
// For x: h = dL/dxhat at fixed rstd = -k (gy U2 + [ref] u G2) / M + a gy, and dL/drstd at fixed
// xhat = gamma (UG - (G1 U1 + G2 U2) / M) = s; through xhat's and rstd's dependence on x:
//   dL/dx = rstd h + [ref] (rstd / M) (-sum h - xhat sum(h xhat) - rstd xhat s),
// where sum h = -k (G1 U2 + U1 G2) / M + a G1 and sum(h xhat) = -2 k G2 U2 / M + a G2.
template <class T>
void double_backward(const T* u, const T* a, const T* b, const T* gy, const T* x, const T* mean, const T* rstd,
                     const T* gamma, T* ggy, T* gx, T* ggamma, const BnGeometry& g) {
  const double m = static_cast<double>(g.ref * g.hw);
  for (int64_t c = 0; c < g.c; ++c) {
    const T mu = mean[c], r = rstd[c];
    double g1 = 0, g2 = 0, u1 = 0, u2 = 0, ug = 0;
    for (int64_t i = 0; i < g.n; ++i) {
      const T* p = plane(x, g, i, c);
      const T* d = plane(gy, g, i, c);
      const T* e = plane(u, g, i, c);
      T s1 = 0, s2 = 0, s3 = 0, s4 = 0, s5 = 0;
#pragma omp simd reduction(+ : s1, s2, s3, s4, s5)
      for (int64_t k = 0; k < g.hw; ++k) {
        const T xh = (p[k] - mu) * r;
        s1 += d[k];
        s2 += d[k] * xh;
        s3 += e[k] * d[k];
        s4 += e[k];
        s5 += e[k] * xh;
      }
      g1 += s1;
      g2 += s2;
      ug += s3;
      if (i < g.ref) {
        u1 += s4;
        u2 += s5;
      }
    }
    const double rr = static_cast<double>(r), gm = static_cast<double>(gamma[c]);
    const double kk = gm * rr, ac = static_cast<double>(a[c]), bc = static_cast<double>(b[c]);
    const double inner = ug - (g1 * u1 + g2 * u2) / m;
    ggamma[c] = static_cast<T>(rr * inner);
    const double s = gm * inner;
    const double hsum = -kk * (g1 * u2 + u1 * g2) / m + ac * g1;
    const double hx = -2.0 * kk * g2 * u2 / m + ac * g2;
    // Per-element coefficients, in T.
    const T tk = static_cast<T>(kk), ta = static_cast<T>(ac), tb = static_cast<T>(bc);
    const T u1m = static_cast<T>(u1 / m), u2m = static_cast<T>(u2 / m);
    const T hk_gy = static_cast<T>(-kk * u2 / m + ac);  // h = hk_gy gy + [ref] hk_u u
    const T hk_u = static_cast<T>(-kk * g2 / m);
    const T ref0 = static_cast<T>(rr / m * -hsum);     // [ref] terms of dL/dx: ref0 + ref1 xhat
    const T ref1 = static_cast<T>(rr / m * (-hx - rr * s));
    for (int64_t i = 0; i < g.n; ++i) {
      const T* p = plane(x, g, i, c);
      const T* d = plane(gy, g, i, c);
      const T* e = plane(u, g, i, c);
      T* q = plane(ggy, g, i, c);
      T* o = plane(gx, g, i, c);
      if (i < g.ref) {
#pragma omp simd
        for (int64_t k = 0; k < g.hw; ++k) {
          const T xh = (p[k] - mu) * r;
          q[k] = tk * (e[k] - u1m - xh * u2m) + ta * xh + tb;
          o[k] = r * (hk_gy * d[k] + hk_u * e[k]) + ref0 + ref1 * xh;
        }
      } else {
#pragma omp simd
        for (int64_t k = 0; k < g.hw; ++k) {
          const T xh = (p[k] - mu) * r;
          q[k] = tk * (e[k] - u1m - xh * u2m) + ta * xh + tb;
          o[k] = r * hk_gy * d[k];
        }
      }
    }
  }
}

}  // namespace

template <class T>
const BnKernels<T>& kernels() {
  static const BnKernels<T> k{&forward<T>, &backward<T>, &double_backward<T>};
  return k;
}
template const BnKernels<float>& kernels<float>();
template const BnKernels<double>& kernels<double>();

}  // namespace MAMLPP_BN_ISA

#ifdef MAMLPP_BN_DISPATCH
#ifdef MAMLPP_BN_HAVE_AVX2
namespace avx2 {
template <class T>
const BnKernels<T>& kernels();
}
#endif

template <class T>
const BnKernels<T>& bn_kernels() {
#ifdef MAMLPP_BN_HAVE_AVX2
  static const bool avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
  if (avx2) return avx2::kernels<T>();
#endif
  return base::kernels<T>();
}
template const BnKernels<float>& bn_kernels<float>();
template const BnKernels<double>& bn_kernels<double>();
#endif

}  // namespace mamlpp
