#include "common/stream/consumer.h"
