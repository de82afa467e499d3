// The admin listener (loopback by default, its own port): /healthz, /readyz, /metrics
// (Prometheus text), /status (JSON), POST /-/reload. It runs on the control thread and
// asks the runtime through AdminModel, so admin/ does not depend on runtime/.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <memory>
#include <string>
#include <string_view>

namespace scoregate::admin {

struct ReloadOutcome {
  bool ok = false;
  std::uint64_t generation = 0;
  std::string problems;  // one problem per line (never a protected value)
};

class AdminModel {
 public:
  virtual ~AdminModel() = default;
  virtual bool ready() const = 0;
  virtual std::string status_json() const = 0;
  virtual std::string metrics_text() const = 0;
  virtual ReloadOutcome reload(std::string_view reason) = 0;
};

class AdminServer {
 public:
  // full: every path above. probes: /healthz, /readyz and /metrics only, for a listener that
  // must be reachable from outside the host (router.probe_listen): nothing that reveals the
  // configuration or changes it.
  enum class Scope { full, probes };
  AdminServer(boost::asio::io_context& io, AdminModel& model, Scope scope = Scope::full);
  ~AdminServer();
  void listen(const boost::asio::ip::tcp::endpoint& endpoint);  // throws std::system_error
  boost::asio::ip::tcp::endpoint local_endpoint() const;
  void start();
  void stop();

 private:
  boost::asio::io_context& io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace scoregate::admin
