// The built-in sample model: a real HTTP/1.1 model server on loopback for dev mode
// (`make run`) and for trying the router without a cluster. A fixed linear regression over
// 10 features, in the AzureML scoring shape:
//   POST /score  {"data": [[10 numbers], ...]}  ->  {"result": [y, ...]}
//   GET  /       liveness ("Healthy")      GET /swagger.json  an OpenAPI description
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/ip/tcp.hpp>

#include <optional>
#include <string>
#include <string_view>
#include <thread>

namespace scoregate::samplemodel {

// Sans-IO scoring: the response body for a request body, or an error message.
struct ScoreResult {
  bool ok = false;
  std::string body;  // JSON
};
ScoreResult score(std::string_view request_body);
std::string swagger_json();

class SampleModelServer {
 public:
  SampleModelServer();
  ~SampleModelServer();
  // Binds (throws std::system_error) and serves on a thread of its own.
  void start(const boost::asio::ip::tcp::endpoint& endpoint);
  boost::asio::ip::tcp::endpoint local_endpoint() const;
  void stop();

 private:
  boost::asio::io_context io_;
  boost::asio::ip::tcp::acceptor acceptor_;
  std::thread thread_;
};

}  // namespace scoregate::samplemodel
