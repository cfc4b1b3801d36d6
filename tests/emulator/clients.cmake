# idevice-emu and clients that are not libimobiledevice (issue 13): a Python usbmux/lockdown
# client writing binary plists (plistlib FMT_BINARY, ssl for the session's TLS; python3's standard
# library only), and the relative crash dates and "trust" command seen through the stock tools.
if(TARGET idevice-emu)
  find_package(Python3 COMPONENTS Interpreter)
  if(Python3_FOUND)
    add_test(NAME emu-client-bplist
      COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/t/client-bplist.py
        $<TARGET_FILE:idevice-emu> ${PROJECT_SOURCE_DIR}/tests/profiles)
    set_tests_properties(emu-client-bplist PROPERTIES TIMEOUT 120 LABELS emulator)
    # Clock/CrashDatesAsOf and the control socket's "trust", through the stock tools (77: missing)
    foreach(_case clock trust)
      add_test(NAME emu-client-${_case}
        COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_SOURCE_DIR}/t/clock-trust.py
          $<TARGET_FILE:idevice-emu> ${PROJECT_SOURCE_DIR}/tests/profiles ${_case})
      set_tests_properties(emu-client-${_case} PROPERTIES TIMEOUT 120 LABELS emulator SKIP_RETURN_CODE 77)
    endforeach()
  else()
    message(WARNING "python3 not found: emu-client-bplist is not registered")
  endif()
endif()
