# `cmake --install` and the Debian package (`cpack` in the build folder, or the `package` target):
# the two executables, the data folder <datadir>/ropescope (cmake/DataLayout.cmake lists what it
# holds), the desktop entry and its icon, man pages made from the binaries' --help, the licence.
# The .deb's dependencies are what dpkg-shlibdeps finds the binaries linked against (Qt 6,
# QCustomPlot, LibTorch, simdjson, OpenMPI), so it installs on Debian 12 with
# `apt install ./ropescope_*.deb`.

install(TARGETS ropescope-cli RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
if(ROPESCOPE_GUI)
  install(TARGETS ropescope RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR})
  install(FILES resources/desktop/ropescope.desktop DESTINATION ${CMAKE_INSTALL_DATADIR}/applications)
  install(FILES resources/desktop/ropescope.svg DESTINATION ${CMAKE_INSTALL_DATADIR}/icons/hicolor/scalable/apps)
endif()

foreach(entry IN LISTS ROPESCOPE_DATA_FOLDERS)
  string(REPLACE "=" ";" pair "${entry}")
  list(GET pair 0 folder)
  list(GET pair 1 source)
  install(DIRECTORY ${source}/ DESTINATION ${ROPESCOPE_DATA_INSTALL_DIR}/${folder})
endforeach()

# Debian's place for the licence: /usr/share/doc/<package>/copyright.
install(FILES LICENSE DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/ropescope RENAME copyright)
install(FILES README.md DESTINATION ${CMAKE_INSTALL_DATAROOTDIR}/doc/ropescope)

# Man pages from --help, made when installing (so they always describe the binaries installed,
# whichever targets were built before).
set(rs_man_dir ${CMAKE_BINARY_DIR}/man)
set(rs_pages ropescope-cli "the headless twin of RopeScope: RoPE geometry, factors, needle PPL, search, training" ON "ropescope (1)")
if(ROPESCOPE_GUI)
  list(APPEND rs_pages ropescope "explore RoPE rescale factors the LongRoPE2 way (Qt GUI)" OFF "ropescope-cli (1)")
endif()
while(rs_pages)
  list(POP_FRONT rs_pages name summary subcommands see_also)
  install(CODE "
    file(MAKE_DIRECTORY \"${rs_man_dir}\")
    execute_process(COMMAND \"${CMAKE_COMMAND}\" \"-DPROGRAM=$<TARGET_FILE:${name}>\" \"-DNAME=${name}\"
                            \"-DSUMMARY=${summary}\" \"-DVERSION=${PROJECT_VERSION}\" \"-DSUBCOMMANDS=${subcommands}\"
                            \"-DSEE_ALSO=${see_also}\" \"-DOUTPUT=${rs_man_dir}/${name}.1\"
                            -P \"${PROJECT_SOURCE_DIR}/cmake/ManPage.cmake\"
                    RESULT_VARIABLE code)
    if(NOT code EQUAL 0)
      message(FATAL_ERROR \"could not make the man page of ${name}\")
    endif()
    file(INSTALL DESTINATION \"\${CMAKE_INSTALL_PREFIX}/${CMAKE_INSTALL_MANDIR}/man1\" TYPE FILE
         FILES \"${rs_man_dir}/${name}.1.gz\")")
endwhile()

set(CPACK_GENERATOR DEB)
set(CPACK_PACKAGE_NAME ropescope)
set(CPACK_PACKAGE_VENDOR RopeScope)
set(CPACK_PACKAGE_CONTACT "RopeScope maintainers <ropescope@users.noreply.github.com>")
set(CPACK_PACKAGE_DESCRIPTION_SUMMARY "explore RoPE rescale factors the LongRoPE2 way (GUI and CLI)")
set(CPACK_PACKAGE_DESCRIPTION
    "RopeScope shows which rotary dimensions of a RoPE model go out of distribution at a target
context length, what PI, NTK, YaRN, Llama 3.1 and LongRoPE2 do to them, lets you edit the
rescale factors and score them live with needle-driven perplexity on a real model, runs the
LongRoPE2 evolutionary search, and exports the factors as a Hugging Face config.json.
ropescope is the Qt GUI, ropescope-cli its headless twin.")
set(CPACK_PACKAGING_INSTALL_PREFIX /usr)
set(CPACK_STRIP_FILES ON)  # RelWithDebInfo: the debug info stays in the build tree
set(CPACK_DEBIAN_FILE_NAME DEB-DEFAULT)  # ropescope_<version>-1_<arch>.deb
set(CPACK_DEBIAN_PACKAGE_RELEASE 1)
set(CPACK_DEBIAN_PACKAGE_SECTION science)
set(CPACK_DEBIAN_PACKAGE_SHLIBDEPS ON)
# LibTorch runs its BLAS through Debian's alternatives; the threaded OpenBLAS is the fast one.
set(CPACK_DEBIAN_PACKAGE_RECOMMENDS "libopenblas0-pthread")
# mpirun for one search over many ranks; Xvfb for the GUI's --screenshot without a display.
set(CPACK_DEBIAN_PACKAGE_SUGGESTS "openmpi-bin, xvfb")
include(CPack)
