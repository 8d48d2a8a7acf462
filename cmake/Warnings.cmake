# Compiler warnings for all Rampart targets (interface library to link against).
add_library(rampart_warnings INTERFACE)
target_compile_options(rampart_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast -Wcast-align
  -Wunused -Woverloaded-virtual -Wconversion -Wsign-conversion -Wnull-dereference
  -Wdouble-promotion -Wformat=2 -Wimplicit-fallthrough)
if(RAMPART_WERROR)
  target_compile_options(rampart_warnings INTERFACE -Werror)
endif()
