// native/standin/shim/cuda_bf16.h — stands in for CUDA's <cuda_bf16.h> when build.sh compiles
// kernels/*.cu as host C++: device.h (included first, through bf16.h) has what it provides.
#pragma once
