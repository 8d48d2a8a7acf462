# Compiler warnings for all Rampart targets (interface library to link against).
# Not -Wnull-dereference: with g++ 12 at -O2 it reports false positives inside libstdc++ and Boost
# (basic_string::size() via program_options), which -Werror would turn into build failures.
add_library(rampart_warnings INTERFACE)
target_compile_options(rampart_warnings INTERFACE
  -Wall -Wextra -Wpedantic -Wshadow -Wnon-virtual-dtor -Wold-style-cast -Wcast-align
  -Wunused -Woverloaded-virtual -Wconversion -Wsign-conversion
  -Wdouble-promotion -Wformat=2 -Wimplicit-fallthrough)
if(RAMPART_WERROR)
  target_compile_options(rampart_warnings INTERFACE -Werror)
endif()
