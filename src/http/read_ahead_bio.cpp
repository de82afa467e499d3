#include "http/read_ahead_bio.hpp"

#include <sys/socket.h>

#include <algorithm>
#include <cerrno>
#include <cstring>
#include <memory>
#include <vector>

namespace scoregate::http {

namespace {

constexpr std::size_t kScratch = 32 * 1024;  // two full TLS records

struct State {
  int fd;
  std::vector<char> pending;  // read from the socket, not yet given to the TLS library
  std::size_t offset = 0;
};

int read_ahead(BIO* bio, char* out, int want) {
  BIO_clear_retry_flags(bio);
  auto* s = static_cast<State*>(BIO_get_data(bio));
  if (want <= 0) return 0;
  const auto size = static_cast<std::size_t>(want);
  if (s->offset < s->pending.size()) {
    std::size_t n = std::min(size, s->pending.size() - s->offset);
    std::memcpy(out, s->pending.data() + s->offset, n);
    s->offset += n;
    if (s->offset == s->pending.size()) {
      std::vector<char>().swap(s->pending);  // nothing kept while idle
      s->offset = 0;
    }
    return static_cast<int>(n);
  }
  thread_local std::unique_ptr<char[]> scratch(new char[kScratch]);
  const bool direct = size >= kScratch;  // a large request needs no copy
  ssize_t got;
  do {
    got = ::recv(s->fd, direct ? out : scratch.get(), direct ? size : kScratch, 0);
  } while (got < 0 && errno == EINTR);
  if (got < 0) {
    if (errno == EAGAIN || errno == EWOULDBLOCK) BIO_set_retry_read(bio);
    return -1;  // errno stays for the caller (SSL_ERROR_SYSCALL)
  }
  if (got == 0 || direct) return static_cast<int>(got);
  const auto n = std::min(size, static_cast<std::size_t>(got));
  std::memcpy(out, scratch.get(), n);
  if (static_cast<std::size_t>(got) > n) s->pending.assign(scratch.get() + n, scratch.get() + got);
  return static_cast<int>(n);
}

long control(BIO* bio, int cmd, long, void*) {
  auto* s = static_cast<State*>(BIO_get_data(bio));
  switch (cmd) {
    case BIO_CTRL_PENDING:
      return s ? static_cast<long>(s->pending.size() - s->offset) : 0;
    case BIO_CTRL_FLUSH:
      return 1;
    default:
      return 0;
  }
}

int destroy(BIO* bio) {
  delete static_cast<State*>(BIO_get_data(bio));
  BIO_set_data(bio, nullptr);
  return 1;
}

const BIO_METHOD* method() {
  static BIO_METHOD* const m = [] {
    BIO_METHOD* made = BIO_meth_new(BIO_TYPE_SOURCE_SINK, "scoregate read-ahead socket");
    if (made) {
      BIO_meth_set_read(made, read_ahead);
      BIO_meth_set_ctrl(made, control);
      BIO_meth_set_destroy(made, destroy);
    }
    return made;
  }();
  return m;
}

}  // namespace

BIO* new_read_ahead_bio(int fd) {
  const BIO_METHOD* m = method();
  BIO* bio = m ? BIO_new(m) : nullptr;
  if (!bio) return nullptr;
  BIO_set_data(bio, new State{fd, {}, 0});
  BIO_set_init(bio, 1);
  return bio;
}

}  // namespace scoregate::http
