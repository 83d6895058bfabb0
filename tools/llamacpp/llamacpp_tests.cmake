# ctest entries (label "llamacpp") that check qforge's GGUF files with llama.cpp itself, through the
# node-llama-cpp peer in this folder. Included from cli/CMakeLists.txt (they need the qforge target);
# tests/CMakeLists.txt is shared by all folders, so the registration is deferred to the end of the root
# directory, where testing is enabled (as exporters/CMakeLists.txt does for its ASan fuzz test).
function(qforge_add_llamacpp_tests)
  if(NOT BUILD_TESTING)
    return()
  endif()
  math(EXPR agreement_timeout "1800 * ${QFORGE_TIMEOUT_SCALE}")  # QFORGE_TIMEOUT_SCALE: CMakeLists.txt
  math(EXPR gptq_timeout "1800 * ${QFORGE_TIMEOUT_SCALE}")
  add_test(NAME peer.llamacpp_agreement COMMAND bash ${PROJECT_SOURCE_DIR}/tools/llamacpp/agreement.sh $<TARGET_FILE:qforge>)
  # agreement.sh exits non-zero when any check fails (set -e; agreement.py exits 1); FAILED lines too.
  set_tests_properties(peer.llamacpp_agreement PROPERTIES LABELS "llamacpp" TIMEOUT ${agreement_timeout}
                       FAIL_REGULAR_EXPRESSION "FAILED ")
  # The study's GGUF cells (trainers/study/gguf_cells.h): llama.cpp's KL on every file of a tiny study.
  add_test(NAME peer.llamacpp_study_agreement
           COMMAND bash ${PROJECT_SOURCE_DIR}/tools/llamacpp/study_agreement_tiny.sh $<TARGET_FILE:qforge>)
  set_tests_properties(peer.llamacpp_study_agreement PROPERTIES LABELS "llamacpp" TIMEOUT ${agreement_timeout}
                       FAIL_REGULAR_EXPRESSION "FAILED " PASS_REGULAR_EXPRESSION "agreement: 13 passed, 0 failed")
  # GPTQ into ggml types: the GPTQ Q4_K_M file beats the imatrix one and llama.cpp agrees on it.
  add_test(NAME peer.llamacpp_gptq_gguf COMMAND bash ${PROJECT_SOURCE_DIR}/tools/llamacpp/gptq_gguf.sh $<TARGET_FILE:qforge>)
  set_tests_properties(peer.llamacpp_gptq_gguf PROPERTIES LABELS "llamacpp" TIMEOUT ${gptq_timeout}
                       FAIL_REGULAR_EXPRESSION "FAILED " PASS_REGULAR_EXPRESSION "gptq gguf checks passed")
  # Every file type of the mix table, quantized by qforge and by llama-quantize (BUILD/llamacpp-tools,
  # built by `make bench`) on three small random llamas, with and without imatrix: identical files.
  add_test(NAME peer.llama_quantize_presets
           COMMAND bash ${PROJECT_SOURCE_DIR}/tools/llamacpp/quantize_presets.sh $<TARGET_FILE:qforge>
                   $<TARGET_FILE:make_random_llama_gguf> ${CMAKE_BINARY_DIR}/llamacpp-tools/build/bin/llama-quantize)
  set_tests_properties(peer.llama_quantize_presets PROPERTIES LABELS "llamacpp" TIMEOUT ${gptq_timeout} SKIP_RETURN_CODE 77
                       FAIL_REGULAR_EXPRESSION "FAILED |identical=0" PASS_REGULAR_EXPRESSION "presets: [0-9]+ identical, 0 differ")
  # Qwen2 with a gpt2 vocabulary (docs/gguf.md §13, §14): qforge's export in llama.cpp (tokenization and
  # probabilities), and llama-quantize's re-quantization of it read by qforge (skipped, 77, without the binary).
  math(EXPR qwen2_timeout "600 * ${QFORGE_TIMEOUT_SCALE}")
  add_test(NAME peer.llamacpp_qwen2 COMMAND bash ${PROJECT_SOURCE_DIR}/tools/llamacpp/qwen2_gguf.sh $<TARGET_FILE:qforge> agreement)
  set_tests_properties(peer.llamacpp_qwen2 PROPERTIES LABELS "llamacpp" TIMEOUT ${qwen2_timeout}
                       FAIL_REGULAR_EXPRESSION "FAILED " PASS_REGULAR_EXPRESSION "qwen2 gguf: [0-9]+ passed, 0 failed")
  # A LoRA on the qwen2 file, exported as a GGUF adapter of arch qwen2, applied by llama.cpp.
  add_test(NAME peer.llamacpp_qwen2_lora COMMAND bash ${PROJECT_SOURCE_DIR}/tools/llamacpp/qwen2_gguf.sh $<TARGET_FILE:qforge> lora)
  set_tests_properties(peer.llamacpp_qwen2_lora PROPERTIES LABELS "llamacpp" TIMEOUT ${qwen2_timeout}
                       FAIL_REGULAR_EXPRESSION "FAILED " PASS_REGULAR_EXPRESSION "qwen2 gguf: [0-9]+ passed, 0 failed")
  add_test(NAME peer.llama_quantize_qwen2
           COMMAND bash ${PROJECT_SOURCE_DIR}/tools/llamacpp/qwen2_gguf.sh $<TARGET_FILE:qforge> quantize
                   ${CMAKE_BINARY_DIR}/llamacpp-tools/build/bin/llama-quantize)
  set_tests_properties(peer.llama_quantize_qwen2 PROPERTIES LABELS "llamacpp" TIMEOUT ${qwen2_timeout} SKIP_RETURN_CODE 77
                       FAIL_REGULAR_EXPRESSION "FAILED " PASS_REGULAR_EXPRESSION "qwen2 gguf: [0-9]+ passed, 0 failed")
  # Rope scaling (docs/gguf.md §15): llama3 (rope_freqs.weight) and linear files of one random tiny Llama in
  # llama.cpp, beyond the original context, with the unscaled file as the control that must disagree.
  add_executable(qforge_rope_llama ${PROJECT_SOURCE_DIR}/tools/llamacpp/rope_llama.cpp)
  target_link_libraries(qforge_rope_llama PRIVATE qforge_exporters)
  math(EXPR rope_timeout "300 * ${QFORGE_TIMEOUT_SCALE}")
  add_test(NAME peer.llamacpp_rope_scaling
           COMMAND bash ${PROJECT_SOURCE_DIR}/tools/llamacpp/rope_scaling.sh $<TARGET_FILE:qforge> $<TARGET_FILE:qforge_rope_llama>
                   agreement)
  set_tests_properties(peer.llamacpp_rope_scaling PROPERTIES LABELS "llamacpp" TIMEOUT ${rope_timeout}
                       FAIL_REGULAR_EXPRESSION "FAILED " PASS_REGULAR_EXPRESSION "rope scaling: 7 passed, 0 failed")
  # llama-quantize (skipped, 77, without it) keeps rope_freqs.weight F32 and the linear keys, as quantize-gguf does.
  add_test(NAME peer.llama_quantize_rope_scaling
           COMMAND bash ${PROJECT_SOURCE_DIR}/tools/llamacpp/rope_scaling.sh $<TARGET_FILE:qforge> $<TARGET_FILE:qforge_rope_llama>
                   quantize ${CMAKE_BINARY_DIR}/llamacpp-tools/build/bin/llama-quantize)
  set_tests_properties(peer.llama_quantize_rope_scaling PROPERTIES LABELS "llamacpp" TIMEOUT ${rope_timeout} SKIP_RETURN_CODE 77
                       FAIL_REGULAR_EXPRESSION "FAILED " PASS_REGULAR_EXPRESSION "rope scaling: 8 passed, 0 failed")
  # Fused attn_qkv files (docs/gguf.md §3), fused by llama.cpp's gguf-py (skipped, 77, without it or llama-quantize).
  add_executable(qforge_fused_qkv_llama ${PROJECT_SOURCE_DIR}/tools/llamacpp/fused_qkv_llama.cpp)
  target_link_libraries(qforge_fused_qkv_llama PRIVATE qforge_exporters)
  set(gguf_py ${CMAKE_BINARY_DIR}/llamacpp-tools/src/gguf-py)
  add_test(NAME peer.llamacpp_fused_qkv
           COMMAND bash ${PROJECT_SOURCE_DIR}/tools/llamacpp/fused_qkv.sh $<TARGET_FILE:qforge> $<TARGET_FILE:qforge_fused_qkv_llama>
                   agreement ${gguf_py})
  set_tests_properties(peer.llamacpp_fused_qkv PROPERTIES LABELS "llamacpp" TIMEOUT ${rope_timeout} SKIP_RETURN_CODE 77
                       FAIL_REGULAR_EXPRESSION "FAILED " PASS_REGULAR_EXPRESSION "fused qkv: [0-9]+ passed, 0 failed")
  add_test(NAME peer.qlora_fused_qkv
           COMMAND bash ${PROJECT_SOURCE_DIR}/tools/llamacpp/fused_qkv.sh $<TARGET_FILE:qforge> $<TARGET_FILE:qforge_fused_qkv_llama>
                   qlora ${gguf_py})
  set_tests_properties(peer.qlora_fused_qkv PROPERTIES LABELS "llamacpp" TIMEOUT ${rope_timeout} SKIP_RETURN_CODE 77
                       FAIL_REGULAR_EXPRESSION "FAILED " PASS_REGULAR_EXPRESSION "fused qkv: [0-9]+ passed, 0 failed")
  add_test(NAME peer.llama_quantize_fused_qkv
           COMMAND bash ${PROJECT_SOURCE_DIR}/tools/llamacpp/fused_qkv.sh $<TARGET_FILE:qforge> $<TARGET_FILE:qforge_fused_qkv_llama>
                   quantize ${gguf_py} ${CMAKE_BINARY_DIR}/llamacpp-tools/build/bin/llama-quantize)
  set_tests_properties(peer.llama_quantize_fused_qkv PROPERTIES LABELS "llamacpp" TIMEOUT ${rope_timeout} SKIP_RETURN_CODE 77
                       FAIL_REGULAR_EXPRESSION "FAILED " PASS_REGULAR_EXPRESSION "fused qkv: [0-9]+ passed, 0 failed")
  # The vocab-file test also runs under "unit" (it clones the bundle itself, or skips); here it is
  # labelled llamacpp too, so `ctest -L llamacpp` covers every check against llama.cpp's own files.
  add_test(NAME peer.llamacpp_vocab_files COMMAND exporters_test_llamacpp_vocab_files)
  set_tests_properties(peer.llamacpp_vocab_files PROPERTIES LABELS "llamacpp")
  # The pre-tokenizers against llama.cpp's tokenizer: exporters.test_llamacpp_pretok_agreement, labelled
  # llamacpp in tests/CMakeLists.txt (one run, not a second copy here).
endfunction()
cmake_language(DEFER DIRECTORY ${PROJECT_SOURCE_DIR} CALL qforge_add_llamacpp_tests)
