// DNS discovery for `dns:NAME:PORT` targets: every A/AAAA record is a target, re-resolved
// periodically (a Kubernetes headless Service lists its ready pods this way). Targets that
// stay keep their identity (in-flight count, pooled connections, readiness); removed ones
// finish their requests and get no new ones. A failed lookup keeps the last known set.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <memory>
#include <set>
#include <string>
#include <vector>

#include "upstream/gate.hpp"
#include "upstream/targets.hpp"

namespace scoregate::upstream {

// The new target list: static targets, then one target per discovered endpoint, reusing the
// Target objects of `current` whose address is unchanged.
std::vector<TargetPtr> merge_discovered(const std::vector<TargetPtr>& current,
                                        const std::vector<boost::asio::ip::tcp::endpoint>& found);

class Discovery {
 public:
  using Changed = std::function<void(const std::string& key)>;
  Discovery(boost::asio::io_context& io, std::chrono::milliseconds interval, Changed on_change)
      : io_(io), interval_(interval), on_change_(std::move(on_change)) {}
  ~Discovery() { stop_all(); }
  // (Re)starts resolving the dns: specs of one deployment (none = nothing to do).
  void set(const std::string& key, const std::shared_ptr<Gate>& gate,
           std::vector<TargetSpec> specs);
  void forget_all_but(const std::set<std::string>& keys);
  void stop_all();

 private:
  boost::asio::io_context& io_;
  std::chrono::milliseconds interval_;
  Changed on_change_;
  std::map<std::string, std::shared_ptr<bool>> runs_;
};

}  // namespace scoregate::upstream
