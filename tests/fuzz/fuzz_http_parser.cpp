// libFuzzer target for the request and response parsers (the exact code the router runs):
// the input is split into a request half and a response half at the first 0xFF byte and fed
// in pieces whose sizes come from the input, as a socket would deliver them.
#include <boost/beast/http/error.hpp>

#include <cstdint>
#include <string>
#include <string_view>

#include "http/errors.hpp"
#include "http/parser.hpp"
#include "routing/routes.hpp"

namespace {

namespace be = boost::beast::http;
using namespace scoregate;

template <class P>
void feed(P& p, std::string_view input, std::size_t step) {
  std::string buffer;
  std::size_t fed = 0;
  for (int rounds = 0; rounds < 10000; ++rounds) {
    if (fed < input.size()) {
      auto n = std::min(step, input.size() - fed);
      buffer.append(input.substr(fed, n));
      fed += n;
    }
    boost::system::error_code ec;
    std::size_t used = p.put(buffer, ec);
    if (used > buffer.size()) __builtin_trap();
    std::uint64_t piece_bytes = 0;
    for (auto piece : p.body_pieces()) {
      // Pieces are views into the input buffer: they must lie inside it.
      if (piece.data() < buffer.data() ||
          piece.data() + piece.size() > buffer.data() + buffer.size())
        __builtin_trap();
      piece_bytes += piece.size();
    }
    (void)piece_bytes;
    p.body_pieces().clear();
    buffer.erase(0, used);
    if (ec && ec != be::error::need_more) {
      (void)http::status_for_parse_error(ec);
      return;
    }
    if (p.head_done()) {
      // Exercise what the proxy reads from a head.
      auto& h = p.head();
      for (const auto& f : h.fields) {
        if (f.name.data() < h.raw.data() ||
            f.name.data() + f.name.size() > h.raw.data() + h.raw.size())
          __builtin_trap();
      }
      if constexpr (std::is_same_v<P, http::RequestParser>) {
        (void)routing::parse_scoring_path(h.target);
        (void)routing::is_uuid(h.find("x-request-id"));
        (void)routing::sanitize_client_request_id(h.find("x-ms-client-request-id"));
      }
    }
    if (p.done()) return;
    if (ec == be::error::need_more && fed == input.size()) {
      boost::system::error_code eof;
      p.put_eof(eof);
      return;
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  if (size < 1) return 0;
  std::size_t step = 1 + data[0] % 64;
  std::string_view all(reinterpret_cast<const char*>(data + 1), size - 1);
  auto split = all.find('\xff');
  std::string_view req = all.substr(0, split);
  std::string_view resp =
      split == std::string_view::npos ? std::string_view() : all.substr(split + 1);
  {
    http::RequestParser p(4096, 1 << 16);
    feed(p, req, step);
  }
  if (!resp.empty()) {
    http::ResponseParser p(4096, 1 << 16);
    if (data[0] & 0x80) p.expect_no_body();
    feed(p, resp, step);
  }
  return 0;
}
