#include "common/bus/message_memory.h"

#include <malloc.h>

#include <mutex>

namespace asb::bus {

void KeepLargeMessagesInHeap() {
  static std::once_flag once;
  std::call_once(once, [] {
    constexpr int kThreshold = 64 << 20;
    ::mallopt(M_MMAP_THRESHOLD, kThreshold);
    ::mallopt(M_TRIM_THRESHOLD, 2 * kThreshold);
  });
}

}  // namespace asb::bus
