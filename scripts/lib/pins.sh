# Pinned versions and fixed places, read by the scripts (sourced) and by CMake (cmake/MamlppTorch.cmake
# parses the NAME=value lines). One place to change them.

# PyPI's torch wheel: a complete LibTorch 2.x with CUDA (headers, libtorch_cuda.so, TorchConfig.cmake
# under torch/share/cmake/Torch). Its CUDA runtime, cuDNN and NCCL arrive as nvidia-* wheels.
MAMLPP_TORCH_PIN=2.12.1
# Installed once per machine, outside any checkout, with `pip install --target`:
#   <prefix>/torch-<pin>/torch/share/cmake/Torch/TorchConfig.cmake
MAMLPP_DEPS_PREFIX_DEFAULT=/opt/mamlpp-deps
