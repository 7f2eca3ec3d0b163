# GUI tests (offscreen): the document model, each view, and the main window.
rs_add_test(test_factordocument SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_factordocument.cpp LIBS ropescope_widgets)
rs_add_test(test_factorsview SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_factorsview.cpp LIBS ropescope_widgets)
rs_add_test(test_periodsplot SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_periodsplot.cpp LIBS ropescope_widgets)
rs_add_test(test_mainwindow SOURCES ${CMAKE_CURRENT_LIST_DIR}/test_mainwindow.cpp LIBS ropescope_app)
