#include "http/server_stream.hpp"

namespace scoregate::http {

boost::asio::awaitable<error_code> send_simple(ServerStream& stream, unsigned status,
                                               std::string_view content_type, std::string_view body,
                                               const ServerStream::Extra& extra) {
  ResponseStart start;
  start.status = status;
  start.content_length = body.size();
  start.bodiless = stream.request().method == bhttp::verb::head;
  start.fields.reserve(extra.size() + 1);
  start.fields.push_back({"Content-Type", content_type});
  for (const auto& [name, value] : extra) start.fields.push_back({name, value});
  if (auto ec = co_await stream.start_response(start)) co_return ec;
  co_return co_await stream.write_body(start.bodiless ? std::string_view() : body, true);
}

}  // namespace scoregate::http
