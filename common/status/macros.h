#pragma once

#include "absl/status/status.h"
#include "absl/status/statusor.h"

// Returns from the enclosing function if `expr` (an absl::Status) is not OK.
#define ASB_RETURN_IF_ERROR(expr)                  \
  do {                                             \
    ::absl::Status asb_status_macro_ = (expr);     \
    if (!asb_status_macro_.ok()) {                 \
      return asb_status_macro_;                    \
    }                                              \
  } while (false)

#define ASB_STATUS_CONCAT_INNER_(a, b) a##b
#define ASB_STATUS_CONCAT_(a, b) ASB_STATUS_CONCAT_INNER_(a, b)

#define ASB_ASSIGN_OR_RETURN_IMPL_(tmp, lhs, expr) \
  auto tmp = (expr);                               \
  if (!tmp.ok()) {                                 \
    return std::move(tmp).status();                \
  }                                                \
  lhs = std::move(*tmp)

// Evaluates `expr` (an absl::StatusOr<T>); on error returns its status, else assigns the value
// to `lhs`, which may be a declaration: ASB_ASSIGN_OR_RETURN(auto x, F());
#define ASB_ASSIGN_OR_RETURN(lhs, expr) \
  ASB_ASSIGN_OR_RETURN_IMPL_(ASB_STATUS_CONCAT_(asb_statusor_, __LINE__), lhs, expr)
