# idevice-emu core tests: Debian's stock libimobiledevice tools and a small libimobiledevice
# client (t/core-check.c) against the emulator on a private socket. Included from
# CMakeLists.txt when BENCHD_TESTS is on. The stock tools come from libimobiledevice-utils
# (scripts/packages/core.test.txt).
#
# A test that cannot run here (a stock tool missing) is still registered, as a test that exits 77
# with the reason, so ctest lists it as skipped: it never vanishes with a configure warning.
function(emu_skipped_test name why)
  add_test(NAME ${name} COMMAND sh -c "echo 'SKIP: ${why}'; exit 77")
  set_tests_properties(${name} PROPERTIES SKIP_RETURN_CODE 77 LABELS emulator)
endfunction()

if(TARGET idevice-emu)
  find_program(IDEVICEINFO ideviceinfo)
  find_program(IDEVICE_ID idevice_id)
  find_program(IDEVICEPAIR idevicepair)
  find_program(IDEVICEDIAGNOSTICS_CORE idevicediagnostics)
  # The client is ours, on libimobiledevice-dev (always there): the service tests need it too.
  add_executable(emu-core-check ${CMAKE_CURRENT_SOURCE_DIR}/t/core-check.c)
  target_link_libraries(emu-core-check PRIVATE PkgConfig::IMOBILEDEVICE PkgConfig::USBMUXD
    PkgConfig::PLIST Threads::Threads)
  foreach(t tools pair locked control many garbage behaviour profile bundled)
    if(NOT IDEVICEINFO OR NOT IDEVICE_ID OR NOT IDEVICEPAIR OR NOT IDEVICEDIAGNOSTICS_CORE)
      emu_skipped_test(emu-core-${t} "the stock tools (ideviceinfo, idevice_id, idevicepair, idevicediagnostics) are not installed: libimobiledevice-utils, scripts/deps --test, then cmake again")
    else()
      add_test(NAME emu-core-${t} COMMAND bash ${CMAKE_CURRENT_SOURCE_DIR}/t/core-${t}.sh)
      set_tests_properties(emu-core-${t} PROPERTIES TIMEOUT 180 LABELS emulator
        ENVIRONMENT "EMU=$<TARGET_FILE:idevice-emu>;EMU_CHECK=$<TARGET_FILE:emu-core-check>")
    endif()
  endforeach()
endif()
