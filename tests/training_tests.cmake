# Training (core/trainer.h): the safetensors writer, the corpus and packing, and the trainer itself.
# test_trainer inspects the packed tensors (core/trainer_p.h), hence LibTorch and no Qt keywords.
rs_add_test(test_safetensors_writer SOURCES test_safetensors_writer.cpp LIBS ropescope_core)
rs_add_test(test_trainingcorpus SOURCES test_trainingcorpus.cpp LIBS ropescope_core)
rs_add_test(test_trainer SOURCES test_trainer.cpp LIBS ropescope_core ${TORCH_LIBRARIES})
target_include_directories(test_trainer SYSTEM PRIVATE ${TORCH_INCLUDE_DIRS})
target_compile_definitions(test_trainer PRIVATE QT_NO_KEYWORDS)

# The shipped embedded model (resources/embedded-model), trained by scripts/train-embedded-model.sh.
rs_add_test(test_embeddedmodel SOURCES test_embeddedmodel.cpp LIBS ropescope_core)
target_compile_definitions(test_embeddedmodel PRIVATE ROPESCOPE_SOURCE_DIR="${PROJECT_SOURCE_DIR}")
# The embedded model at 8 × L_train (2.4M parameters, 4096 tokens, base and fine-tuned): 2.5 minutes
# alone on 2 CPU cores, more beside other tests.
set_tests_properties(test_embeddedmodel PROPERTIES TIMEOUT 900)
