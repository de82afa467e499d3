// Watches the directories that hold certificate material (inotify), so renewals are seen
// however they are made: files rewritten in place, renamed over, or the kubelet's atomic
// `..data` symlink swap in a Secret volume (watching the files alone misses that one).
// Events are debounced: a burst of writes produces one callback. A directory that is missing
// (not created yet, or deleted or renamed away to be replaced) is retried every second; when it
// appears, that counts as a change.
#pragma once

#include <boost/asio/io_context.hpp>
#include <boost/asio/posix/stream_descriptor.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <functional>
#include <map>
#include <set>
#include <string>
#include <vector>

#include "tls/watch_target.hpp"

namespace scoregate::tls {

class DirectoryWatcher {
 public:
  DirectoryWatcher(boost::asio::io_context& io, std::function<void()> on_change,
                   std::chrono::milliseconds debounce);
  ~DirectoryWatcher();
  DirectoryWatcher(const DirectoryWatcher&) = delete;
  DirectoryWatcher& operator=(const DirectoryWatcher&) = delete;

  // Replaces the watched set. Returns the directories that could not be watched (with why);
  // they are retried until they can be.
  std::vector<std::string> watch(const std::vector<WatchTarget>& targets);
  // Directories currently not watched (waiting to appear).
  std::vector<std::string> missing() const;
  void stop();

 private:
  void read_events();
  void handle(const char* data, std::size_t size);
  void changed();
  bool add(const WatchTarget& t, std::string* why);
  void retry_missing();

  static constexpr std::chrono::seconds kRetryEvery{1};

  boost::asio::posix::stream_descriptor stream_;
  boost::asio::steady_timer debounce_timer_;
  boost::asio::steady_timer retry_timer_;
  std::function<void()> on_change_;
  std::chrono::milliseconds debounce_;
  std::map<int, WatchTarget> by_wd_;
  std::vector<WatchTarget> targets_;
  std::vector<WatchTarget> missing_;  // targets whose directory could not be watched yet
  char buffer_[8192];
  bool stopped_ = false;
};

}  // namespace scoregate::tls
