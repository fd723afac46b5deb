# SPDX-License-Identifier: MIT
# install(): headers, static + shared library, an exported CMake package
# (find_package(vsok) gives vsok::vsok and vsok::vsok_shared) and vsok.pc.
# Components, one per Debian package (packaging/CMakeLists.txt): lib (the
# shared library: libvsok0), dev (headers, static library, namelink, CMake
# package, vsok.pc: libvsok-dev); the tools install as component tools.
include(CMakePackageConfigHelpers)
install(TARGETS vsok vsok_shared EXPORT vsokTargets
  ARCHIVE DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT dev
  LIBRARY DESTINATION ${CMAKE_INSTALL_LIBDIR} COMPONENT lib NAMELINK_COMPONENT dev
  RUNTIME DESTINATION ${CMAKE_INSTALL_BINDIR} COMPONENT lib)
install(DIRECTORY ${PROJECT_SOURCE_DIR}/include/vsok DESTINATION ${CMAKE_INSTALL_INCLUDEDIR}
  COMPONENT dev)
install(EXPORT vsokTargets NAMESPACE vsok:: DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/vsok
  COMPONENT dev)
configure_package_config_file(${PROJECT_SOURCE_DIR}/cmake/vsokConfig.cmake.in
  ${PROJECT_BINARY_DIR}/vsokConfig.cmake INSTALL_DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/vsok)
write_basic_package_version_file(${PROJECT_BINARY_DIR}/vsokConfigVersion.cmake
  COMPATIBILITY SameMajorVersion)
install(FILES ${PROJECT_BINARY_DIR}/vsokConfig.cmake ${PROJECT_BINARY_DIR}/vsokConfigVersion.cmake
  DESTINATION ${CMAKE_INSTALL_LIBDIR}/cmake/vsok COMPONENT dev)
# vsok.pc finds its prefix relative to itself, so `cmake --install --prefix
# DIR` (or a copied tree) gets a working pkg-config file, not the prefix
# chosen at configure time.
file(RELATIVE_PATH VSOK_PC_RELPREFIX "${CMAKE_INSTALL_FULL_LIBDIR}/pkgconfig" "${CMAKE_INSTALL_PREFIX}")
string(REGEX REPLACE "/$" "" VSOK_PC_RELPREFIX "${VSOK_PC_RELPREFIX}")
configure_file(${PROJECT_SOURCE_DIR}/cmake/vsok.pc.in ${PROJECT_BINARY_DIR}/vsok.pc @ONLY)
install(FILES ${PROJECT_BINARY_DIR}/vsok.pc DESTINATION ${CMAKE_INSTALL_LIBDIR}/pkgconfig
  COMPONENT dev)
