# libFuzzer targets of the drivers (issue 4): every parser that takes device bytes.
#   fuzz_crash    crash reports: .ips (JSON header + JSON or text body), legacy plist
#   fuzz_iboot    iBoot serial strings (USB iSerialNumber in recovery/DFU)
#   fuzz_plist    lockdown / IORegistry plists -> JSON -> device, storage, battery normalisation
#   fuzz_syslog   syslog_relay stream framing
# Seeds: tests/fuzz/corpus/<target>/. Run: build-fuzz/fuzz/fuzz_crash tests/fuzz/corpus/fuzz_crash
benchd_fuzz_target(fuzz_crash ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_crash.c benchd_idevice)
benchd_fuzz_target(fuzz_iboot ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_iboot.c benchd_usb)
benchd_fuzz_target(fuzz_plist ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_plist.c benchd_idevice benchd_models)
benchd_fuzz_target(fuzz_syslog ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_syslog.c benchd_idevice)
