# idevice-emu service tests: the stock libimobiledevice 1.3.0 tools (independent clients) against
# the emulator's diagnostics_relay, syslog_relay, crashreportmover and AFC, using the bundled
# profiles (tests/profiles), plus a libimobiledevice AFC client for the corners the tools never
# reach (t/svc-check.c). Each case starts its own emulator on a mktemp socket.
if(TARGET idevice-emu AND TARGET emu-core-check)
  find_program(IDEVICEDIAGNOSTICS idevicediagnostics)
  find_program(IDEVICESYSLOG idevicesyslog)
  find_program(IDEVICECRASHREPORT idevicecrashreport)
  if(NOT IDEVICEDIAGNOSTICS OR NOT IDEVICESYSLOG OR NOT IDEVICECRASHREPORT OR NOT CMOCKA_FOUND)
    # Registered as skipped (exit 77, the reason), never vanished (core.cmake's emu_skipped_test).
    foreach(_t diag-ioreg diag-gasgauge diag-gestalt diag-locked diag-disconnect diag-latency
        syslog-stream syslog-disconnect syslog-detach crash-keep crash-move crash-empty crash-edge
        crash-disconnect profiles)
      emu_skipped_test(emu-svc-${_t} "the stock tools (idevicediagnostics, idevicesyslog, idevicecrashreport: libimobiledevice-utils) or cmocka are not installed: scripts/deps --test, then cmake again")
    endforeach()
  else()
    add_executable(emu-svc-check ${CMAKE_CURRENT_SOURCE_DIR}/t/svc-check.c)
    target_link_libraries(emu-svc-check PRIVATE PkgConfig::IMOBILEDEVICE PkgConfig::PLIST
      PkgConfig::CMOCKA)
    set(_svc_t ${CMAKE_CURRENT_SOURCE_DIR}/t)
    set(_svc_profiles ${PROJECT_SOURCE_DIR}/tests/profiles)
    set(_svc_tests)
    foreach(_case ioreg gasgauge gestalt locked disconnect latency)
      add_test(NAME emu-svc-diag-${_case}
        COMMAND sh ${_svc_t}/svc-diag.sh $<TARGET_FILE:idevice-emu> ${_svc_profiles} ${_case}
          $<TARGET_FILE:emu-svc-check>)
      list(APPEND _svc_tests emu-svc-diag-${_case})
    endforeach()
    foreach(_case stream disconnect detach)
      add_test(NAME emu-svc-syslog-${_case}
        COMMAND sh ${_svc_t}/svc-syslog.sh $<TARGET_FILE:idevice-emu> ${_svc_profiles} ${_case}
          $<TARGET_FILE:emu-core-check>)
      list(APPEND _svc_tests emu-svc-syslog-${_case})
    endforeach()
    foreach(_case keep move empty edge disconnect)
      add_test(NAME emu-svc-crash-${_case}
        COMMAND sh ${_svc_t}/svc-crash.sh $<TARGET_FILE:idevice-emu> ${_svc_profiles} ${_case}
          $<TARGET_FILE:emu-svc-check>)
      list(APPEND _svc_tests emu-svc-crash-${_case})
    endforeach()
    add_test(NAME emu-svc-profiles
      COMMAND sh ${_svc_t}/svc-profiles.sh $<TARGET_FILE:idevice-emu> ${_svc_profiles})
    list(APPEND _svc_tests emu-svc-profiles)
    set_tests_properties(${_svc_tests} PROPERTIES TIMEOUT 180 LABELS emulator)
  endif()
endif()
