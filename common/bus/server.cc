#include "common/bus/server.h"
