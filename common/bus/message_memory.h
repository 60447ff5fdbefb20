#pragma once

namespace asb::bus {

// Messages of megabytes (a page of audit entries) are allocated, filled and freed for every
// request, on both ends and in libzmq's CURVE layer. glibc serves blocks that large with a
// fresh mmap() each time, whose pages the kernel then zero-fills one fault at a time: a third
// of the CPU of `asbctl audit verify` on a VM. Raising glibc's mmap and trim thresholds to
// 64 MiB (a message's upper bound) lets freed blocks be reused from the heap instead. Once per
// process; Client and Server call it.
void KeepLargeMessagesInHeap();

}  // namespace asb::bus
