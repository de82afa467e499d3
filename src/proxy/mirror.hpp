// mirror_traffic: a copy of a request is sent to another deployment; its answer is read and
// dropped, and nothing about it (slowness, failure) reaches the client. The copy never
// waits for a slot: a busy mirror deployment just misses that copy (counted).
#pragma once

#include <boost/asio/any_io_executor.hpp>

#include <memory>
#include <string>

#include "proxy/proxy.hpp"

namespace scoregate::proxy {

void spawn_mirror(const boost::asio::any_io_executor& executor, WorkerContext& worker,
                  std::shared_ptr<const ProxyPlan> plan, const DeploymentPlan& deployment,
                  std::string request_bytes);

}  // namespace scoregate::proxy
