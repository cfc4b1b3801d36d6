# idevice-emu core tests: Debian's stock libimobiledevice tools and a small libimobiledevice
# client (t/core-check.c) against the emulator on a private socket. Included from
# CMakeLists.txt when BENCHD_TESTS is on.
add_executable(emu-core-check ${CMAKE_CURRENT_SOURCE_DIR}/t/core-check.c)
target_link_libraries(emu-core-check PRIVATE PkgConfig::IMOBILEDEVICE PkgConfig::USBMUXD PkgConfig::PLIST
  Threads::Threads)

foreach(t tools pair locked control many garbage behaviour profile)
  add_test(NAME emu-core-${t} COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/t/core-${t}.sh)
  set_tests_properties(emu-core-${t} PROPERTIES TIMEOUT 180
    ENVIRONMENT "EMU=$<TARGET_FILE:idevice-emu>;EMU_CHECK=$<TARGET_FILE:emu-core-check>")
endforeach()
