#include "http/serialize.hpp"

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/status.hpp>

#include <charconv>

namespace scoregate::http {

namespace be = boost::beast::http;

void HeadWriter::request_line(std::string_view method, std::string_view target) {
  out_ += method;
  out_ += ' ';
  out_ += target;
  out_ += " HTTP/1.1\r\n";
}

void HeadWriter::status_line(unsigned status, std::string_view reason) {
  char num[8];
  auto [end, ec] = std::to_chars(num, num + sizeof num, status);
  (void)ec;
  out_ += "HTTP/1.1 ";
  out_.append(num, end);
  out_ += ' ';
  if (reason.empty()) {
    auto r = be::obsolete_reason(static_cast<be::status>(status));
    out_.append(r.data(), r.size());
  } else {
    out_ += reason;
  }
  out_ += "\r\n";
}

void HeadWriter::field(std::string_view name, std::string_view value) {
  out_ += name;
  out_ += ": ";
  out_ += value;
  out_ += "\r\n";
}

void HeadWriter::content_length(std::uint64_t n) {
  char num[24];
  auto [end, ec] = std::to_chars(num, num + sizeof num, n);
  (void)ec;
  field("Content-Length", std::string_view(num, static_cast<std::size_t>(end - num)));
}

void append_chunk_header(std::string& out, std::size_t size) {
  char num[20];
  auto [end, ec] = std::to_chars(num, num + sizeof num, size, 16);
  (void)ec;
  out.append(num, end);
  out += "\r\n";
}

namespace {
bool connection_lists(const MessageHead& head, std::string_view name) {
  for (const auto& f : head.fields) {
    if (f.id != be::field::connection) continue;
    std::string_view v = f.value;
    while (!v.empty()) {
      auto comma = v.find(',');
      auto tok = v.substr(0, comma);
      while (!tok.empty() && (tok.front() == ' ' || tok.front() == '\t')) tok.remove_prefix(1);
      while (!tok.empty() && (tok.back() == ' ' || tok.back() == '\t')) tok.remove_suffix(1);
      if (boost::beast::iequals(tok, name)) return true;
      if (comma == std::string_view::npos) break;
      v.remove_prefix(comma + 1);
    }
  }
  return false;
}
}  // namespace

bool is_hop_by_hop(const Field& f, const MessageHead& head) {
  switch (f.id) {
    case be::field::connection:
    case be::field::keep_alive:
    case be::field::proxy_connection:
    case be::field::proxy_authenticate:
    case be::field::proxy_authorization:
    case be::field::te:
    case be::field::trailer:
    case be::field::transfer_encoding:
    case be::field::upgrade:
      return true;
    default:
      break;
  }
  return connection_lists(head, f.name);
}

void append_json_escaped(std::string& out, std::string_view s) {
  static constexpr char hex[] = "0123456789abcdef";
  for (unsigned char c : s) {
    switch (c) {
      case '"':
        out += "\\\"";
        break;
      case '\\':
        out += "\\\\";
        break;
      case '\n':
        out += "\\n";
        break;
      case '\r':
        out += "\\r";
        break;
      case '\t':
        out += "\\t";
        break;
      default:
        if (c < 0x20) {
          out += "\\u00";
          out += hex[c >> 4];
          out += hex[c & 15];
        } else {
          out += static_cast<char>(c);
        }
    }
  }
}

std::string json_error_body(std::string_view code, std::string_view message,
                            std::string_view limit) {
  std::string body = "{\"error\":{\"code\":\"";
  append_json_escaped(body, code);
  body += "\",\"message\":\"";
  append_json_escaped(body, message);
  if (!limit.empty()) {
    body += "\",\"limit\":\"";
    append_json_escaped(body, limit);
  }
  body += "\"}}";
  return body;
}

std::string simple_response(
    unsigned status, std::string_view content_type, std::string_view body, bool close,
    const std::vector<std::pair<std::string_view, std::string_view>>& extra) {
  std::string out;
  out.reserve(256 + body.size());
  HeadWriter w(out);
  w.status_line(status);
  w.field("Content-Type", content_type);
  w.content_length(body.size());
  for (const auto& [name, value] : extra) w.field(name, value);
  if (close) w.field("Connection", "close");
  w.end();
  out += body;
  return out;
}

std::string error_response(unsigned status, std::string_view code, std::string_view message,
                           const std::vector<std::pair<std::string_view, std::string_view>>& extra,
                           bool close, std::string_view limit) {
  return simple_response(status, "application/json", json_error_body(code, message, limit), close,
                         extra);
}

}  // namespace scoregate::http
