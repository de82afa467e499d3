#include "tls/watcher.hpp"

#include <sys/inotify.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>

#include "tls/file_io.hpp"

namespace scoregate::tls {

namespace asio = boost::asio;

WatchTarget watch_file(const std::string& path, std::string label) {
  const auto slash = path.find_last_of('/');
  return {parent_directory(path),
          {slash == std::string::npos ? path : path.substr(slash + 1)},
          std::move(label)};
}

namespace {
constexpr std::uint32_t kMask = IN_CLOSE_WRITE | IN_MOVED_TO | IN_MOVED_FROM | IN_CREATE |
                                IN_DELETE | IN_ATTRIB | IN_DELETE_SELF | IN_MOVE_SELF;
}

DirectoryWatcher::DirectoryWatcher(asio::io_context& io, std::function<void()> on_change,
                                   std::chrono::milliseconds debounce)
    : stream_(io),
      debounce_timer_(io),
      retry_timer_(io),
      on_change_(std::move(on_change)),
      debounce_(debounce) {
  int fd = ::inotify_init1(IN_NONBLOCK | IN_CLOEXEC);
  if (fd < 0) throw std::system_error(errno, std::generic_category(), "inotify_init1");
  stream_.assign(fd);
  read_events();
}

DirectoryWatcher::~DirectoryWatcher() { stop(); }

void DirectoryWatcher::stop() {
  stopped_ = true;
  boost::system::error_code ec;
  debounce_timer_.cancel();
  retry_timer_.cancel();
  stream_.close(ec);
}

std::vector<std::string> DirectoryWatcher::watch(const std::vector<WatchTarget>& targets) {
  std::vector<std::string> failed;
  for (const auto& [wd, t] : by_wd_) ::inotify_rm_watch(stream_.native_handle(), wd);
  by_wd_.clear();
  missing_.clear();
  targets_ = targets;
  for (const auto& t : targets) {
    std::string why;
    if (add(t, &why)) continue;
    failed.push_back((t.label.empty() ? t.directory : t.label) + ": " + why);
    missing_.push_back(t);
  }
  retry_timer_.cancel();
  if (!missing_.empty()) retry_missing();
  return failed;
}

std::vector<std::string> DirectoryWatcher::missing() const {
  std::vector<std::string> out;
  for (const auto& t : missing_) out.push_back(t.directory);
  return out;
}

bool DirectoryWatcher::add(const WatchTarget& t, std::string* why) {
  int wd = ::inotify_add_watch(stream_.native_handle(), t.directory.c_str(), kMask | IN_ONLYDIR);
  if (wd < 0) {
    if (why) *why = std::strerror(errno);
    return false;
  }
  // Two targets in one directory share its watch. No names means every file counts, and
  // that wins over a list (a Secret manifest directory that also holds the ticket key file).
  auto [it, fresh] = by_wd_.try_emplace(wd, t);
  auto& entry = it->second;
  if (!fresh) {
    if (entry.names.empty() || t.names.empty())
      entry.names.clear();
    else
      entry.names.insert(t.names.begin(), t.names.end());
  }
  return true;
}

// A directory deleted or renamed away (to be replaced by a new one) has no watch until it
// exists again; without this retry a renewal made that way would go unseen until SIGHUP.
void DirectoryWatcher::retry_missing() {
  retry_timer_.expires_after(kRetryEvery);
  retry_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (ec || stopped_) return;
    bool appeared = false;
    std::vector<WatchTarget> still;
    for (const auto& t : missing_) {
      if (add(t, nullptr))
        appeared = true;
      else
        still.push_back(t);
    }
    missing_ = std::move(still);
    if (appeared) changed();
    if (!missing_.empty()) retry_missing();
  });
}

void DirectoryWatcher::read_events() {
  stream_.async_read_some(asio::buffer(buffer_),
                          [this](const boost::system::error_code& ec, std::size_t n) {
                            if (ec || stopped_) return;
                            handle(buffer_, n);
                            read_events();
                          });
}

void DirectoryWatcher::handle(const char* data, std::size_t size) {
  bool relevant = false;
  bool rewatch = false;
  for (std::size_t off = 0; off + sizeof(inotify_event) <= size;) {
    const auto* ev = reinterpret_cast<const inotify_event*>(data + off);
    off += sizeof(inotify_event) + ev->len;
    if (ev->mask & IN_Q_OVERFLOW) {  // events were lost: assume the worst
      relevant = true;
      continue;
    }
    auto it = by_wd_.find(ev->wd);
    if (it == by_wd_.end()) continue;  // e.g. IN_IGNORED of a watch we removed ourselves
    if (ev->mask & (IN_DELETE_SELF | IN_MOVE_SELF)) {
      rewatch = true;  // the directory itself went away or was replaced
      relevant = true;
      continue;
    }
    std::string name = ev->len ? std::string(ev->name) : std::string();
    if (it->second.names.empty() || it->second.names.count(name) || name.rfind("..", 0) == 0)
      relevant = true;
  }
  if (rewatch) watch(std::vector<WatchTarget>(targets_));  // a missing directory is retried
  if (relevant) changed();
}

void DirectoryWatcher::changed() {
  debounce_timer_.expires_after(debounce_);
  debounce_timer_.async_wait([this](const boost::system::error_code& ec) {
    if (!ec && !stopped_) on_change_();
  });
}

}  // namespace scoregate::tls
