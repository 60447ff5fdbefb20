#include "common/policy/internal/plan.h"

namespace asb::policy::internal {

EnumBits::EnumBits(const google::protobuf::EnumDescriptor* type) {
  declared_ = type->value_count();
  for (int i = 0; i < type->value_count() && i < kMaxEnumBits; ++i) {
    const int value = type->value(i)->number();
    const EnumMask bit = EnumMask{1} << i;
    if (value >= 0 && value < kSmall) {
      small_[value] = bit;
    } else {
      large_.emplace_back(value, bit);
    }
  }
}

const EnumBits& NsirBits() {
  static const EnumBits* bits = new EnumBits(asb::v1::NsirCategory_descriptor());
  return *bits;
}
const EnumBits& EventBits() {
  static const EnumBits* bits = new EnumBits(asb::v1::EventType_descriptor());
  return *bits;
}
const EnumBits& OrderBits() {
  static const EnumBits* bits = new EnumBits(asb::v1::OrderType_descriptor());
  return *bits;
}
const EnumBits& RoleBits() {
  static const EnumBits* bits = new EnumBits(asb::v1::PersonRole_descriptor());
  return *bits;
}
const EnumBits& TenureBits() {
  static const EnumBits* bits = new EnumBits(asb::v1::Tenure_descriptor());
  return *bits;
}

}  // namespace asb::policy::internal
