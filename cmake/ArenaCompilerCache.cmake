# Use ccache when it is installed (tools/setup.sh installs it). PCH files need the sloppiness below.
find_program(ARENA_CCACHE ccache)
if(ARENA_CCACHE)
  set(CMAKE_CXX_COMPILER_LAUNCHER ${CMAKE_COMMAND} -E env CCACHE_SLOPPINESS=pch_defines,time_macros,include_file_mtime,include_file_ctime ${ARENA_CCACHE})
  set(CMAKE_CUDA_COMPILER_LAUNCHER ${ARENA_CCACHE})
endif()
