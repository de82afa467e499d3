#include "samplemodel/sample_model.hpp"

#include <boost/asio/as_tuple.hpp>
#include <boost/asio/co_spawn.hpp>
#include <boost/asio/detached.hpp>
#include <boost/asio/use_awaitable.hpp>
#include <nlohmann/json.hpp>

#include <array>

#include "http/http1_connection.hpp"
#include "http/serialize.hpp"

namespace scoregate::samplemodel {

namespace asio = boost::asio;
using asio::ip::tcp;

namespace {

constexpr std::array<double, 10> kWeights = {0.5, -0.25, 1.0,  0.75, -0.5,
                                             0.1, 0.2,   -0.3, 0.05, 1.5};
constexpr double kBias = 0.5;
constexpr std::size_t kMaxBody = 1 << 20;

ScoreResult fail(std::string message) {
  nlohmann::json j = {{"error", std::move(message)}};
  return {false, j.dump()};
}

class Handler final : public http::StreamHandler {
 public:
  asio::awaitable<void> handle(http::ServerStream& conn) override {
    const auto& req = conn.request();
    std::string path(req.target.substr(0, req.target.find('?')));
    std::string body;
    std::vector<std::string_view> pieces;
    for (;;) {
      if (co_await conn.read_body(pieces)) co_return conn.close_after_response();
      if (pieces.empty()) break;
      for (auto p : pieces) body += p;
      if (body.size() > kMaxBody) {
        co_await conn.reply_error(413, "BodyTooLarge", "the sample model takes at most 1 MiB");
        co_return;
      }
    }
    if (path == "/" && req.method_text == "GET") {
      co_await http::send_simple(conn, 200, "text/plain", "Healthy");
    } else if (path == "/swagger.json" && req.method_text == "GET") {
      co_await http::send_simple(conn, 200, "application/json", swagger_json());
    } else if (path == "/score" && req.method_text == "POST") {
      auto r = score(body);
      co_await http::send_simple(conn, r.ok ? 200 : 400, "application/json", r.body);
    } else {
      co_await http::send_simple(conn, 404, "application/json", R"({"error":"not found"})");
    }
  }
};

asio::awaitable<void> serve(tcp::socket socket) {
  static const http::ServerLimits limits{.http2 = false};
  static Handler handler;
  http::ClientTransport transport(std::move(socket), nullptr);
  http::Http1Connection conn(transport, limits, handler);
  co_await conn.run();
}

asio::awaitable<void> accept_loop(tcp::acceptor& acceptor) {
  for (;;) {
    auto [ec, socket] = co_await acceptor.async_accept(asio::as_tuple(asio::use_awaitable));
    if (ec == asio::error::operation_aborted || !acceptor.is_open()) co_return;
    if (!ec) asio::co_spawn(acceptor.get_executor(), serve(std::move(socket)), asio::detached);
  }
}

}  // namespace

ScoreResult score(std::string_view request_body) {
  auto j = nlohmann::json::parse(request_body, nullptr, /*allow_exceptions=*/false);
  if (j.is_discarded()) return fail("body is not JSON; send {\"data\": [[10 numbers], ...]}");
  if (!j.is_object() || !j.contains("data") || !j["data"].is_array())
    return fail("expected {\"data\": [[10 numbers], ...]}");
  nlohmann::json result = nlohmann::json::array();
  std::size_t row_index = 0;
  for (const auto& row : j["data"]) {
    if (!row.is_array() || row.size() != kWeights.size())
      return fail("row " + std::to_string(row_index) + " must be an array of 10 numbers");
    double y = kBias;
    for (std::size_t i = 0; i < kWeights.size(); ++i) {
      if (!row[i].is_number())
        return fail("row " + std::to_string(row_index) + " has a value that is not a number");
      y += kWeights[i] * row[i].get<double>();
    }
    result.push_back(y);
    ++row_index;
  }
  return {true, nlohmann::json{{"result", result}}.dump()};
}

std::string swagger_json() {
  nlohmann::json doc = {
      {"swagger", "2.0"},
      {"info",
       {{"title", "scoregate sample model"},
        {"version", "1.0"},
        {"description", "Linear regression over 10 features (built into scoregate)"}}},
      {"paths",
       {{"/score",
         {{"post",
           {{"consumes", {"application/json"}},
            {"produces", {"application/json"}},
            {"parameters",
             {{{"name", "body"},
               {"in", "body"},
               {"required", true},
               {"schema",
                {{"type", "object"},
                 {"properties",
                  {{"data",
                    {{"type", "array"},
                     {"items",
                      {{"type", "array"},
                       {"items", {{"type", "number"}}},
                       {"minItems", 10},
                       {"maxItems", 10}}}}}}}}}}}},
            {"responses",
             {{"200",
               {{"description", "one prediction per row"},
                {"schema",
                 {{"type", "object"},
                  {"properties",
                   {{"result", {{"type", "array"}, {"items", {{"type", "number"}}}}}}}}}}}}}}}}}}}};
  return doc.dump(2);
}

SampleModelServer::SampleModelServer() : io_(1), acceptor_(io_) {}

SampleModelServer::~SampleModelServer() { stop(); }

void SampleModelServer::start(const tcp::endpoint& endpoint) {
  acceptor_.open(endpoint.protocol());
  acceptor_.set_option(tcp::acceptor::reuse_address(true));
  acceptor_.bind(endpoint);
  acceptor_.listen();
  asio::co_spawn(io_, accept_loop(acceptor_), asio::detached);
  thread_ = std::thread([this] { io_.run(); });
}

tcp::endpoint SampleModelServer::local_endpoint() const { return acceptor_.local_endpoint(); }

void SampleModelServer::stop() {
  if (!thread_.joinable()) return;
  io_.stop();
  thread_.join();
}

}  // namespace scoregate::samplemodel
