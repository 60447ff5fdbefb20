#include "common/bus/client.h"
