# Writes a man page from a program's --help, run as a script at install time (cmake/Install.cmake):
#   cmake -DPROGRAM=<binary> -DNAME=<name> -DSUMMARY=<one line> -DVERSION=<x.y.z> -DOUTPUT=<file.1>
#         [-DSUBCOMMANDS=ON] [-DSEE_ALSO=<name(1)>] -P ManPage.cmake
# The page holds the --help text verbatim (.nf blocks), so it says exactly what the binary says;
# with SUBCOMMANDS=ON (ropescope-cli) it adds a section per command from `<program> <command> --help`,
# the commands read from the usage's "Commands:" list. Then gzip -9n, as Debian wants man pages.
foreach(required PROGRAM NAME SUMMARY VERSION OUTPUT)
  if(NOT DEFINED ${required})
    message(FATAL_ERROR "ManPage.cmake: ${required} is not set")
  endif()
endforeach()

# The GUI builds a QApplication before it parses its options: no display needed for --help.
function(help_of out)
  execute_process(COMMAND ${CMAKE_COMMAND} -E env QT_QPA_PLATFORM=offscreen ${PROGRAM} ${ARGN} --help
                  OUTPUT_VARIABLE text ERROR_VARIABLE errors RESULT_VARIABLE code)
  if(NOT code EQUAL 0 OR text STREQUAL "")
    message(FATAL_ERROR "ManPage.cmake: '${PROGRAM} ${ARGN} --help' failed (${code}): ${errors}")
  endif()
  string(REPLACE "${PROGRAM}" "${NAME}" text "${text}")  # Qt's usage line names argv[0], the build's path
  set(${out} "${text}" PARENT_SCOPE)
endfunction()

# roff: a backslash is \e; a line starting with . or ' would be a request, \& makes it text.
function(roff_block out text)
  string(REPLACE "\\" "\\e" text "${text}")
  string(REGEX REPLACE "(^|\n)([.'])" "\\1\\\\&\\2" text "${text}")
  set(${out} ".nf\n${text}\n.fi\n" PARENT_SCOPE)
endfunction()

string(TOUPPER "${NAME}" title)
help_of(usage)
roff_block(body "${usage}")
set(page ".TH ${title} 1 \"\" \"RopeScope ${VERSION}\" \"User Commands\"\n.SH NAME\n${NAME} \\- ${SUMMARY}\n")
string(APPEND page ".SH DESCRIPTION\n${body}")
if(SUBCOMMANDS)
  string(APPEND page ".SH COMMANDS\n")
  string(REGEX REPLACE ".*Commands:" "" list "${usage}")
  string(REGEX MATCHALL "\n  [a-z-]+ " entries "${list}")  # a name at the start of an indented line
  foreach(entry IN LISTS entries)
    string(STRIP "${entry}" command)
    help_of(help ${command})
    roff_block(block "${help}")
    string(APPEND page ".SS ${command}\n${block}")
  endforeach()
endif()
string(APPEND page ".SH FILES\n.TP\n.I <prefix>/share/ropescope/\nThe fine-tuned models (models/fair-4x), and as plain files the presets, the help page and the\nembedded model that the binaries also carry compiled in.\n")
if(SEE_ALSO)
  string(APPEND page ".SH SEE ALSO\n.BR ${SEE_ALSO}\n")
endif()
file(WRITE "${OUTPUT}" "${page}")
execute_process(COMMAND gzip -9nf "${OUTPUT}" RESULT_VARIABLE code)
if(NOT code EQUAL 0)
  message(FATAL_ERROR "ManPage.cmake: gzip ${OUTPUT} failed")
endif()
