#include "http/body_rate.hpp"

#include <algorithm>

namespace scoregate::http {

BodyRate::duration BodyRate::allowance() const {
  if (rate_ == 0) return duration::max();
  using std::chrono::nanoseconds;
  // bytes / rate seconds, in nanoseconds without overflow for any body below ~18 EB.
  const auto per_bytes = nanoseconds(static_cast<std::int64_t>(
      std::min<long double>(static_cast<long double>(bytes_) * 1e9L / rate_, 1e18L)));
  const duration earned = grace_ + std::chrono::duration_cast<duration>(per_bytes);
  return earned > waited_ ? earned - waited_ : duration::zero();
}

}  // namespace scoregate::http
