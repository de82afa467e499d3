#include "runtime/control.hpp"
#include "runtime/server.hpp"

namespace scoregate::runtime {

void Server::start_control_tasks() {}

}  // namespace scoregate::runtime
