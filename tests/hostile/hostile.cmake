# Hostile-device tests (issue 8): included from tests/bench/CMakeLists.txt. One ctest per case so
# ctest -j2 spreads them; each starts its own idevice-emu (and benchd) in a mkdtemp directory.
# Timeouts are generous (a loaded 2-core machine, sanitizer build): the script's own limits
# (45 s per benchctl run, 75 s at 400 ms latency, 90 s per benchd wait) are what catch a hang.
find_package(Python3 COMPONENTS Interpreter)
if(Python3_FOUND AND TARGET benchd AND TARGET idevice-emu AND TARGET benchctl)
  foreach(case disconnect-handshake disconnect-diagnostics disconnect-syslog disconnect-afc
               latency-400 junk-crashes oversized-crash huge-ioreg many-crashes benchd-mixed)
    add_test(NAME hostile.${case}
      COMMAND ${Python3_EXECUTABLE} ${CMAKE_CURRENT_LIST_DIR}/hostile.py
        --bin $<TARGET_FILE_DIR:benchctl> ${case})
    set_tests_properties(hostile.${case} PROPERTIES TIMEOUT 240 LABELS hostile)
  endforeach()
endif()
