# reports (issue 6): the JWS verifier and the renderers behind it. Seeds: corpus/jws/.
benchd_fuzz_target(fuzz_jws ${CMAKE_CURRENT_SOURCE_DIR}/fuzz_jws.c benchd_reports benchd_common)
