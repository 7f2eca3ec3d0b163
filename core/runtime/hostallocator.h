#pragma once
// Process-wide tuning of the C library's allocator for LibTorch's CPU work.

namespace rs {

// glibc hands every block above its mmap threshold straight back to the kernel when it is freed,
// and trims the heap top after every large free. LibTorch's CPU kernels allocate and free the
// same large activations (attention scores, MLP intermediates) every layer of every step, so each
// one is page-faulted and zeroed afresh: on a 2-core machine half of a training step went to
// system time. This keeps freed blocks up to 32 MiB (glibc's largest threshold) in the heap and
// stops the trimming. Call once at start-up; does nothing on other C libraries.
void tuneHostAllocator();

} // namespace rs
