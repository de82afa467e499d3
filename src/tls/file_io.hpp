// Reading small input files (certificates, keys, Secret manifests) with the OS reason on
// failure, and writing generated files atomically. Internal to tls/.
#pragma once

#include <sys/types.h>

#include <cstddef>
#include <optional>
#include <string>
#include <string_view>

namespace scoregate::tls {

struct FileRead {
  std::optional<std::string> bytes;
  bool missing = false;  // ENOENT (also a dangling symlink)
  std::string reason;    // "No such file or directory", "Is a directory", ...
};

// Refuses anything but a regular file (a FIFO or device would block or never end) and files
// over max_bytes (no certificate chain or Secret is that large).
FileRead read_small_file(const std::string& path, std::size_t max_bytes = 1u << 20);

// Writes to a temporary file in the same directory with `mode`, fsyncs, then renames over
// `path`, so readers (and the reload watcher) never see half a file. Throws std::runtime_error.
void write_file_atomic(const std::string& path, std::string_view bytes, mode_t mode);

// The directory part of `path` as given ("." for a bare file name); symlinks are not resolved.
std::string parent_directory(const std::string& path);

}  // namespace scoregate::tls
