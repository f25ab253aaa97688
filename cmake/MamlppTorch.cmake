# LibTorch: which one, found and checked in one place (README: "Build against your own LibTorch").
#
#   -DMAMLPP_LIBTORCH=        (default) what find_package(Torch) finds: Debian's libtorch-dev 1.13,
#                             or the LibTorch that CMAKE_PREFIX_PATH / Torch_DIR point to
#   -DMAMLPP_LIBTORCH=pypi    the pinned torch wheel that scripts/deps.sh installs into
#                             MAMLPP_DEPS_PREFIX (scripts/lib/pins.sh holds the pin and the prefix)
#   -DMAMLPP_LIBTORCH=<dir>   a LibTorch root: an unpacked libtorch zip, a torch package folder
#                             (.../site-packages/torch) or the folder that holds one (pip --target)
#   -DMAMLPP_CUDA=ON          CUDA is required: configuring fails, with one message naming the fix,
#                             unless the LibTorch has CUDA and is at least MAMLPP_CUDA_MIN_TORCH.
#                             Whatever this option says, the CUDA code paths are compiled exactly
#                             when the LibTorch has CUDA (a CUDA LibTorch always needs the CUDA
#                             toolkit at configure time: its own CMake files enable CUDA).
#
# Sets MAMLPP_TORCH_VERSION, MAMLPP_TORCH_ROOT (TORCH_INSTALL_PREFIX), MAMLPP_TORCH_HAS_CUDA, and
# defines mamlpp_torch_probe() for configure-time checks against this LibTorch. With CUDA it also
# probes NCCL (MAMLPP_HAVE_NCCL, MAMLPP_NCCL_INCLUDE_DIR, MAMLPP_NCCL_LIBRARY) for the distributed
# work, which links c10d's ProcessGroupNCCL.

# The pin and the prefix live in scripts/lib/pins.sh, shared with scripts/deps.sh.
file(STRINGS ${PROJECT_SOURCE_DIR}/scripts/lib/pins.sh _mamlpp_pins REGEX "^MAMLPP_[A-Z_]+=[^ ]+$")
foreach(_line IN LISTS _mamlpp_pins)
  string(REGEX MATCH "^(MAMLPP_[A-Z_]+)=(.+)$" _ "${_line}")
  set(_pin_${CMAKE_MATCH_1} "${CMAKE_MATCH_2}")
endforeach()
if(NOT _pin_MAMLPP_TORCH_PIN OR NOT _pin_MAMLPP_DEPS_PREFIX_DEFAULT)
  message(FATAL_ERROR "could not read MAMLPP_TORCH_PIN and MAMLPP_DEPS_PREFIX_DEFAULT from scripts/lib/pins.sh")
endif()
set(MAMLPP_TORCH_PIN ${_pin_MAMLPP_TORCH_PIN})
if(DEFINED ENV{MAMLPP_DEPS_PREFIX})
  set(_mamlpp_prefix_default "$ENV{MAMLPP_DEPS_PREFIX}")
else()
  set(_mamlpp_prefix_default "${_pin_MAMLPP_DEPS_PREFIX_DEFAULT}")
endif()

set(MAMLPP_LIBTORCH "" CACHE STRING "LibTorch to build against: empty (find_package's choice), pypi, or a LibTorch root folder")
set(MAMLPP_DEPS_PREFIX "${_mamlpp_prefix_default}" CACHE PATH "Where scripts/deps.sh installs the pinned torch wheel")
option(MAMLPP_CUDA "Require a CUDA LibTorch (fail at configure time otherwise)" OFF)
# CUDA builds are built and tested with LibTorch 2.x only; 1.x CUDA builds want CUDA 11 toolkits.
set(MAMLPP_CUDA_MIN_TORCH 2.0)

set(_mamlpp_fix_cuda "Fix: `bash scripts/deps.sh` (installs torch ${MAMLPP_TORCH_PIN} from PyPI into \
${MAMLPP_DEPS_PREFIX}), then configure a fresh build directory with -DMAMLPP_LIBTORCH=pypi \
-DMAMLPP_CUDA=ON (or -DMAMLPP_LIBTORCH=<root of a CUDA LibTorch ${MAMLPP_CUDA_MIN_TORCH} or newer>); \
or drop -DMAMLPP_CUDA=ON to build for the CPU only.")

# 1. Where the LibTorch is.
set(_mamlpp_root "")
if(MAMLPP_LIBTORCH STREQUAL "pypi")
  set(_mamlpp_root "${MAMLPP_DEPS_PREFIX}/torch-${MAMLPP_TORCH_PIN}/torch")
  if(NOT EXISTS "${_mamlpp_root}/share/cmake/Torch/TorchConfig.cmake")
    message(FATAL_ERROR "MAMLPP_LIBTORCH=pypi: torch ${MAMLPP_TORCH_PIN} is not installed in "
      "${MAMLPP_DEPS_PREFIX}/torch-${MAMLPP_TORCH_PIN}. Fix: `bash scripts/deps.sh` (as root; "
      "MAMLPP_DEPS_PREFIX=<dir> in its environment and here for another prefix).")
  endif()
elseif(MAMLPP_LIBTORCH)
  foreach(_candidate "${MAMLPP_LIBTORCH}" "${MAMLPP_LIBTORCH}/torch")
    if(EXISTS "${_candidate}/share/cmake/Torch/TorchConfig.cmake")
      set(_mamlpp_root "${_candidate}")
      break()
    endif()
  endforeach()
  if(NOT _mamlpp_root)
    message(FATAL_ERROR "MAMLPP_LIBTORCH=${MAMLPP_LIBTORCH}: no share/cmake/Torch/TorchConfig.cmake "
      "there or in its torch/ folder. Give an unpacked libtorch zip, a torch package folder "
      "(python3 -c 'import torch, os; print(os.path.dirname(torch.__file__))'), `pypi`, or nothing "
      "for Debian's libtorch-dev.")
  endif()
endif()
set(_mamlpp_find_args "")
if(_mamlpp_root)
  get_filename_component(_mamlpp_root "${_mamlpp_root}" REALPATH)
  # TorchConfig.cmake finds c10 and c10_cuda with find_library(), which searches CMAKE_PREFIX_PATH
  # before the system: without this, a LibTorch elsewhere would link Debian's /usr/lib/libc10.so.
  list(PREPEND CMAKE_PREFIX_PATH "${_mamlpp_root}")
  set(_mamlpp_find_args PATHS "${_mamlpp_root}/share/cmake/Torch" NO_DEFAULT_PATH)
  set(_mamlpp_config_dir "${_mamlpp_root}/share/cmake/Torch")
else()
  # The folder find_package(Torch) will pick, for the checks below (they only diagnose; the checks
  # after find_package hold whatever it picks).
  find_path(_mamlpp_config_dir TorchConfig.cmake
    HINTS ${Torch_DIR}
    PATH_SUFFIXES share/cmake/Torch lib/cmake/Torch lib/${CMAKE_LIBRARY_ARCHITECTURE}/cmake/Torch
    NO_CACHE)
endif()

# 2. Without loading it: its version, whether it has CUDA, and (if it has) the CUDA toolkit its
#    CMake files need. Each failure is one message that names the fix.
set(_mamlpp_version "")
set(_mamlpp_has_cuda OFF)
if(_mamlpp_config_dir AND EXISTS "${_mamlpp_config_dir}/TorchConfigVersion.cmake")
  file(STRINGS "${_mamlpp_config_dir}/TorchConfigVersion.cmake" _line REGEX "set\\(PACKAGE_VERSION \"")
  string(REGEX MATCH "[0-9]+(\\.[0-9]+)*" _mamlpp_version "${_line}")
  file(GLOB _targets "${_mamlpp_config_dir}/../Caffe2/Caffe2Targets.cmake")
  if(_targets)
    file(STRINGS "${_targets}" _line REGEX "^add_library\\(torch_cuda ")
    if(_line)
      set(_mamlpp_has_cuda ON)
    endif()
  endif()
endif()
if(_mamlpp_has_cuda)
  set(_mamlpp_has_cuda_text "with CUDA, ")
else()
  set(_mamlpp_has_cuda_text "CPU only, ")
endif()
if(MAMLPP_CUDA)
  if(NOT _mamlpp_config_dir)
    message(FATAL_ERROR "MAMLPP_CUDA=ON, but no LibTorch was found. ${_mamlpp_fix_cuda}")
  elseif(_mamlpp_version AND _mamlpp_version VERSION_LESS MAMLPP_CUDA_MIN_TORCH)
    message(FATAL_ERROR "MAMLPP_CUDA=ON, but the LibTorch found is ${_mamlpp_version} "
      "(${_mamlpp_config_dir}), ${_mamlpp_has_cuda_text}older than ${MAMLPP_CUDA_MIN_TORCH}, the "
      "oldest CUDA LibTorch libmamlpp builds against. ${_mamlpp_fix_cuda}")
  elseif(NOT _mamlpp_has_cuda)
    message(FATAL_ERROR "MAMLPP_CUDA=ON, but the LibTorch found (${_mamlpp_version} in "
      "${_mamlpp_config_dir}) is a CPU-only build: it has no torch_cuda. ${_mamlpp_fix_cuda}")
  endif()
endif()
if(_mamlpp_has_cuda)
  # PyTorch's CMake files (Caffe2/public/cuda.cmake) find nvcc with FindCUDA and enable_language(CUDA).
  find_program(MAMLPP_NVCC nvcc
    HINTS ${CUDA_TOOLKIT_ROOT_DIR} ${CUDAToolkit_ROOT} ENV CUDA_HOME ENV CUDA_PATH ENV CUDA_BIN_PATH
    PATHS /usr/local/cuda
    PATH_SUFFIXES bin)
  if(NOT MAMLPP_NVCC)
    message(FATAL_ERROR "LibTorch ${_mamlpp_version} (${_mamlpp_config_dir}) is a CUDA build: its CMake "
      "files need the CUDA toolkit (nvcc and headers, the CUDA version the LibTorch was built with), "
      "and none was found. Fix: install it (e.g. under /usr/local/cuda) or pass "
      "-DCUDA_TOOLKIT_ROOT_DIR=<toolkit>; or build against a CPU LibTorch (empty MAMLPP_LIBTORCH: "
      "Debian's libtorch-dev).")
  endif()
endif()

# 3. Load it.
find_package(Torch REQUIRED CONFIG ${_mamlpp_find_args})

# PyTorch's Caffe2/public/mkl.cmake gives its caffe2::mkl target the link directories
# ${MKL_ROOT}/lib/intel64 and friends even when no MKL was found (MKL_ROOT empty): /lib/intel64,
# /lib/win-x64, ... would land in every RUNPATH. MKL comes linked into libtorch_cpu.so anyway.
if(TARGET caffe2::mkl AND NOT MKL_ROOT)
  set_property(TARGET caffe2::mkl PROPERTY INTERFACE_LINK_DIRECTORIES "")
endif()

# 4. What was loaded is what was checked, and whole.
get_filename_component(MAMLPP_TORCH_ROOT "${TORCH_INSTALL_PREFIX}" REALPATH)
set(MAMLPP_TORCH_VERSION "${Torch_VERSION}")
if(TARGET torch_cuda OR C10_CUDA_LIBRARY)
  set(MAMLPP_TORCH_HAS_CUDA ON)
else()
  set(MAMLPP_TORCH_HAS_CUDA OFF)
endif()
if(MAMLPP_CUDA AND (NOT MAMLPP_TORCH_HAS_CUDA OR MAMLPP_TORCH_VERSION VERSION_LESS MAMLPP_CUDA_MIN_TORCH))
  message(FATAL_ERROR "MAMLPP_CUDA=ON, but find_package(Torch) loaded LibTorch ${MAMLPP_TORCH_VERSION} "
    "from ${MAMLPP_TORCH_ROOT} (CUDA: ${MAMLPP_TORCH_HAS_CUDA}). ${_mamlpp_fix_cuda}")
endif()
if(DEFINED CACHE{MAMLPP_TORCH_ROOT_CONFIGURED} AND NOT MAMLPP_TORCH_ROOT_CONFIGURED STREQUAL MAMLPP_TORCH_ROOT)
  message(FATAL_ERROR "This build directory was configured against the LibTorch in "
    "${MAMLPP_TORCH_ROOT_CONFIGURED}, now ${MAMLPP_TORCH_ROOT}: the cached libraries would mix the two. "
    "Fix: configure a fresh build directory (or delete this one).")
endif()
set(MAMLPP_TORCH_ROOT_CONFIGURED "${MAMLPP_TORCH_ROOT}" CACHE INTERNAL "The LibTorch this build directory uses")
foreach(_lib IN ITEMS TORCH_LIBRARY c10_LIBRARY C10_CUDA_LIBRARY)
  if(${_lib})
    get_filename_component(_real "${${_lib}}" REALPATH)
    string(FIND "${_real}" "${MAMLPP_TORCH_ROOT}/" _at)
    if(NOT _at EQUAL 0)
      message(FATAL_ERROR "LibTorch in ${MAMLPP_TORCH_ROOT}, but its ${_lib} resolved to ${_real}, "
        "another LibTorch on this system: the two would be mixed. Fix: point -DMAMLPP_LIBTORCH=<root> "
        "at the LibTorch (instead of Torch_DIR or torch.utils.cmake_prefix_path), in a fresh build "
        "directory.")
    endif()
  endif()
endforeach()

# PyPI's wheel keeps its CUDA libraries (cuDNN, NCCL, cuBLAS, ...) in nvidia-* packages beside the
# torch folder, found at run time through libtorch_cuda.so's own RPATH. The linker must resolve
# libtorch_cuda.so's dependencies to those same files, not to older ones of the same name in the
# CUDA toolkit that CMake's RPATH also lists (NCCL 2.28 there lacks symbols torch 2.12 uses).
get_filename_component(_mamlpp_nvidia "${MAMLPP_TORCH_ROOT}/../nvidia" ABSOLUTE)
set(MAMLPP_TORCH_RPATH_LINK "")
if(IS_DIRECTORY "${_mamlpp_nvidia}")
  file(GLOB _dirs LIST_DIRECTORIES true "${_mamlpp_nvidia}/*/lib")
  list(SORT _dirs)
  string(REPLACE ";" ":" MAMLPP_TORCH_RPATH_LINK "${_dirs}")
  add_link_options("LINKER:-rpath-link,${MAMLPP_TORCH_RPATH_LINK}")
endif()

# Configure-time checks against this LibTorch. try_compile cannot take Torch's imported targets
# (their link interface names a non-imported alias), so probes get plain paths.
set(MAMLPP_TORCH_PROBE_INCLUDES ${TORCH_INCLUDE_DIRS})
set(MAMLPP_TORCH_PROBE_LIBRARIES "")
foreach(_target IN ITEMS torch torch_cpu torch_cuda c10_cuda c10)
  if(TARGET ${_target})
    get_target_property(_loc ${_target} LOCATION)
    if(_loc)
      list(APPEND MAMLPP_TORCH_PROBE_LIBRARIES "${_loc}")
    endif()
  endif()
endforeach()
if(MAMLPP_TORCH_HAS_CUDA)
  list(APPEND MAMLPP_TORCH_PROBE_INCLUDES ${CUDAToolkit_INCLUDE_DIRS})
  if(CUDA_cudart_LIBRARY)
    list(APPEND MAMLPP_TORCH_PROBE_LIBRARIES "${CUDA_cudart_LIBRARY}")
  endif()
endif()

include(CheckCXXSourceCompiles)
# mamlpp_torch_probe(<result> <source> [DEFINITIONS d...] [INCLUDES dir...] [LIBRARIES lib...]):
# <result> (cached) is true when <source> compiles and links against this LibTorch.
function(mamlpp_torch_probe result source)
  cmake_parse_arguments(P "" "" "DEFINITIONS;INCLUDES;LIBRARIES" ${ARGN})
  set(CMAKE_REQUIRED_INCLUDES ${MAMLPP_TORCH_PROBE_INCLUDES} ${P_INCLUDES})
  set(CMAKE_REQUIRED_LIBRARIES ${MAMLPP_TORCH_PROBE_LIBRARIES} ${P_LIBRARIES})
  set(CMAKE_REQUIRED_DEFINITIONS ${P_DEFINITIONS})
  set(CMAKE_REQUIRED_FLAGS "-std=c++17 ${TORCH_CXX_FLAGS}")
  if(MAMLPP_TORCH_RPATH_LINK)
    set(CMAKE_REQUIRED_LINK_OPTIONS "LINKER:-rpath-link,${MAMLPP_TORCH_RPATH_LINK}")
  endif()
  check_cxx_source_compiles("${source}" ${result})
endfunction()

# c10d with Gloo, for distributed meta-training (src/core/distributed.cpp): TCPStore and
# ProcessGroupGloo. c10d's Gloo header includes Gloo's own headers, which Debian's LibTorch leaves to
# libgloo-dev and PyPI's wheel does not ship; libmamlpp only hands Gloo devices that c10d itself made
# back to c10d, so Debian's Gloo headers serve both (the multi-process tests check it at run time).
find_path(MAMLPP_GLOO_INCLUDE_DIR gloo/config.h HINTS "${MAMLPP_TORCH_ROOT}/include")
if(MAMLPP_GLOO_INCLUDE_DIR)
  mamlpp_torch_probe(MAMLPP_HAVE_GLOO [[
    #include <torch/csrc/distributed/c10d/PrefixStore.hpp>
    #include <torch/csrc/distributed/c10d/ProcessGroupGloo.hpp>
    #include <torch/csrc/distributed/c10d/TCPStore.hpp>
    int main(int argc, char**) {
      if (argc > 5) {
        c10d::TCPStoreOptions so;
        auto store = c10::make_intrusive<c10d::TCPStore>("127.0.0.1", so);
        auto opts = c10d::ProcessGroupGloo::Options::create();
        opts->devices.push_back(c10d::ProcessGroupGloo::createDeviceForHostname("127.0.0.1"));
        auto pg = c10::make_intrusive<c10d::ProcessGroupGloo>(
            c10::make_intrusive<c10d::PrefixStore>("p", store), 0, 1, opts);
        std::vector<at::Tensor> ts;
        pg->allreduce(ts)->wait();
      }
      return 0;
    }]]
    DEFINITIONS -DUSE_C10D_GLOO -DUSE_DISTRIBUTED
    INCLUDES "${MAMLPP_GLOO_INCLUDE_DIR}")
endif()
if(MAMLPP_HAVE_GLOO)
  message(STATUS "libmamlpp: c10d with Gloo: yes (Gloo headers in ${MAMLPP_GLOO_INCLUDE_DIR})")
else()
  message(WARNING "libmamlpp: c10d's Gloo backend does not build against this LibTorch (Gloo headers: "
    "${MAMLPP_GLOO_INCLUDE_DIR}): distributed meta-training (maml_group_*) will report "
    "MAML_E_UNSUPPORTED. On Debian: apt-get install libgloo-dev (scripts/deps.sh does).")
endif()

if(MAMLPP_TORCH_HAS_CUDA)
  # cuDNN: LibTorch calls it itself (the cuDNN switches in core/meta_learner.cpp are ATen's); report
  # which one this build will load, for the GPU check's log.
  find_path(MAMLPP_CUDNN_INCLUDE_DIR cudnn_version.h
    HINTS "${_mamlpp_nvidia}/cudnn/include" ${CUDAToolkit_INCLUDE_DIRS} NO_DEFAULT_PATH)
  set(_cudnn "not found")
  if(MAMLPP_CUDNN_INCLUDE_DIR)
    file(STRINGS "${MAMLPP_CUDNN_INCLUDE_DIR}/cudnn_version.h" _v REGEX "^#define CUDNN_(MAJOR|MINOR|PATCHLEVEL) +[0-9]+")
    string(REGEX REPLACE "[^;]*CUDNN_[A-Z]+ +([0-9]+)" "\\1" _v "${_v}")
    string(REPLACE ";" "." _v "${_v}")
    set(_cudnn "${_v} (${MAMLPP_CUDNN_INCLUDE_DIR})")
  endif()

  # NCCL, for c10d's ProcessGroupNCCL (distributed meta-training): the headers and library that
  # match this LibTorch (the wheel's nvidia-nccl first, then the CUDA toolkit's), and a probe that
  # a ProcessGroupNCCL compiles and links.
  find_path(MAMLPP_NCCL_INCLUDE_DIR nccl.h
    HINTS "${_mamlpp_nvidia}/nccl/include" ${CUDAToolkit_INCLUDE_DIRS} NO_DEFAULT_PATH)
  find_library(MAMLPP_NCCL_LIBRARY NAMES nccl libnccl.so.2 NAMES_PER_DIR
    HINTS "${_mamlpp_nvidia}/nccl/lib" ${CUDAToolkit_LIBRARY_DIR} NO_DEFAULT_PATH)
  set(_nccl "not found")
  if(MAMLPP_NCCL_INCLUDE_DIR AND MAMLPP_NCCL_LIBRARY)
    file(STRINGS "${MAMLPP_NCCL_INCLUDE_DIR}/nccl.h" _v REGEX "^#define NCCL_(MAJOR|MINOR|PATCH) +[0-9]+")
    string(REGEX REPLACE "[^;]*NCCL_[A-Z]+ +([0-9]+)" "\\1" _v "${_v}")
    string(REPLACE ";" "." _v "${_v}")
    mamlpp_torch_probe(MAMLPP_HAVE_NCCL [[
      #include <torch/csrc/distributed/c10d/HashStore.hpp>
      #include <torch/csrc/distributed/c10d/ProcessGroupNCCL.hpp>
      #include <nccl.h>
      int main(int argc, char**) {
        int version = 0;
        if (ncclGetVersion(&version) != ncclSuccess) return 1;
        if (argc > 1000) {  // never run: only compiled and linked
          auto store = c10::make_intrusive<c10d::HashStore>();
          auto opts = c10d::ProcessGroupNCCL::Options::create();
          auto pg = c10::make_intrusive<c10d::ProcessGroupNCCL>(store, 0, 1, opts);
          return pg->getSize();
        }
        return version > 0 ? 0 : 1;
      }]]
      DEFINITIONS -DUSE_C10D_NCCL -DUSE_DISTRIBUTED
      INCLUDES "${MAMLPP_NCCL_INCLUDE_DIR}"
      LIBRARIES "${MAMLPP_NCCL_LIBRARY}")
    set(_nccl "${_v} (${MAMLPP_NCCL_LIBRARY}); ProcessGroupNCCL compiles and links: ${MAMLPP_HAVE_NCCL}")
  endif()
  message(STATUS "libmamlpp: LibTorch ${MAMLPP_TORCH_VERSION} with CUDA ${CUDAToolkit_VERSION} "
    "(${MAMLPP_TORCH_ROOT}); nvcc ${MAMLPP_NVCC}")
  message(STATUS "libmamlpp: cuDNN ${_cudnn}")
  message(STATUS "libmamlpp: NCCL ${_nccl}")
else()
  message(STATUS "libmamlpp: LibTorch ${MAMLPP_TORCH_VERSION}, CPU only (${MAMLPP_TORCH_ROOT})")
endif()
