# idevice-emu core tests: Debian's stock libimobiledevice tools and a small libimobiledevice
# client (t/core-check.c) against the emulator on a private socket. Included from
# CMakeLists.txt when BENCHD_TESTS is on. The stock tools come from libimobiledevice-utils
# (scripts/packages/core.test.txt).
if(TARGET idevice-emu)
  find_program(IDEVICEINFO ideviceinfo)
  find_program(IDEVICE_ID idevice_id)
  find_program(IDEVICEPAIR idevicepair)
  find_program(IDEVICEDIAGNOSTICS_CORE idevicediagnostics)
  if(NOT IDEVICEINFO OR NOT IDEVICE_ID OR NOT IDEVICEPAIR OR NOT IDEVICEDIAGNOSTICS_CORE)
    message(WARNING "libimobiledevice-utils missing: idevice-emu core tests skipped")
  else()
    add_executable(emu-core-check ${CMAKE_CURRENT_SOURCE_DIR}/t/core-check.c)
    target_link_libraries(emu-core-check PRIVATE PkgConfig::IMOBILEDEVICE PkgConfig::USBMUXD
      PkgConfig::PLIST Threads::Threads)
    foreach(t tools pair locked control many garbage behaviour profile bundled)
      add_test(NAME emu-core-${t} COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/t/core-${t}.sh)
      set_tests_properties(emu-core-${t} PROPERTIES TIMEOUT 180 LABELS emulator
        ENVIRONMENT "EMU=$<TARGET_FILE:idevice-emu>;EMU_CHECK=$<TARGET_FILE:emu-core-check>")
    endforeach()
  endif()
endif()
