// Noticing clients that leave while their request waits for the model (README "Requests";
// ARCHITECTURE.md "A request, file by file"). One per worker: while any exchange waits, a
// timer polls each waiting client socket for a disconnect every kEvery. A wait per request
// (an async_wait on every client socket) cost ~5k instructions per request under callgrind;
// this costs two vector operations per request and a poll(2) per waiting request per tick.
#pragma once

#include <boost/asio/any_io_executor.hpp>
#include <boost/asio/awaitable.hpp>
#include <boost/asio/steady_timer.hpp>

#include <chrono>
#include <memory>
#include <vector>

namespace scoregate::proxy {

class Exchange;

class ClientSweep {
 public:
  static constexpr std::chrono::milliseconds kEvery{50};
  // From the request's last byte sent to the model until the answer is read whole (or the
  // exchange ends). ex: the worker's executor (every exchange of a worker shares it).
  void add(Exchange* e, const boost::asio::any_io_executor& ex);
  void remove(Exchange* e);

 private:
  // The timer lives in the sweep's coroutine frame, not here: a worker's io_context goes away
  // before its WorkerContext, and a timer must not outlive its io_context's services.
  struct State {
    std::vector<Exchange*> waiting;
    bool running = false;
  };
  static boost::asio::awaitable<void> run(std::shared_ptr<State> s);
  std::shared_ptr<State> state_ = std::make_shared<State>();
};

}  // namespace scoregate::proxy
