# Imported targets for every Debian library benchd uses (DESIGN.md 3).
# scripts/deps installs the packages; this file only finds them.
pkg_check_modules(IMOBILEDEVICE REQUIRED IMPORTED_TARGET libimobiledevice-1.0)
pkg_check_modules(PLIST REQUIRED IMPORTED_TARGET libplist-2.0)
pkg_check_modules(USBMUXD REQUIRED IMPORTED_TARGET libusbmuxd-2.0)
pkg_check_modules(LIBUSB REQUIRED IMPORTED_TARGET libusb-1.0)
pkg_check_modules(OPENSSL REQUIRED IMPORTED_TARGET openssl>=3.0)
pkg_check_modules(SQLITE REQUIRED IMPORTED_TARGET sqlite3)
pkg_check_modules(LUA REQUIRED IMPORTED_TARGET lua5.4)
pkg_check_modules(JANSSON REQUIRED IMPORTED_TARGET jansson)
pkg_check_modules(CURL REQUIRED IMPORTED_TARGET libcurl)
pkg_check_modules(PCRE2 REQUIRED IMPORTED_TARGET libpcre2-8)
pkg_check_modules(INIH REQUIRED IMPORTED_TARGET inih)
# The bench page and HTTP API (issue 14): libmicrohttpd, one thread per connection.
pkg_check_modules(MICROHTTPD REQUIRED IMPORTED_TARGET libmicrohttpd)
pkg_check_modules(CMOCKA IMPORTED_TARGET cmocka)
pkg_check_modules(UMOCKDEV IMPORTED_TARGET umockdev-1.0)
# benchfleet (issue 17): PostgreSQL's client library (libmicrohttpd is found above).
pkg_check_modules(LIBPQ IMPORTED_TARGET libpq)
