rs_add_test(test_search SOURCES test_search.cpp LIBS ropescope_core)
