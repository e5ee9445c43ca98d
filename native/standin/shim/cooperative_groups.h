// native/standin/shim/cooperative_groups.h — stands in for CUDA's <cooperative_groups.h> when
// build.sh compiles kernels/*.cu as host C++: device.h (included first) has what it provides.
#pragma once
