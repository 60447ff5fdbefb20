#include "common/stream/stream_server.h"
