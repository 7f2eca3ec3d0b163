# Where the binaries find their data (app/gui/datadir.h): the installed layout's path from the
# binaries' folder to <datadir>/ropescope (../share/ropescope with GNUInstallDirs' defaults) is the
# one path compiled in, and the build tree gets the same layout, so a binary run from <build>/app
# finds <build>/share/ropescope. The build tree's data folder is made of links into the source
# tree (made once, at configure time: nothing is copied), the installed one of copies
# (cmake/Install.cmake). The two lists below must name the same folders.
include(GNUInstallDirs)
set(ROPESCOPE_DATA_INSTALL_DIR ${CMAKE_INSTALL_DATADIR}/ropescope)
cmake_path(ABSOLUTE_PATH CMAKE_INSTALL_BINDIR BASE_DIRECTORY /prefix OUTPUT_VARIABLE rs_bin_dir)
cmake_path(ABSOLUTE_PATH ROPESCOPE_DATA_INSTALL_DIR BASE_DIRECTORY /prefix OUTPUT_VARIABLE rs_data_dir)
file(RELATIVE_PATH ROPESCOPE_DATA_RELATIVE ${rs_bin_dir} ${rs_data_dir})

# Folder in the data directory → folder of the source tree it holds.
set(ROPESCOPE_DATA_FOLDERS
    "models/fair-4x=results/fair-4x/models"  # the fair miniature's fine-tuned models (File › Open Embedded Model)
    "embedded-model=resources/embedded-model"  # also compiled into the binaries
    "presets=resources/presets"                # also compiled into the binaries
    "help=resources/help")                     # also compiled into the binaries

# <build>/app is where the executables are built (app/CMakeLists.txt).
cmake_path(ABSOLUTE_PATH ROPESCOPE_DATA_RELATIVE BASE_DIRECTORY ${CMAKE_BINARY_DIR}/app NORMALIZE
           OUTPUT_VARIABLE ROPESCOPE_BUILD_DATA_DIR)
foreach(entry IN LISTS ROPESCOPE_DATA_FOLDERS)
  string(REPLACE "=" ";" pair "${entry}")
  list(GET pair 0 folder)
  list(GET pair 1 source)
  set(link ${ROPESCOPE_BUILD_DATA_DIR}/${folder})
  if(NOT IS_SYMLINK ${link})
    cmake_path(GET link PARENT_PATH parent)
    file(MAKE_DIRECTORY ${parent})
    file(CREATE_LINK ${PROJECT_SOURCE_DIR}/${source} ${link} SYMBOLIC)
  endif()
endforeach()
