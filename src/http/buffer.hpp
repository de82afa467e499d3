// The read buffer of a connection. Storage is taken only while bytes are being parsed and
// handed back to a per-thread cache when the buffer runs empty, so an idle keep-alive
// connection holds no buffer at all (nginx does the same with its header buffers).
#pragma once

#include <cstddef>
#include <span>
#include <string_view>

namespace scoregate::http {

class ReadBuffer {
 public:
  static constexpr std::size_t kBlock = 16 * 1024;

  ReadBuffer() = default;
  ~ReadBuffer();
  ReadBuffer(const ReadBuffer&) = delete;
  ReadBuffer& operator=(const ReadBuffer&) = delete;

  std::string_view data() const { return {p_ + begin_, end_ - begin_}; }
  std::size_t size() const { return end_ - begin_; }
  bool empty() const { return begin_ == end_; }
  // At least `min` writable bytes after the data (moves or grows the storage: views into
  // data() are invalid afterwards).
  std::span<char> prepare(std::size_t min = kBlock);
  void commit(std::size_t n) { end_ += n; }
  void consume(std::size_t n);
  // Gives the storage back when no bytes are held.
  void release_if_empty();

 private:
  char* p_ = nullptr;
  std::size_t cap_ = 0, begin_ = 0, end_ = 0;
};

}  // namespace scoregate::http
