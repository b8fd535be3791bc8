# arena_test(NAME SOURCES... LABELS l1 [l2] [LIBS ...] [NO_TORCH]): one GoogleTest executable, one
# CTest entry. NO_TORCH: the test includes no torch header (skips the precompiled torch header).
# Labels: unit, parity, mpi, e2e, gpu. CI runs everything but `gpu` (ctest -LE gpu).
function(arena_test name)
  cmake_parse_arguments(T "NO_TORCH" "TIMEOUT" "SOURCES;LABELS;LIBS" ${ARGN})
  add_executable(${name} ${T_SOURCES})
  target_link_libraries(${name} PRIVATE ${T_LIBS} GTest::gtest GTest::gtest_main)
  if(NOT T_NO_TORCH)
    arena_use_torch_pch(${name})
  endif()
  add_test(NAME ${name} COMMAND ${name})
  if(NOT T_TIMEOUT)
    set(T_TIMEOUT 300)
  endif()
  set_tests_properties(${name} PROPERTIES LABELS "${T_LABELS}" TIMEOUT ${T_TIMEOUT}
    ENVIRONMENT "ARENA_SOURCE_DIR=${PROJECT_SOURCE_DIR};ARENA_SHARED_DIR=${ARENA_SHARED_DIR};ARENA_GEMMA3_GGUF=${ARENA_GEMMA3_GGUF};OMP_NUM_THREADS=2")
endfunction()
