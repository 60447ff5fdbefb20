#include "common/bus/loop.h"
