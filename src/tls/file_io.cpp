#include "tls/file_io.hpp"

#include <algorithm>

#include <openssl/crypto.h>

#include <fcntl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cerrno>
#include <stdexcept>
#include <system_error>

namespace scoregate::tls {

namespace {

std::string os_reason(int err) { return std::error_code(err, std::generic_category()).message(); }

struct Fd {
  int fd = -1;
  ~Fd() {
    if (fd >= 0) ::close(fd);
  }
};

}  // namespace

FileRead read_small_file(const std::string& path, std::size_t max_bytes) {
  FileRead out;
  Fd f{::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_NONBLOCK | O_NOCTTY)};
  if (f.fd < 0) {
    out.missing = errno == ENOENT;
    out.reason = os_reason(errno);
    return out;
  }
  struct stat st {};
  if (::fstat(f.fd, &st) != 0) {
    out.reason = os_reason(errno);
    return out;
  }
  if (S_ISDIR(st.st_mode)) {
    out.reason = os_reason(EISDIR);
    return out;
  }
  if (!S_ISREG(st.st_mode)) {
    out.reason = "not a regular file";
    return out;
  }
  // These files hold private keys: no copies left behind in freed memory (one allocation
  // sized from fstat, the stack buffer and a refused read wiped).
  std::string bytes;
  bytes.reserve(std::min<std::size_t>(static_cast<std::size_t>(st.st_size), max_bytes) + 1);
  char buf[4096];
  struct Wipe {
    char* buf;
    std::string& bytes;
    bool keep = false;
    ~Wipe() {
      OPENSSL_cleanse(buf, sizeof(char) * 4096);
      if (!keep) OPENSSL_cleanse(bytes.data(), bytes.size());
    }
  } wipe{buf, bytes};
  for (;;) {
    ssize_t n = ::read(f.fd, buf, sizeof buf);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) {
      out.reason = os_reason(errno);
      return out;
    }
    if (n == 0) break;
    if (bytes.size() + static_cast<std::size_t>(n) > max_bytes) {
      out.reason = "larger than " + std::to_string(max_bytes / 1024) + " KiB";
      return out;
    }
    bytes.append(buf, static_cast<std::size_t>(n));
  }
  wipe.keep = true;
  out.bytes = std::move(bytes);
  return out;
}

void write_file_atomic(const std::string& path, std::string_view bytes, mode_t mode) {
  std::string tmp = path + ".tmp.XXXXXX";
  int fd = ::mkstemp(tmp.data());
  if (fd < 0)
    throw std::runtime_error("cannot create a file next to " + path + ": " + os_reason(errno));
  auto fail = [&](const char* step) {
    int err = errno;
    ::close(fd);
    ::unlink(tmp.c_str());
    throw std::runtime_error(std::string("cannot ") + step + " " + path + ": " + os_reason(err));
  };
  if (::fchmod(fd, mode) != 0) fail("set the mode of");
  for (std::size_t done = 0; done < bytes.size();) {
    ssize_t n = ::write(fd, bytes.data() + done, bytes.size() - done);
    if (n < 0 && errno == EINTR) continue;
    if (n < 0) fail("write");
    done += static_cast<std::size_t>(n);
  }
  if (::fsync(fd) != 0) fail("flush");
  if (::close(fd) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    throw std::runtime_error("cannot write " + path + ": " + os_reason(err));
  }
  if (::rename(tmp.c_str(), path.c_str()) != 0) {
    int err = errno;
    ::unlink(tmp.c_str());
    throw std::runtime_error("cannot replace " + path + ": " + os_reason(err));
  }
}

std::string parent_directory(const std::string& path) {
  auto slash = path.find_last_of('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

}  // namespace scoregate::tls
