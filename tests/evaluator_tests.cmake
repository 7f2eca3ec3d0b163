rs_add_test(test_evaluator SOURCES test_evaluator.cpp LIBS ropescope_core)
add_dependencies(test_evaluator ropescope-cli)
