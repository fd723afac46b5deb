#!/bin/bash -eu
# SPDX-License-Identifier: MIT
# ClusterFuzzLite entry point: everything is in fuzz/build.sh, which follows
# the OSS-Fuzz conventions ($CC $CFLAGS $CXX $CXXFLAGS $LIB_FUZZING_ENGINE
# $OUT) and is also what an OSS-Fuzz projects/vsok/build.sh would call.
exec "$SRC/vsok/fuzz/build.sh"
