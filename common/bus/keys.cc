#include "common/bus/keys.h"
