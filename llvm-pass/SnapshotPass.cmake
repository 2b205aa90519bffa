# SnapshotPass.cmake — turn on Snapshot store tracking for a CMake target, in one line:
#
#   find_package(Snapshot REQUIRED)                          # an installed Snapshot, or
#   include(/path/to/snapshot/llvm-pass/SnapshotPass.cmake)  # a source tree
#   snapshot_instrument(myapp)
#
# compiles the target's C and C++ sources with the clang plugin (-fpass-plugin=libsnapshot-pass.so)
# and links it with libsnapshot. The compilers must be clang 19 (the plugin is built against LLVM 19).
#
#   snapshot_instrument(<target> [NO_LINK] [OPTIONS <pass knob>...])
#     NO_LINK   do not link libsnapshot (e.g. a static library whose users link it)
#     OPTIONS   knobs of the pass, e.g. OPTIONS -snapshot-stats -snapshot-skip-stack=false
#
# Where things come from, first match wins:
#   the plugin:     the snapshot-pass target if llvm-pass/ is part of this build; the cache variable
#                   SNAPSHOT_PASS_PLUGIN (path to libsnapshot-pass.so); the plugin of the installed
#                   package (SnapshotConfig.cmake names it in the global property
#                   SNAPSHOT_PASS_PLUGIN_FILE before including this file).
#   libsnapshot:    the snapshot target if native/ is part of this build; Snapshot::snapshot of the
#                   installed package; else, from a source tree, the cache variable SNAPSHOT_LIBRARY
#                   (path to libsnapshot.so or libsnapshot_static.a, default ../build/native) with
#                   headers from SNAPSHOT_INCLUDE_DIR.
include_guard(GLOBAL)

set(SNAPSHOT_PASS_PLUGIN "" CACHE FILEPATH "libsnapshot-pass.so, if not built in this project")

# An imported target for a libsnapshot built elsewhere, when this file is used from a source tree.
if(NOT TARGET snapshot AND NOT TARGET Snapshot::snapshot)
  set(SNAPSHOT_LIBRARY "" CACHE FILEPATH "libsnapshot.so or .a, if not built in this project")
  set(SNAPSHOT_INCLUDE_DIR "${CMAKE_CURRENT_LIST_DIR}/../native/include" CACHE PATH
      "Directory holding snapshot.h, if libsnapshot is not built in this project")
  if(NOT SNAPSHOT_LIBRARY)
    find_library(_snapshot_found snapshot
                 HINTS ${CMAKE_CURRENT_LIST_DIR}/../build/native ENV SNAPSHOT_LIBRARY_DIR)
    if(_snapshot_found)
      set(SNAPSHOT_LIBRARY ${_snapshot_found} CACHE FILEPATH "" FORCE)
    endif()
  endif()
  if(SNAPSHOT_LIBRARY AND EXISTS ${SNAPSHOT_LIBRARY})
    find_package(Threads REQUIRED)
    add_library(Snapshot::snapshot UNKNOWN IMPORTED GLOBAL)
    set_target_properties(Snapshot::snapshot PROPERTIES
      IMPORTED_LOCATION ${SNAPSHOT_LIBRARY}
      INTERFACE_INCLUDE_DIRECTORIES ${SNAPSHOT_INCLUDE_DIR}
      INTERFACE_LINK_LIBRARIES Threads::Threads)
    if(SNAPSHOT_LIBRARY MATCHES "\\.a$")
      set_property(TARGET Snapshot::snapshot APPEND PROPERTY INTERFACE_LINK_LIBRARIES pmem)
    endif()
  endif()
endif()
if(TARGET snapshot OR TARGET Snapshot::snapshot)
  set(_snapshot_pass_have_runtime ON)
else()
  set(_snapshot_pass_have_runtime OFF)
endif()

function(snapshot_instrument target)
  cmake_parse_arguments(ARG "NO_LINK" "" "OPTIONS" ${ARGN})
  foreach(lang C CXX)
    if(CMAKE_${lang}_COMPILER_LOADED AND NOT (CMAKE_${lang}_COMPILER_ID STREQUAL "Clang" AND
        CMAKE_${lang}_COMPILER_VERSION VERSION_GREATER_EQUAL 19 AND
        CMAKE_${lang}_COMPILER_VERSION VERSION_LESS 20))
      message(FATAL_ERROR "snapshot_instrument(${target}): the ${lang} compiler is "
        "${CMAKE_${lang}_COMPILER_ID} ${CMAKE_${lang}_COMPILER_VERSION}; the Snapshot plugin needs "
        "clang 19 (configure with -DCMAKE_C_COMPILER=clang-19 -DCMAKE_CXX_COMPILER=clang++-19)")
    endif()
  endforeach()

  get_property(installed_plugin GLOBAL PROPERTY SNAPSHOT_PASS_PLUGIN_FILE)
  if(TARGET snapshot-pass)
    set(plugin ${installed_plugin}) # set by llvm-pass/CMakeLists.txt: the target's output
    add_dependencies(${target} snapshot-pass)
  elseif(SNAPSHOT_PASS_PLUGIN)
    set(plugin ${SNAPSHOT_PASS_PLUGIN})
  elseif(installed_plugin AND EXISTS ${installed_plugin})
    set(plugin ${installed_plugin})
  else()
    message(FATAL_ERROR "snapshot_instrument(${target}): no libsnapshot-pass.so (looked for "
      "'${installed_plugin}'); install Snapshot with its plugin (built from llvm-pass/, needs "
      "LLVM 19) or set SNAPSHOT_PASS_PLUGIN to the path of libsnapshot-pass.so")
  endif()

  set(flags "-fpass-plugin=${plugin}")
  if(ARG_OPTIONS)
    # Knobs are the plugin's cl::opts: -fplugin loads it before clang parses -mllvm.
    list(APPEND flags "-fplugin=${plugin}")
    foreach(opt ${ARG_OPTIONS})
      list(APPEND flags "SHELL:-mllvm ${opt}")
    endforeach()
  endif()
  foreach(flag ${flags})
    target_compile_options(${target} PRIVATE "$<$<COMPILE_LANGUAGE:C,CXX>:${flag}>")
  endforeach()

  # Recompile the target's sources when the plugin changes. (OBJECT_DEPENDS is a property of the
  # source file: another target of the same directory compiling the same file without the plugin
  # gets the dependency too, and with Makefiles needs add_dependencies(<it> snapshot-pass).)
  get_target_property(srcs ${target} SOURCES)
  get_target_property(srcdir ${target} SOURCE_DIR)
  foreach(src ${srcs})
    if(NOT src MATCHES "^\\$<" AND NOT IS_ABSOLUTE ${src})
      set(src ${srcdir}/${src})
    endif()
    set_property(SOURCE ${src} TARGET_DIRECTORY ${target} APPEND PROPERTY OBJECT_DEPENDS ${plugin})
  endforeach()

  if(NOT ARG_NO_LINK)
    if(TARGET snapshot)
      target_link_libraries(${target} PRIVATE snapshot)
    elseif(TARGET Snapshot::snapshot)
      target_link_libraries(${target} PRIVATE Snapshot::snapshot)
    else()
      message(FATAL_ERROR "snapshot_instrument(${target}): libsnapshot not found; build it "
        "(scripts/build) or set SNAPSHOT_LIBRARY to libsnapshot.so")
    endif()
  endif()
endfunction()
