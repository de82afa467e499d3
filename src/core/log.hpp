// Logging: human-readable lines on stderr for operators, and the JSON access log (one
// object per line) on stdout, each its own spdlog logger.
#pragma once

#include <string>

namespace scoregate {

// level: "debug", "info", "warn", "error"; access_log: create the "access" logger.
void setup_logging(const std::string& level, bool access_log);

}  // namespace scoregate
