# The CLI contract, exercised through the real ropescope-cli executable.
rs_add_test(test_cli SOURCES test_cli.cpp LIBS Qt6::Core)
add_dependencies(test_cli ropescope-cli)
target_compile_definitions(test_cli PRIVATE ROPESCOPE_PRESETS="${PROJECT_SOURCE_DIR}/resources/presets")
