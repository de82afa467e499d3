// What the reload watch (tls/watcher.hpp) looks at: a directory, the file names in it that
// matter, and how messages name it. Kept apart from the watcher so that the certificate source
// (tls/certificate.hpp, Material::watch) can say what to watch without pulling in Asio.
#pragma once

#include <set>
#include <string>

namespace scoregate::tls {

struct WatchTarget {
  std::string directory;
  std::set<std::string> names;  // file names that matter in it ("" = all); "..*" always matter
  std::string label = {};       // how messages name it ("" = the directory itself); a directory
                                // derived from a protected setting must not be printed
};

// The directory of `path` (tls::parent_directory), watching `path`'s file name only. The
// directory, not the file: a file replaced by rename or the kubelet's `..data` swap keeps no
// watch of its own.
WatchTarget watch_file(const std::string& path, std::string label = {});

inline bool operator==(const WatchTarget& a, const WatchTarget& b) {
  return a.directory == b.directory && a.names == b.names && a.label == b.label;
}

}  // namespace scoregate::tls
