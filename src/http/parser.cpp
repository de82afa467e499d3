#include "http/parser.hpp"

#include <boost/beast/core/string.hpp>
#include <boost/beast/http/error.hpp>

#include "http/errors.hpp"

namespace scoregate::http {

namespace be = boost::beast::http;
using bsv = boost::beast::string_view;
using boost::beast::iequals;

namespace {

std::string_view trim(std::string_view v) {
  while (!v.empty() && (v.front() == ' ' || v.front() == '\t')) v.remove_prefix(1);
  while (!v.empty() && (v.back() == ' ' || v.back() == '\t')) v.remove_suffix(1);
  return v;
}

// A path segment that is "." or ".." once %2e / %2E are decoded.
bool is_dot_segment(std::string_view seg) {
  std::size_t dots = 0;
  for (std::size_t i = 0; i < seg.size();) {
    if (seg[i] == '.') {
      ++dots;
      ++i;
    } else if (seg.size() - i >= 3 && seg[i] == '%' && seg[i + 1] == '2' &&
               (seg[i + 2] == 'e' || seg[i + 2] == 'E')) {
      ++dots;
      i += 3;
    } else {
      return false;
    }
  }
  return dots == 1 || dots == 2;
}

}  // namespace

bool is_safe_origin_target(std::string_view target) {
  if (target.empty() || target.front() != '/') return false;
  // One pass finds where the path ends and whether it holds anything to look at twice; most
  // paths do not. (find_first_of("?#") called memchr on the set once per character: ~600
  // instructions per request, README "Benchmarks", per-change table.)
  std::size_t path_end = 0;
  bool suspicious = false;
  for (; path_end < target.size(); ++path_end) {
    const char c = target[path_end];
    if (c == '?' || c == '#') break;
    suspicious |= (c == '.') | (c == '%') | (c == '\\');
  }
  if (!suspicious) return true;
  std::string_view path = target.substr(0, path_end);
  std::size_t start = 1;
  while (start <= path.size()) {
    auto end = path.find('/', start);
    if (end == std::string_view::npos) end = path.size();
    // "%2f" would smuggle a separator past routing; a backslash is a separator to some servers
    auto seg = path.substr(start, end - start);
    if (is_dot_segment(seg)) return false;
    start = end + 1;
  }
  for (std::size_t i = 0; i + 2 < path.size(); ++i)
    if (path[i] == '%' && path[i + 1] == '2' && (path[i + 2] == 'f' || path[i + 2] == 'F'))
      return false;
  return path.find('\\') == std::string_view::npos;
}

// The heap storage of finished parsers (head bytes, field list, body pieces), kept per thread
// and handed to the next parser: a keep-alive request and its response then allocate none of
// it (README "Benchmarks", per-change table). Bounded in count and in size, so one huge head
// does not stay allocated. Off in sanitizer builds (SCOREGATE_NO_RECYCLING), where reused
// memory would hide a use after free from ASan.
#if !defined(SCOREGATE_NO_RECYCLING)
namespace {
struct ParserStorage {
  std::string raw;
  std::vector<Field> fields;
  std::vector<std::string_view> pieces;
};
struct StorageCache {
  static constexpr std::size_t kKeep = 64;
  static constexpr std::size_t kMaxRaw = 4096, kMaxFields = 64, kMaxPieces = 64;
  std::vector<ParserStorage> free;
};
thread_local StorageCache storage_cache;
}  // namespace
#endif

template <bool R>
Parser<R>::Parser(std::uint32_t header_limit, std::uint64_t body_limit)
    : header_limit_(header_limit) {
  base::header_limit(header_limit);
  base::body_limit(body_limit);
#if !defined(SCOREGATE_NO_RECYCLING)
  if (!storage_cache.free.empty()) {
    auto& s = storage_cache.free.back();
    head_.raw = std::move(s.raw);
    head_.fields = std::move(s.fields);
    pieces_ = std::move(s.pieces);
    storage_cache.free.pop_back();
  }
#endif
  if (head_.fields.capacity() < 24)
    head_.fields.reserve(24);  // one allocation for a typical head instead of five
}

template <bool R>
Parser<R>::~Parser() {
#if !defined(SCOREGATE_NO_RECYCLING)
  auto& cache = storage_cache;
  if (cache.free.size() >= StorageCache::kKeep || head_.raw.capacity() > StorageCache::kMaxRaw ||
      head_.fields.capacity() > StorageCache::kMaxFields ||
      pieces_.capacity() > StorageCache::kMaxPieces)
    return;
  if (cache.free.capacity() == 0) cache.free.reserve(StorageCache::kKeep);
  head_.raw.clear();
  head_.fields.clear();
  pieces_.clear();
  cache.free.push_back({std::move(head_.raw), std::move(head_.fields), std::move(pieces_)});
#endif
}

// The end of a head: the blank line, found from `from` on ("\n\n" too, so that Beast, not a
// timeout, rejects bare line feeds). Returns the head's length, or 0.
std::size_t find_end_of_head(std::string_view data, std::size_t from) {
  for (std::size_t i = data.find('\n', from); i != std::string_view::npos;
       i = data.find('\n', i + 1)) {
    if (i + 1 < data.size() && data[i + 1] == '\n') return i + 2;
    if (i + 2 < data.size() && data[i + 1] == '\r' && data[i + 2] == '\n') return i + 3;
  }
  return 0;
}

template <bool R>
std::size_t Parser<R>::put(std::string_view data, error_code& ec) {
  const bool in_head = !base::is_header_done();
  if (in_head) {
    // Beast would consume the start line and each complete field as they arrive, giving
    // views into bytes the caller then drops, and checking header_limit per call only. So
    // the head goes to Beast whole, in one call, once its blank line is here.
    std::size_t end = find_end_of_head(data, scanned_ > 2 ? scanned_ - 2 : 0);
    if (end == 0) {
      scanned_ = data.size();
      ec = data.size() > header_limit_ ? error_code(protocol_error::head_too_large)
                                       : error_code(boost::beast::http::error::need_more);
      return 0;
    }
    if (end > header_limit_) {
      ec = protocol_error::head_too_large;
      return 0;
    }
    data = data.substr(0, end);
  }
  input_ = data;
  // Head first, then (eager) as much body as the bytes hold.
  base::eager(base::is_header_done());
  std::size_t used = base::put(boost::asio::const_buffer(data.data(), data.size()), ec);
  if (in_head && ec == boost::beast::http::error::need_more)
    ec = protocol_error::bad_head;  // a whole head that Beast still finds unfinished
  if (ec == be::error::header_limit) ec = protocol_error::head_too_large;
  if (ec == be::error::body_limit) ec = protocol_error::body_too_large;
  return used;
}

template <bool R>
void Parser<R>::put_eof(error_code& ec) {
  if (!base::got_some()) {  // Beast asserts on this; a peer closing before a byte is just that
    ec = boost::beast::http::error::partial_message;
    return;
  }
  base::put_eof(ec);
}

template <bool R>
bool Parser<R>::in_input(std::string_view v) const {
  return v.data() >= input_.data() && v.data() + v.size() <= input_.data() + input_.size();
}

template <bool R>
void Parser<R>::on_request_impl(be::verb method, bsv method_str, bsv target, int version,
                                error_code& ec) {
  if constexpr (R) {
    if (version != 10 && version != 11) {
      ec = protocol_error::unsupported_version;
      return;
    }
    head_.method = method;
    head_.method_text = method_str;
    head_.target = target;
    head_.version = version;
  }
}

template <bool R>
void Parser<R>::on_response_impl(int code, bsv reason, int version, error_code& ec) {
  if constexpr (!R) {
    if (version != 10 && version != 11) {
      ec = protocol_error::unsupported_version;
      return;
    }
    head_.status = static_cast<unsigned>(code);
    head_.reason = reason;
    head_.version = version;
  }
}

template <bool R>
void Parser<R>::on_field_impl(be::field name, bsv name_str, bsv value, error_code& ec) {
  if (base::is_header_done()) return;             // chunked trailers: not forwarded
  if (!in_input(value) || !in_input(name_str)) {  // Beast unfolded it into its own buffer
    ec = protocol_error::obs_fold;
    return;
  }
  if (name == be::field::transfer_encoding && !iequals(trim(value), "chunked")) {
    ec = protocol_error::transfer_encoding_unsupported;
    return;
  }
  if (name == be::field::host && ++hosts_ > 1) {
    ec = protocol_error::duplicate_host;
    return;
  }
  head_.fields.push_back({name, name_str, value});
}

template <bool R>
void Parser<R>::on_header_impl(error_code& ec) {
  if constexpr (R) {
    check_request_head(ec);
    if (ec) return;
  }
  relocate_views();
  head_.keep_alive = base::keep_alive();
  decide_framing();
}

// Rules only a request has (the template is also instantiated for responses).
template <bool R>
void Parser<R>::check_request_head(error_code& ec) {
  if constexpr (R) {
    if (head_.version == 11 && hosts_ == 0) {
      ec = protocol_error::missing_host;
      return;
    }
    if (!is_safe_origin_target(head_.target)) {
      ec = protocol_error::bad_target;
      return;
    }
    if (base::chunked() && head_.version == 10) {
      ec = protocol_error::chunked_in_http10;
      return;
    }
    auto expect = head_.find(be::field::expect);
    head_.expect_continue = head_.version == 11 && iequals(trim(expect), "100-continue");
  } else {
    (void)ec;
  }
}

// Moves every view from the input bytes into the head's own copy of them.
template <bool R>
void Parser<R>::relocate_views() {
  const char* base_ptr = input_.data();
  std::size_t end = 0;
  auto grow = [&](std::string_view v) {
    if (!v.empty())
      end = std::max<std::size_t>(end, static_cast<std::size_t>(v.data() + v.size() - base_ptr));
  };
  for (const auto& f : head_.fields) {
    grow(f.name);
    grow(f.value);
  }
  if constexpr (R) {
    grow(head_.method_text);
    grow(head_.target);
  } else {
    grow(head_.reason);
  }
  head_.raw.assign(base_ptr, end);
  auto move = [&](std::string_view& v) {
    if (!v.empty()) v = std::string_view(head_.raw.data() + (v.data() - base_ptr), v.size());
  };
  for (auto& f : head_.fields) {
    move(f.name);
    move(f.value);
  }
  if constexpr (R) {
    move(head_.method_text);
    move(head_.target);
  } else {
    move(head_.reason);
  }
}

// Framing is known now (Beast reports it to on_body_init only on the next put()), and the
// proxy needs it before it reads any body byte.
template <bool R>
void Parser<R>::decide_framing() {
  if (base::chunked()) {
    head_.framing = BodyFraming::chunked;
  } else if (auto length = base::content_length()) {
    head_.framing = *length ? BodyFraming::content_length : BodyFraming::none;
    head_.content_length = *length;
  } else if constexpr (R) {
    head_.framing = BodyFraming::none;
  } else {
    unsigned s = head_.status;
    bool bodiless = base::skip() || s < 200 || s == 204 || s == 304;
    head_.framing = bodiless ? BodyFraming::none : BodyFraming::until_close;
  }
}

template <bool R>
void Parser<R>::on_body_init_impl(const boost::optional<std::uint64_t>&, error_code&) {}

template <bool R>
std::size_t Parser<R>::on_body_impl(bsv body, error_code&) {
  if (!body.empty()) pieces_.push_back(body);
  body_bytes_ += body.size();
  return body.size();
}

template <bool R>
void Parser<R>::on_chunk_header_impl(std::uint64_t, bsv, error_code&) {}

template <bool R>
std::size_t Parser<R>::on_chunk_body_impl(std::uint64_t, bsv body, error_code&) {
  if (!body.empty()) pieces_.push_back(body);
  body_bytes_ += body.size();
  return body.size();
}

template <bool R>
void Parser<R>::on_finish_impl(error_code&) {}

template class Parser<true>;
template class Parser<false>;

}  // namespace scoregate::http
