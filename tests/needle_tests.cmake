rs_add_test(test_needle SOURCES test_needle.cpp LIBS ropescope_core)
