#include "common/stream/log.h"
