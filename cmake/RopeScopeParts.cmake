# The parts of core (DESIGN.md §2) as one library each, with the allowed arrows as link edges.
#
# rs_add_part(<name> [FOLDER <folder>] [INTERFACE] [TORCH]
#             [SOURCES …] [DEPENDS …] [PUBLIC_DEPENDS …])
#
# Makes ropescope_<name> from core/<folder> (default <name>). Its include root holds one entry,
# <folder>/, a link to the folder: `#include "<folder>/x.h"` works inside the part and in every
# target that links it, and nowhere else. So an include of a part that is not linked — search
# including "runtime/model.h" — is a build error, not a convention.
#
# DEPENDS are linked PRIVATE (the default: a dependency used in .cpp files only); PUBLIC_DEPENDS
# where the part's public headers include the other part's. TORCH links LibTorch PRIVATE and
# builds with QT_NO_KEYWORDS (Qt's `slots` clashes with LibTorch's headers). Parts without TORCH
# get cmake/forbid-libtorch first on their include path, whose stand-ins for LibTorch's entry
# headers stop the build with a message naming the rule.
set(RS_FORBID_LIBTORCH_DIR ${CMAKE_CURRENT_LIST_DIR}/forbid-libtorch)

# LibTorch as one target: SYSTEM includes (its headers warn), its libraries, no Qt keywords.
# Linked PRIVATE by the parts that compute with tensors (runtime, eval, train) and by the tests
# that look inside them.
add_library(ropescope_torch INTERFACE)
target_include_directories(ropescope_torch SYSTEM INTERFACE ${TORCH_INCLUDE_DIRS})
target_link_libraries(ropescope_torch INTERFACE ${TORCH_LIBRARIES})
target_compile_definitions(ropescope_torch INTERFACE QT_NO_KEYWORDS)

# The include root of a folder of core: <build>/include-roots/<root>/<folder> → core/<folder>.
function(rs_include_root root folder source_dir out_var)
  set(dir ${CMAKE_BINARY_DIR}/include-roots/${root})
  file(MAKE_DIRECTORY ${dir})
  if(NOT EXISTS ${dir}/${folder})
    file(CREATE_LINK ${source_dir} ${dir}/${folder} SYMBOLIC)
  endif()
  set(${out_var} ${dir} PARENT_SCOPE)
endfunction()

function(rs_add_part name)
  cmake_parse_arguments(P "INTERFACE;TORCH" "FOLDER" "SOURCES;DEPENDS;PUBLIC_DEPENDS" ${ARGN})
  if(NOT P_FOLDER)
    set(P_FOLDER ${name})
  endif()
  set(target ropescope_${name})
  rs_include_root(${name} ${P_FOLDER} ${CMAKE_CURRENT_SOURCE_DIR} root)
  if(P_INTERFACE)
    add_library(${target} INTERFACE ${P_SOURCES})
    target_include_directories(${target} INTERFACE ${root})
    target_link_libraries(${target} INTERFACE ${P_PUBLIC_DEPENDS} ${P_DEPENDS})
    return()
  endif()
  add_library(${target} STATIC ${P_SOURCES})
  target_include_directories(${target} PUBLIC ${root})
  target_link_libraries(${target} PUBLIC ${P_PUBLIC_DEPENDS} PRIVATE ${P_DEPENDS})
  if(P_TORCH)
    target_link_libraries(${target} PRIVATE ropescope_torch)
  else()
    target_include_directories(${target} BEFORE PRIVATE ${RS_FORBID_LIBTORCH_DIR})
  endif()
  set_target_properties(${target} PROPERTIES POSITION_INDEPENDENT_CODE ON)
endfunction()
