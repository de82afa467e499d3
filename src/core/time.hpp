// Time formatting shared by logs, status pages and CLI output.
#pragma once

#include <ctime>
#include <string>

namespace scoregate {

// "2026-11-28T17:44:56Z"
std::string iso8601_utc(std::time_t t);

}  // namespace scoregate
