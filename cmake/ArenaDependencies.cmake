# Finds every dependency the client named. A missing one stops configuration with the command
# that installs it: nothing is silently switched off.
set(ARENA_FIX "run tools/setup.sh (it installs the Debian packages and the pinned torch wheel)")

find_package(Python3 REQUIRED COMPONENTS Interpreter)

# Runs Python `code`, which prints one value per line, into the list `out`; stops configuration
# with the set-up fix when the interpreter cannot import `what`.
function(arena_python_lines out code what)
  execute_process(COMMAND ${Python3_EXECUTABLE} -c "${code}"
    OUTPUT_VARIABLE _lines RESULT_VARIABLE _rc ERROR_QUIET OUTPUT_STRIP_TRAILING_WHITESPACE)
  if(NOT _rc EQUAL 0)
    message(FATAL_ERROR "arena: ${Python3_EXECUTABLE} cannot import ${what}. Fix: ${ARENA_FIX}")
  endif()
  string(REPLACE "\n" ";" _lines "${_lines}")
  set(${out} "${_lines}" PARENT_SCOPE)
endfunction()

# --- libtorch, from PyPI's torch wheel ---------------------------------------------------------
arena_python_lines(_torch_out
  "import torch, torch.utils; print(torch.utils.cmake_prefix_path); print(torch.__version__); print(torch.version.cuda or '')"
  "torch (libtorch for the C++ build)")
list(GET _torch_out 0 ARENA_TORCH_PREFIX)
list(GET _torch_out 1 ARENA_TORCH_VERSION)
list(LENGTH _torch_out _n)
set(ARENA_TORCH_CUDA "")
if(_n GREATER 2)
  list(GET _torch_out 2 ARENA_TORCH_CUDA)
endif()
if(NOT ARENA_TORCH_VERSION MATCHES "^2\\.11\\.0")
  message(FATAL_ERROR "arena: torch ${ARENA_TORCH_VERSION} found, 2.11.0 required (the GPU machines run it). Fix: ${ARENA_FIX}")
endif()

# --- CUDA: the toolkit must match the CUDA version the torch wheel was built with ----------------
set(ARENA_WITH_CUDA "AUTO" CACHE STRING "Build CUDA kernels and NCCL support: AUTO (when torch has CUDA), ON, OFF")
set(ARENA_CUDA OFF)
if(ARENA_TORCH_CUDA AND NOT ARENA_WITH_CUDA STREQUAL "OFF")
  include(CheckLanguage)
  check_language(CUDA)
  if(NOT CMAKE_CUDA_COMPILER)
    message(FATAL_ERROR "arena: torch ${ARENA_TORCH_VERSION} is built for CUDA ${ARENA_TORCH_CUDA} but no nvcc was found. "
      "Fix: install the CUDA ${ARENA_TORCH_CUDA} toolkit (or `pip install nvidia-cuda-nvcc==${ARENA_TORCH_CUDA}.*` and set CUDACXX), "
      "or configure with -DARENA_WITH_CUDA=OFF for a CPU-only build.")
  endif()
  execute_process(COMMAND ${CMAKE_CUDA_COMPILER} --version OUTPUT_VARIABLE _nvcc_out)
  string(REGEX MATCH "release ([0-9]+\\.[0-9]+)" _m "${_nvcc_out}")
  set(ARENA_NVCC_CUDA "${CMAKE_MATCH_1}")
  if(NOT ARENA_NVCC_CUDA VERSION_EQUAL ARENA_TORCH_CUDA)
    message(FATAL_ERROR "arena: nvcc ${CMAKE_CUDA_COMPILER} is CUDA ${ARENA_NVCC_CUDA}, torch was built with CUDA ${ARENA_TORCH_CUDA}. "
      "Mixing them breaks the ABI of the kernels we hand to torch. Fix: point CUDACXX at a CUDA ${ARENA_TORCH_CUDA} nvcc "
      "(e.g. `pip install nvidia-cuda-nvcc==${ARENA_TORCH_CUDA}.*`), or -DARENA_WITH_CUDA=OFF.")
  endif()
  if(NOT DEFINED CMAKE_CUDA_ARCHITECTURES)
    # A100 (sm_80) and H100/H200 (sm_90): the clusters this runs on.
    set(CMAKE_CUDA_ARCHITECTURES 80 90)
  endif()
  enable_language(CUDA)
  set(CMAKE_CUDA_STANDARD 17)
  set(ARENA_CUDA ON)
elseif(ARENA_WITH_CUDA STREQUAL "ON")
  message(FATAL_ERROR "arena: -DARENA_WITH_CUDA=ON but torch ${ARENA_TORCH_VERSION} has no CUDA. Fix: install the CUDA build of torch==2.11.0 from PyPI.")
endif()

list(APPEND CMAKE_PREFIX_PATH "${ARENA_TORCH_PREFIX}")
if(ARENA_CUDA AND NOT DEFINED ENV{TORCH_CUDA_ARCH_LIST})
  set(ENV{TORCH_CUDA_ARCH_LIST} "8.0;9.0")  # what torch's CMake uses instead of CMAKE_CUDA_ARCHITECTURES
endif()
find_package(Torch REQUIRED)
# torch's exported flags carry the C++ ABI define; keep it on every target that links us.
add_library(arena_torch INTERFACE)
target_link_libraries(arena_torch INTERFACE ${TORCH_LIBRARIES})
target_compile_options(arena_torch INTERFACE $<$<COMPILE_LANGUAGE:CXX>:${TORCH_CXX_FLAGS}>)
# The wheel's libtorch.so and libtorch_cpu.so export a private copy of std::filesystem (statically
# linked into them). If they precede libstdc++ in the dynamic lookup order, our std::filesystem
# calls bind to that copy, and e.g. remove_all() jumps to a null pointer. Naming libstdc++ first
# on the link line keeps the system's implementation first in the lookup order.
target_link_options(arena_torch INTERFACE "SHELL:-Wl,--push-state,--no-as-needed -lstdc++ -Wl,--pop-state")
add_library(arena::torch ALIAS arena_torch)

# --- NCCL: the same library torch loads (from the nvidia-nccl wheel), never a second copy --------
if(ARENA_CUDA)
  execute_process(
    COMMAND ${Python3_EXECUTABLE} -c "import nvidia.nccl, os; print(list(nvidia.nccl.__path__)[0])"
    OUTPUT_VARIABLE _nccl_root OUTPUT_STRIP_TRAILING_WHITESPACE ERROR_QUIET)
  find_path(ARENA_NCCL_INCLUDE nccl.h HINTS ${_nccl_root}/include)
  find_library(ARENA_NCCL_LIBRARY NAMES nccl libnccl.so.2 HINTS ${_nccl_root}/lib)
  if(NOT ARENA_NCCL_INCLUDE OR NOT ARENA_NCCL_LIBRARY)
    message(FATAL_ERROR "arena: NCCL not found (looked in the nvidia-nccl wheel at '${_nccl_root}'). Fix: ${ARENA_FIX}")
  endif()
  add_library(arena_nccl INTERFACE)
  target_include_directories(arena_nccl SYSTEM INTERFACE ${ARENA_NCCL_INCLUDE})
  target_link_libraries(arena_nccl INTERFACE ${ARENA_NCCL_LIBRARY})
  add_library(arena::nccl ALIAS arena_nccl)
endif()

# --- The client's other named dependencies, from Debian packages ----------------------------------
find_package(MPI COMPONENTS CXX)
if(NOT MPI_CXX_FOUND)
  message(FATAL_ERROR "arena: OpenMPI not found. Fix: ${ARENA_FIX} (apt-get install libopenmpi-dev openmpi-bin)")
endif()
find_package(HDF5 COMPONENTS C)
if(NOT HDF5_FOUND)
  message(FATAL_ERROR "arena: HDF5 not found. Fix: ${ARENA_FIX} (apt-get install libhdf5-dev)")
endif()
find_package(fmt)
if(NOT fmt_FOUND)
  message(FATAL_ERROR "arena: fmt not found. Fix: ${ARENA_FIX} (apt-get install libfmt-dev)")
endif()
find_package(ZLIB)
if(NOT ZLIB_FOUND)
  message(FATAL_ERROR "arena: zlib not found (gzip-compressed data files). Fix: ${ARENA_FIX} (apt-get install zlib1g-dev)")
endif()
find_package(PkgConfig REQUIRED)
pkg_check_modules(SENTENCEPIECE IMPORTED_TARGET sentencepiece)
if(NOT SENTENCEPIECE_FOUND)
  message(FATAL_ERROR "arena: sentencepiece not found. Fix: ${ARENA_FIX} (apt-get install libsentencepiece-dev)")
endif()

# Small header libraries (see README, "Dependencies").
find_package(nlohmann_json 3.10)
find_package(CLI11 CONFIG)
pkg_check_modules(TOMLPP IMPORTED_TARGET tomlplusplus)
if(NOT nlohmann_json_FOUND OR NOT CLI11_FOUND OR NOT TOMLPP_FOUND)
  message(FATAL_ERROR "arena: nlohmann-json, CLI11 or toml++ missing. Fix: ${ARENA_FIX} "
    "(apt-get install nlohmann-json3-dev libcli11-dev libtomlplusplus-dev)")
endif()
# TensorBoard event files: protoc + libprotobuf for the Event messages, Boost.CRC for CRC-32C.
find_package(Protobuf 3.21)
find_package(Boost 1.74)
find_package(Threads REQUIRED)
if(NOT Protobuf_FOUND OR NOT Protobuf_PROTOC_EXECUTABLE OR NOT Boost_FOUND)
  message(FATAL_ERROR "arena: protobuf (library and protoc) or Boost headers missing (TensorBoard event files). "
    "Fix: ${ARENA_FIX} (apt-get install libprotobuf-dev protobuf-compiler libboost-dev)")
endif()
# torch's CMake config defines protobuf::libprotobuf as an empty stand-in (an alias of an INTERFACE
# library), so FindProtobuf's real target never appears: link Debian's library by its path instead.
# The lite runtime is enough to serialize messages (launch/tensorboard.proto is LITE_RUNTIME).
# Static, not the .so: Debian's libsentencepiece.so.0 exports its own bundled copy of an older
# protobuf-lite under the same symbol names, and a dynamic libprotobuf-lite loses to it (our
# SerializeAsString ran sentencepiece's copy and crashed). Linked into the executable, our calls
# bind to our copy at link time, and --exclude-libs keeps it out of the dynamic symbol table so
# sentencepiece keeps its own.
find_library(ARENA_PROTOBUF_LITE_STATIC NAMES libprotobuf-lite.a)
if(NOT ARENA_PROTOBUF_LITE_STATIC)
  message(FATAL_ERROR "arena: libprotobuf-lite.a not found. Fix: ${ARENA_FIX} (apt-get install libprotobuf-dev)")
endif()
add_library(arena_protobuf_lite INTERFACE)
target_include_directories(arena_protobuf_lite SYSTEM INTERFACE ${Protobuf_INCLUDE_DIRS})
target_link_libraries(arena_protobuf_lite INTERFACE ${ARENA_PROTOBUF_LITE_STATIC} Threads::Threads)
target_link_options(arena_protobuf_lite INTERFACE "LINKER:--exclude-libs,libprotobuf-lite.a")
add_library(arena::protobuf_lite ALIAS arena_protobuf_lite)
find_package(GTest)
if(NOT GTest_FOUND)
  message(FATAL_ERROR "arena: GoogleTest not found. Fix: ${ARENA_FIX} (apt-get install libgtest-dev)")
endif()

message(STATUS "arena: torch ${ARENA_TORCH_VERSION} (CUDA '${ARENA_TORCH_CUDA}'), CUDA kernels ${ARENA_CUDA}")

# torch's include directory bundles its own, newer fmt headers. Put Debian's fmt first on the
# include path (as -I, searched before torch's -isystem dirs) so every translation unit compiles
# against the same fmt it links (libfmt.so from libfmt-dev).
find_path(ARENA_FMT_INCLUDE fmt/format.h PATHS /usr/include /usr/local/include NO_CMAKE_PATH)
set(ARENA_FMT_SHIM ${CMAKE_BINARY_DIR}/fmt-shim)
file(MAKE_DIRECTORY ${ARENA_FMT_SHIM})
file(CREATE_LINK ${ARENA_FMT_INCLUDE}/fmt ${ARENA_FMT_SHIM}/fmt SYMBOLIC)

# One precompiled <torch/torch.h> for the whole project: compiled once, reused by every target
# that includes torch (a plain include costs ~20 s per translation unit on 2 cores).
add_library(arena_torch_pch OBJECT ${PROJECT_SOURCE_DIR}/cmake/pch_anchor.cpp)
target_link_libraries(arena_torch_pch PRIVATE arena::torch)
target_precompile_headers(arena_torch_pch PRIVATE <torch/torch.h>)
function(arena_use_torch_pch target)
  if(ARENA_PCH)
    target_precompile_headers(${target} REUSE_FROM arena_torch_pch)
  endif()
endfunction()

# The real data and tokenizer live beside the checkout (../shared); tests read them there.
set(ARENA_SHARED_DIR "${PROJECT_SOURCE_DIR}/../shared" CACHE PATH "Folder with data/ and gemma/ (real pairs, tokenizer)")
# The real Gemma-3-270M that tools/setup.sh installs (tools/fetch_gemma3_gguf.py); tests that need it
# fail with a message naming the set-up step when it is missing.
if(DEFINED ENV{ARENA_MODELS_DIR})
  set(_arena_models_dir "$ENV{ARENA_MODELS_DIR}")
else()
  set(_arena_models_dir "$ENV{HOME}/.cache/arena/models")
endif()
set(ARENA_GEMMA3_GGUF "${_arena_models_dir}/gemma-3-270m-q4_k_m.gguf" CACHE FILEPATH "The real Gemma-3-270M GGUF")

# Apache Arrow + Parquet (C++) for WSDM's .parquet files: Debian 12 packages no Arrow, so the
# libraries and headers come from PyPI's pyarrow wheel (pinned in tools/setup.sh), as libtorch does.
arena_python_lines(_pa_out
  "import pyarrow as pa; print(pa.get_include()); print(pa.get_library_dirs()[0]); print(pa.__version__)"
  "pyarrow (Arrow/Parquet C++ for WSDM .parquet)")
list(GET _pa_out 0 ARENA_ARROW_INCLUDE)
list(GET _pa_out 1 ARENA_ARROW_LIBDIR)
file(GLOB ARENA_ARROW_LIB "${ARENA_ARROW_LIBDIR}/libarrow.so.[0-9]*")
file(GLOB ARENA_PARQUET_LIB "${ARENA_ARROW_LIBDIR}/libparquet.so.[0-9]*")
if(NOT ARENA_ARROW_LIB OR NOT ARENA_PARQUET_LIB)
  message(FATAL_ERROR "arena: libarrow/libparquet not found in ${ARENA_ARROW_LIBDIR}. Fix: ${ARENA_FIX}")
endif()
add_library(arena_arrow INTERFACE)
target_include_directories(arena_arrow SYSTEM INTERFACE ${ARENA_ARROW_INCLUDE})
target_link_libraries(arena_arrow INTERFACE ${ARENA_PARQUET_LIB} ${ARENA_ARROW_LIB})
target_link_options(arena_arrow INTERFACE "-Wl,-rpath,${ARENA_ARROW_LIBDIR}")
add_library(arena::arrow ALIAS arena_arrow)
