# The causal LM runtime checked against Hugging Face transformers' own numbers
# (tests/fixtures/models/*/reference.json, made by /work/shared/fixtures/hf-reference/make_fixtures.py).
# The test also checks the LibTorch-level pieces (core/model_p.h), hence LibTorch and no Qt keywords.
rs_add_test(test_model SOURCES test_model.cpp LIBS ropescope_core ${TORCH_LIBRARIES})
target_include_directories(test_model SYSTEM PRIVATE ${TORCH_INCLUDE_DIRS})
target_compile_definitions(test_model PRIVATE QT_NO_KEYWORDS)
