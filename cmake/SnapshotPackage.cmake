# The installed package, for users of an install prefix: find_package(Snapshot) (the imported target
# Snapshot::snapshot and snapshot_instrument() from SnapshotPass.cmake, finding the installed plugin)
# and snapshot.pc for pkg-config. Nothing installed points back into the build or source tree.
include(CMakePackageConfigHelpers)
set(SNAPSHOT_INSTALL_CMAKEDIR ${CMAKE_INSTALL_LIBDIR}/cmake/Snapshot)
set(SNAPSHOT_INSTALL_PLUGINDIR ${CMAKE_INSTALL_LIBDIR}/snapshot) # where llvm-pass/ installs its plugin
set(_pkg ${CMAKE_CURRENT_BINARY_DIR}/package)

install(EXPORT SnapshotTargets NAMESPACE Snapshot:: DESTINATION ${SNAPSHOT_INSTALL_CMAKEDIR})
configure_package_config_file(${CMAKE_CURRENT_LIST_DIR}/SnapshotConfig.cmake.in
  ${_pkg}/SnapshotConfig.cmake INSTALL_DESTINATION ${SNAPSHOT_INSTALL_CMAKEDIR}
  PATH_VARS SNAPSHOT_INSTALL_PLUGINDIR)
# The library's SOVERSION is the major version: the same major is the same ABI.
write_basic_package_version_file(${_pkg}/SnapshotConfigVersion.cmake
  VERSION ${PROJECT_VERSION} COMPATIBILITY SameMajorVersion)
install(FILES ${_pkg}/SnapshotConfig.cmake ${_pkg}/SnapshotConfigVersion.cmake
              ${PROJECT_SOURCE_DIR}/llvm-pass/SnapshotPass.cmake
        DESTINATION ${SNAPSHOT_INSTALL_CMAKEDIR})

# snapshot.pc: its prefix is the one given at install time (cmake --install --prefix P), not at
# configure time, so the template is filled in twice: now, and by the install script.
foreach(dir LIBDIR INCLUDEDIR)
  if(IS_ABSOLUTE ${CMAKE_INSTALL_${dir}})
    set(SNAPSHOT_PC_${dir} ${CMAKE_INSTALL_${dir}})
  else()
    set(SNAPSHOT_PC_${dir} "\${prefix}/${CMAKE_INSTALL_${dir}}")
  endif()
endforeach()
if(TARGET snapshot-pass)
  set(SNAPSHOT_PC_PLUGIN "pluginpath=\${libdir}/snapshot/libsnapshot-pass.so")
else()
  set(SNAPSHOT_PC_PLUGIN "# no plugin: built without llvm-pass/")
endif()
set(SNAPSHOT_PC_PREFIX "@SNAPSHOT_PC_PREFIX@") # left for the install script
configure_file(${CMAKE_CURRENT_LIST_DIR}/snapshot.pc.in ${_pkg}/snapshot.pc.in @ONLY)
install(CODE "set(SNAPSHOT_PC_PREFIX \"\${CMAKE_INSTALL_PREFIX}\")
  configure_file(\"${_pkg}/snapshot.pc.in\" \"${_pkg}/snapshot.pc\" @ONLY)")
install(FILES ${_pkg}/snapshot.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig)
