#include "core/log.hpp"

#include <spdlog/sinks/stdout_sinks.h>
#include <spdlog/spdlog.h>

namespace scoregate {

void setup_logging(const std::string& level, bool access_log) {
  auto main = spdlog::stderr_logger_mt("scoregate");
  main->set_pattern("%Y-%m-%dT%H:%M:%S.%e%z %^%l%$ %v");
  main->set_level(spdlog::level::from_str(level));
  main->flush_on(spdlog::level::info);
  spdlog::set_default_logger(main);
  if (access_log && !spdlog::get("access")) {
    auto access = spdlog::stdout_logger_mt("access");
    access->set_pattern("%v");
    access->flush_on(spdlog::level::err);
    spdlog::flush_every(
        std::chrono::seconds(1));  // a write per request would cost more than the request
  }
}

}  // namespace scoregate
