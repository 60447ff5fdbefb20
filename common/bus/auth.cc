#include "common/bus/auth.h"
