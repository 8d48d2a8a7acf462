# Every external library, found once. Why each one is there: README.md, "Dependencies".
find_package(Threads REQUIRED)
find_package(OpenSSL 3 REQUIRED)
find_package(PkgConfig REQUIRED)
find_package(Boost 1.74 REQUIRED COMPONENTS program_options)
find_package(date REQUIRED)          # libhowardhinnant-date-dev: date::tz (g++ 12 has no chrono zones)
pkg_check_modules(PSL REQUIRED IMPORTED_TARGET libpsl)
pkg_check_modules(IDN2 REQUIRED IMPORTED_TARGET libidn2)
pkg_check_modules(CARES REQUIRED IMPORTED_TARGET libcares)
pkg_check_modules(SQLITE3 REQUIRED IMPORTED_TARGET sqlite3)
pkg_check_modules(HIREDIS REQUIRED IMPORTED_TARGET hiredis)
pkg_check_modules(OPENDKIM IMPORTED_TARGET opendkim)   # tests only: the independent verifier

# libmilter is linked statically so that the linker can wrap its sigwait() (see milter/adapter.cpp):
# Debian's libmilter stops the milter on SIGHUP, and we want SIGHUP to mean "reload".
find_library(MILTER_STATIC NAMES libmilter.a REQUIRED)
find_library(SM_STATIC NAMES libsm.a REQUIRED)
find_path(MILTER_INCLUDE_DIR libmilter/mfapi.h REQUIRED)
add_library(rampart_libmilter INTERFACE)
target_include_directories(rampart_libmilter INTERFACE ${MILTER_INCLUDE_DIR})
target_link_libraries(rampart_libmilter INTERFACE ${MILTER_STATIC} ${SM_STATIC} Threads::Threads
                      "-Wl,--wrap=sigwait")
