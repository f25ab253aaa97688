// conv_kernels.cpp built for CPUs with AVX2 and FMA (CMake adds -mavx2 -mfma to this file alone).
#define MAMLPP_CONV_ISA avx2
#include "core/conv_kernels.cpp"
