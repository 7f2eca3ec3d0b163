# The background evaluation thread, following run logs, and (with the GUI) the search dock and its
# main-window wiring. The model-backed ones use the tiny llama-plain fixture with the byte tokenizer.
rs_add_test(test_evaluationworker SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_evaluationworker.cpp LIBS ropescope_core)
add_dependencies(test_evaluationworker ropescope-cli)  # resumes the worker's run log
rs_add_test(test_runlogfollower SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_runlogfollower.cpp LIBS ropescope_core)
if(ROPESCOPE_GUI)
  rs_add_test(test_searchpanel SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_searchpanel.cpp LIBS ropescope_widgets)
  rs_add_test(test_mainwindow_search SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_mainwindow_search.cpp LIBS ropescope_app)
endif()
