# Writes INPUT's bytes as a C array named NAME into OUTPUT (cmake -P script),
# so that the runtime's bitcode travels inside the seqc binary.
file(READ "${INPUT}" hex HEX)
string(LENGTH "${hex}" length)
string(REGEX REPLACE "([0-9a-f][0-9a-f])" "0x\\1," bytes "${hex}")
math(EXPR size "${length} / 2")
file(WRITE "${OUTPUT}" "static const unsigned char ${NAME}[] = {${bytes}};\nstatic const unsigned long ${NAME}Size = ${size};\n")
