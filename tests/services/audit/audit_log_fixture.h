#pragma once

// A test fixture holding an AuditLog on a real RocksDB store in a temporary directory. Open()
// (re)opens both, so a test can also check what survives a restart.

#include <gtest/gtest.h>

#include <memory>

#include "absl/time/time.h"
#include "common/store/store.h"
#include "services/audit/audit_log.h"
#include "tests/support/status_matchers.h"
#include "tests/support/temp_dir.h"

namespace asb::audit {

class AuditLogFixture : public ::testing::Test {
 protected:
  // Closes the log and store if open, then opens them again (the log's clock reads now_).
  void Open() {
    log_.reset();
    store_.reset();
    store::StoreOptions options = AuditStoreLayout();
    options.path = dir_.Sub("db");
    options.sync = false;
    auto store = store::Store::Open(options);
    ASB_ASSERT_OK(store);
    store_ = std::move(*store);
    log_ = std::make_unique<AuditLog>(store_.get(), [this] { return now_; });
    ASB_ASSERT_OK(log_->Load());
  }

  ::asb::testing::TempDir dir_;
  // What the log's clock says (stamps records that arrive without a time).
  absl::Time now_ = absl::FromUnixSeconds(1);
  std::unique_ptr<store::Store> store_;
  std::unique_ptr<AuditLog> log_;
};

}  // namespace asb::audit
