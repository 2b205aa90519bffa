# SNAPSHOT_VERSION (e.g. 0.1.0) from the one place the version is written: .mvn/maven.config's
# -Drevision=X.Y.Z[-SNAPSHOT], which Maven reads for the jar's <version>${revision}</version>.
set(_snapshot_version_file ${CMAKE_CURRENT_LIST_DIR}/../.mvn/maven.config)
file(STRINGS ${_snapshot_version_file} _snapshot_revision REGEX "^-Drevision=")
if(NOT _snapshot_revision MATCHES "^-Drevision=([0-9]+\\.[0-9]+\\.[0-9]+)(-[A-Za-z0-9.]+)?$")
  message(FATAL_ERROR "no -Drevision=X.Y.Z[-SUFFIX] line in ${_snapshot_version_file}")
endif()
set(SNAPSHOT_VERSION ${CMAKE_MATCH_1})
set_property(DIRECTORY APPEND PROPERTY CMAKE_CONFIGURE_DEPENDS ${_snapshot_version_file})
