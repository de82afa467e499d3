#include "admin/admin_server.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/steady_timer.hpp>
#include <boost/asio/use_awaitable.hpp>

#include "admin/status_page.hpp"
#include "core/secure.hpp"
#include "http/http1_connection.hpp"
#include "http/serialize.hpp"
#include "http/server_stream.hpp"

namespace scoregate::admin {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

asio::awaitable<http::error_code> respond(http::ServerStream& conn, unsigned status,
                                          std::string_view type, std::string_view body) {
  static const http::ServerStream::Extra kNoStore{{"Cache-Control", "no-store"},
                                                  {"X-Content-Type-Options", "nosniff"}};
  co_return co_await http::send_simple(conn, status, type, body, kNoStore);
}

// GET / from a browser: the status page, with a fresh nonce in its policy for each response
// (README "Status page"). Served only here, on the full admin listener.
asio::awaitable<http::error_code> respond_page(http::ServerStream& conn) {
  auto page = render_status_page(random_key());
  const http::ServerStream::Extra extra{{"Cache-Control", "no-store"},
                                        {"X-Content-Type-Options", "nosniff"},
                                        {"Content-Security-Policy", page.content_security_policy},
                                        {"X-Frame-Options", "DENY"},
                                        {"Referrer-Policy", "no-referrer"},
                                        {"Vary", "Accept"}};
  co_return co_await http::send_simple(conn, 200, "text/html; charset=utf-8", page.html, extra);
}

class Handler final : public http::StreamHandler {
 public:
  Handler(AdminModel& model, AdminServer::Scope scope) : model_(model), scope_(scope) {}

  asio::awaitable<void> handle(http::ServerStream& conn) override {
    const auto& req = conn.request();
    std::vector<std::string_view> pieces;
    do {  // admin requests carry no body worth reading; drain whatever is there
      if (co_await conn.read_body(pieces)) co_return conn.close_after_response();
    } while (!pieces.empty());
    std::string_view path = req.target.substr(0, req.target.find('?'));
    bool get = req.method_text == "GET" || req.method_text == "HEAD";
    if (get && path == "/healthz") {
      co_await respond(conn, 200, "text/plain", "ok\n");
    } else if (get && path == "/readyz") {
      bool ready = model_.ready();
      co_await respond(conn, ready ? 200 : 503, "text/plain", ready ? "ready\n" : "not ready\n");
    } else if (get && path == "/metrics") {
      co_await respond(conn, 200, "text/plain; version=0.0.4", model_.metrics_text());
    } else if (scope_ == AdminServer::Scope::probes) {
      co_await conn.reply_error(404, "NotFound",
                                "this listener (router.probe_listen) serves /healthz /readyz "
                                "/metrics only; /status and /-/reload are on router.admin");
    } else if (get && path == "/" && accepts_html(req.find(boost::beast::http::field::accept))) {
      co_await respond_page(conn);
    } else if (get && (path == "/status" || path == "/")) {
      co_await respond(conn, 200, "application/json", model_.status_json());
    } else if (path == "/-/reload") {
      if (req.method_text != "POST") {
        co_await conn.reply_error(405, "MethodNotAllowed", "use POST /-/reload");
        co_return;
      }
      auto outcome = model_.reload("admin POST /-/reload");
      std::string body = "{\"ok\":";
      body += outcome.ok ? "true" : "false";
      body += ",\"generation\":" + std::to_string(outcome.generation) + ",\"problems\":\"";
      http::append_json_escaped(body, outcome.problems);
      body += "\"}";
      co_await respond(conn, outcome.ok ? 200 : 422, "application/json", body);
    } else {
      co_await conn.reply_error(
          404, "NotFound",
          "admin paths: / (status page) /healthz /readyz /metrics /status POST /-/reload");
    }
  }

 private:
  AdminModel& model_;
  AdminServer::Scope scope_;
};

}  // namespace

struct AdminServer::Impl {
  Impl(AdminModel& model, AdminServer::Scope scope) : handler(model, scope) {}
  Handler handler;
  http::ServerLimits limits{.max_header_bytes = 16384, .max_body_bytes = 65536, .http2 = false};
  bool stopped = false;
};

AdminServer::AdminServer(asio::io_context& io, AdminModel& model, Scope scope)
    : io_(io), acceptor_(io), impl_(std::make_unique<Impl>(model, scope)) {}

AdminServer::~AdminServer() { stop(); }

void AdminServer::listen(const tcp::endpoint& endpoint) {
  acceptor_.open(endpoint.protocol());
  acceptor_.set_option(tcp::acceptor::reuse_address(true));
  acceptor_.bind(endpoint);
  acceptor_.listen();
}

tcp::endpoint AdminServer::local_endpoint() const { return acceptor_.local_endpoint(); }

void AdminServer::start() {
  auto loop = [](tcp::acceptor& acceptor, Impl& impl) -> asio::awaitable<void> {
    for (;;) {
      auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
      if (impl.stopped || ec == asio::error::operation_aborted) co_return;
      if (ec) {
        // EMFILE/ENFILE while a probe waits in the backlog: pause instead of spinning; the
        // probe is served once descriptors free up (README "Workers and limits").
        asio::steady_timer pause(acceptor.get_executor(), std::chrono::milliseconds(100));
        co_await pause.async_wait(asio::as_tuple(asio::use_awaitable));
        continue;
      }
      auto serve = [](tcp::socket s, Impl& impl) -> asio::awaitable<void> {
        http::ClientTransport transport(std::move(s), nullptr);
        http::Http1Connection conn(transport, impl.limits, impl.handler);
        co_await conn.run();
      };
      asio::co_spawn(acceptor.get_executor(), serve(std::move(socket), impl), asio::detached);
    }
  };
  asio::co_spawn(io_, loop(acceptor_, *impl_), asio::detached);
}

void AdminServer::stop() {
  impl_->stopped = true;
  boost::system::error_code ec;
  acceptor_.close(ec);
}

}  // namespace scoregate::admin
