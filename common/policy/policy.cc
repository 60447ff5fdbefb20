#include "common/policy/policy.h"
