# cmake -DLINKS_FILE=<part-links.txt> -DSOURCE_DIR=<repo> -P check_architecture.cmake
#
# Fails (and says which rule) when
#  - a part library links one of ours that the table below does not allow, or links LibTorch
#    other than through ropescope_torch (the link list is what CMake resolved for each target);
#  - a LibTorch header is included in a public header of core (anything but *_p.h), anywhere in
#    core/common, core/rope, core/search, core/worker, widgets/ or app/;
#  - a source in core/ includes a header by a relative path that climbs out of its folder ("../"),
#    which would get round the include roots that make forbidden includes fail to build.
# The table is DESIGN.md §2 / docs/contributing.md "Layout"; change them together.

set(allowed_ropescope_common "")
set(allowed_ropescope_rope ropescope_common ropescope_presets_data)
# simdjson: the exact JSON reader for tokenizer.json (runtime) and JSONL corpora (eval).
set(allowed_ropescope_runtime ropescope_rope ropescope_common ropescope_torch ropescope_embedded_model_data
    simdjson::simdjson)
set(allowed_ropescope_eval ropescope_runtime ropescope_eval_results ropescope_rope ropescope_common ropescope_torch
    simdjson::simdjson)
set(allowed_ropescope_eval_results ropescope_common)
set(allowed_ropescope_search ropescope_rope ropescope_common)
set(allowed_ropescope_train ropescope_eval ropescope_runtime ropescope_rope ropescope_common ropescope_torch)
set(allowed_ropescope_worker_api ropescope_search ropescope_eval_results ropescope_rope ropescope_common)
set(allowed_ropescope_worker ropescope_worker_api ropescope_job ropescope_eval ropescope_runtime ropescope_search
    ropescope_rope ropescope_common)
# The search job: settings in, a ready run out, for the CLI, the GUI's worker and the MPI ranks; the
# thread (worker) and MPI (distributed) are its callers, never its dependencies.
set(allowed_ropescope_job ropescope_worker_api ropescope_search ropescope_eval ropescope_eval_results ropescope_runtime
    ropescope_rope ropescope_common)
# MPI: the launcher's library; the scoring is injected (the CLI binds the CandidateScorer to it).
set(allowed_ropescope_distributed ropescope_search ropescope_rope ropescope_common MPI::MPI_CXX)
set(allowed_ropescope_widgets ropescope_rope ropescope_worker_api ropescope_common ropescope_help_data)

set(problems "")

file(STRINGS "${LINKS_FILE}" lines)
foreach(line IN LISTS lines)
  string(REGEX MATCH "^([^=]+)=(.*)$" _ "${line}")
  set(target "${CMAKE_MATCH_1}")
  set(links "${CMAKE_MATCH_2}")
  foreach(link IN LISTS links)
    string(REGEX REPLACE "^\\$<LINK_ONLY:(.*)>$" "\\1" link "${link}")
    if(link STREQUAL "" OR link MATCHES "^Qt6::")
      continue()
    endif()
    if(target STREQUAL "ropescope_widgets" AND link MATCHES "^QCustomPlot")
      continue()
    endif()
    # A CUDA LibTorch adds its allocator library to runtime for peak-memory statistics, and the
    # CUDA runtime for the GPU's total memory.
    if(target STREQUAL "ropescope_runtime" AND link MATCHES "c10_cuda|^CUDA::cudart$")
      continue()
    endif()
    list(FIND allowed_${target} "${link}" found)
    if(found EQUAL -1)
      string(APPEND problems "  ${target} links ${link}, which the architecture does not allow (allowed: ${allowed_${target}})\n")
    endif()
  endforeach()
endforeach()

set(torch_include_regex "#[ \t]*include[ \t]*[<\"](torch|ATen|c10|caffe2)/")
file(GLOB_RECURSE core_headers RELATIVE "${SOURCE_DIR}" "${SOURCE_DIR}/core/*.h")
file(GLOB_RECURSE torch_free RELATIVE "${SOURCE_DIR}"
     "${SOURCE_DIR}/core/common/*" "${SOURCE_DIR}/core/rope/*" "${SOURCE_DIR}/core/search/*" "${SOURCE_DIR}/core/distributed/*"
     "${SOURCE_DIR}/core/worker/*" "${SOURCE_DIR}/core/job/*" "${SOURCE_DIR}/widgets/*" "${SOURCE_DIR}/app/*")
set(checked "")
foreach(file IN LISTS core_headers)
  if(NOT file MATCHES "_p\\.h$")
    list(APPEND checked "${file}")
  endif()
endforeach()
foreach(file IN LISTS torch_free)
  if(file MATCHES "\\.(h|cpp)$")
    list(APPEND checked "${file}")
  endif()
endforeach()
list(REMOVE_DUPLICATES checked)
foreach(file IN LISTS checked)
  file(STRINGS "${SOURCE_DIR}/${file}" hits REGEX "${torch_include_regex}")
  foreach(hit IN LISTS hits)
    string(STRIP "${hit}" hit)
    string(APPEND problems "  ${file}: ${hit} (LibTorch headers only in core .cpp files of runtime, eval, train and in *_p.h)\n")
  endforeach()
endforeach()

file(GLOB_RECURSE core_sources RELATIVE "${SOURCE_DIR}" "${SOURCE_DIR}/core/*.h" "${SOURCE_DIR}/core/*.cpp")
foreach(file IN LISTS core_sources)
  file(STRINGS "${SOURCE_DIR}/${file}" hits REGEX "#[ \t]*include[ \t]*\"\\.\\./")
  foreach(hit IN LISTS hits)
    string(STRIP "${hit}" hit)
    string(APPEND problems "  ${file}: ${hit} (include other parts as \"<part>/<header>.h\" so the include roots apply)\n")
  endforeach()
endforeach()

list(LENGTH checked checked_count)
if(problems)
  message(FATAL_ERROR "Architecture rules broken:\n${problems}")
endif()
message(STATUS "architecture: ${checked_count} files free of LibTorch headers; every part links only what it may")
