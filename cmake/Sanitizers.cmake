# Sanitizer builds: the milter is threaded and parses untrusted input, so CI runs the suite
# under ASan+UBSan; TSan is available for the threaded paths.
if(RAMPART_SANITIZE_ADDRESS AND RAMPART_SANITIZE_THREAD)
  message(FATAL_ERROR "ASan and TSan cannot be combined")
endif()
if(RAMPART_SANITIZE_ADDRESS)
  add_compile_options(-fsanitize=address,undefined -fno-omit-frame-pointer -fno-sanitize-recover=undefined)
  add_link_options(-fsanitize=address,undefined)
endif()
if(RAMPART_SANITIZE_THREAD)
  add_compile_options(-fsanitize=thread -fno-omit-frame-pointer)
  add_link_options(-fsanitize=thread)
endif()
