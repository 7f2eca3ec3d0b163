rs_add_test(test_tokenizer SOURCES test_tokenizer.cpp LIBS ropescope_core)
