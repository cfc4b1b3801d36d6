# Engine fuzz targets: the syslog signature scanner over untrusted log lines (and rule text).
benchd_fuzz_target(fuzz_sigscan ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_sigscan.c benchd_engine benchd_common)
if(BENCHD_FUZZ)
  target_include_directories(fuzz_sigscan PRIVATE ${PROJECT_SOURCE_DIR}/agent/engine)
endif()
