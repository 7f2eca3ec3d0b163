rs_add_test(test_search SOURCES test_search.cpp LIBS ropescope_core)
rs_add_test(test_search_model SOURCES test_search_model.cpp LIBS ropescope_core)
rs_add_test(test_candidatescorer SOURCES test_candidatescorer.cpp LIBS ropescope_core)
