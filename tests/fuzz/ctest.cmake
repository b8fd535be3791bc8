# The fuzz harnesses in the regular test run (included from tests/CMakeLists.txt). They build with
# clang in a project of their own (tests/fuzz/CMakeLists.txt) under ${CMAKE_BINARY_DIR}/fuzz:
#   fuzz_build        builds it (a fixture of the two below; ~N min from scratch on 2 cores)
#   fuzz_regressions  every kept finding (tests/fuzz/regressions/<reader>/) replayed once (unit)
#   fuzz_smoke        every harness fuzzed 15 s from its seeds (fuzz)
set(_fuzz_env "ARENA_FUZZ_BUILD_DIR=${CMAKE_BINARY_DIR}/fuzz")
add_test(NAME fuzz_build COMMAND ${CMAKE_COMMAND} -E env ${_fuzz_env} ${PROJECT_SOURCE_DIR}/tools/fuzz.sh --build)
set_tests_properties(fuzz_build PROPERTIES LABELS "unit;fuzz" FIXTURES_SETUP fuzz_build TIMEOUT 1800)
add_test(NAME fuzz_regressions COMMAND ${CMAKE_COMMAND} -E env ${_fuzz_env} ${PROJECT_SOURCE_DIR}/tools/fuzz.sh --replay)
set_tests_properties(fuzz_regressions PROPERTIES LABELS unit FIXTURES_REQUIRED fuzz_build TIMEOUT 300)
# A fixed seed: CI explores the same inputs each time (a prefix of them on a slower machine), so a
# smoke run that passed here does not turn red on a random draw; the long runs stay random.
add_test(NAME fuzz_smoke COMMAND ${CMAKE_COMMAND} -E env ${_fuzz_env} ARENA_FUZZ_SEED=1
  ${PROJECT_SOURCE_DIR}/tools/fuzz.sh 15)
set_tests_properties(fuzz_smoke PROPERTIES LABELS fuzz FIXTURES_REQUIRED fuzz_build TIMEOUT 600)
