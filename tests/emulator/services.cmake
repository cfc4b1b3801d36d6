# idevice-emu service tests: the stock libimobiledevice 1.3.0 tools (independent clients) against
# the emulator's diagnostics_relay, syslog_relay, crashreportmover and AFC, using the bundled
# profiles (tests/profiles). Each case starts its own emulator on a mktemp socket.
if(TARGET idevice-emu)
  find_program(IDEVICEDIAGNOSTICS idevicediagnostics)
  find_program(IDEVICESYSLOG idevicesyslog)
  find_program(IDEVICECRASHREPORT idevicecrashreport)
  if(NOT IDEVICEDIAGNOSTICS OR NOT IDEVICESYSLOG OR NOT IDEVICECRASHREPORT)
    message(WARNING "libimobiledevice-utils not installed: idevice-emu service tests skipped")
  else()
    set(_svc_t ${CMAKE_CURRENT_SOURCE_DIR}/t)
    set(_svc_profiles ${PROJECT_SOURCE_DIR}/tests/profiles)
    foreach(_case ioreg gasgauge gestalt locked disconnect)
      add_test(NAME emu.svc.diag.${_case}
        COMMAND sh ${_svc_t}/svc-diag.sh $<TARGET_FILE:idevice-emu> ${_svc_profiles} ${_case})
    endforeach()
    foreach(_case stream disconnect)
      add_test(NAME emu.svc.syslog.${_case}
        COMMAND sh ${_svc_t}/svc-syslog.sh $<TARGET_FILE:idevice-emu> ${_svc_profiles} ${_case})
    endforeach()
    foreach(_case keep move empty disconnect)
      add_test(NAME emu.svc.crash.${_case}
        COMMAND sh ${_svc_t}/svc-crash.sh $<TARGET_FILE:idevice-emu> ${_svc_profiles} ${_case})
    endforeach()
    set_tests_properties(
      emu.svc.diag.ioreg emu.svc.diag.gasgauge emu.svc.diag.gestalt emu.svc.diag.locked
      emu.svc.diag.disconnect emu.svc.syslog.stream emu.svc.syslog.disconnect
      emu.svc.crash.keep emu.svc.crash.move emu.svc.crash.empty emu.svc.crash.disconnect
      PROPERTIES TIMEOUT 90 LABELS emulator)
  endif()
endif()
