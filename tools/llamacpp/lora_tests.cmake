# llama.cpp checks of qforge's LoRA adapters (ctest label llamacpp): lora_agreement.sh with the
# random_lora test tool. Included from exporters/CMakeLists.txt (the adapter code lives there);
# registration is deferred to the end of the root directory, where testing is enabled and the qforge
# target exists (as llamacpp_tests.cmake does).
function(qforge_add_lora_llamacpp_tests)
  if(NOT BUILD_TESTING OR QFORGE_FUZZ)  # the fuzz build has no qforge command
    return()
  endif()
  math(EXPR timeout "300 * ${QFORGE_TIMEOUT_SCALE}")  # QFORGE_TIMEOUT_SCALE: CMakeLists.txt
  add_executable(qforge_random_lora ${PROJECT_SOURCE_DIR}/tools/llamacpp/random_lora.cpp)
  target_link_libraries(qforge_random_lora PRIVATE qforge_exporters)
  add_test(NAME peer.llamacpp_lora COMMAND bash ${PROJECT_SOURCE_DIR}/tools/llamacpp/lora_agreement.sh
           $<TARGET_FILE:qforge> $<TARGET_FILE:qforge_random_lora>)
  set_tests_properties(peer.llamacpp_lora PROPERTIES LABELS "llamacpp" TIMEOUT ${timeout} FAIL_REGULAR_EXPRESSION "FAILED ")
endfunction()
cmake_language(DEFER DIRECTORY ${PROJECT_SOURCE_DIR} CALL qforge_add_lora_llamacpp_tests)
