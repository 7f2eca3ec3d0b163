# Core unit tests: one Qt Test executable per core class or feature (included from CMakeLists.txt).
# Expected numbers come from the formulas in DESIGN.md §1, the LongRoPE2 paper, or
# tests/reference/hf_rope_reference.py (a float64 transcription of transformers' modeling_rope_utils.py).
rs_add_test(test_ropegeometry SOURCES test_ropegeometry.cpp LIBS ropescope_core)
rs_add_test(test_factorfamilies SOURCES test_factorfamilies.cpp LIBS ropescope_core)
rs_add_test(test_ropeconfig SOURCES test_ropeconfig.cpp LIBS ropescope_core)
rs_add_test(test_factorfile SOURCES test_factorfile.cpp LIBS ropescope_core)
rs_add_test(test_configexport SOURCES test_configexport.cpp LIBS ropescope_core)
rs_add_test(test_session SOURCES test_session.cpp LIBS ropescope_core)
rs_add_test(test_presets SOURCES test_presets.cpp LIBS ropescope_core)
