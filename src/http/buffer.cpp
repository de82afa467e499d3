#include "http/buffer.hpp"

#include <cstring>
#include <vector>

namespace scoregate::http {

namespace {
// Standard-size blocks kept per thread; each worker is one thread, so no locking.
struct BlockCache {
  std::vector<char*> blocks;
  ~BlockCache() {
    for (char* b : blocks) delete[] b;
  }
  char* take() {
    if (blocks.empty()) return new char[ReadBuffer::kBlock];
    char* b = blocks.back();
    blocks.pop_back();
    return b;
  }
  void give(char* b) {
    if (blocks.size() < 256)
      blocks.push_back(b);
    else
      delete[] b;
  }
};
thread_local BlockCache cache;

void free_storage(char* p, std::size_t cap) {
  if (!p) return;
  if (cap == ReadBuffer::kBlock)
    cache.give(p);
  else
    delete[] p;
}
}  // namespace

ReadBuffer::~ReadBuffer() { free_storage(p_, cap_); }

std::span<char> ReadBuffer::prepare(std::size_t min) {
  if (cap_ - end_ >= min) return {p_ + end_, cap_ - end_};
  std::size_t held = size();
  if (begin_ > 0 && cap_ - held >= min) {
    std::memmove(p_, p_ + begin_, held);
  } else {
    std::size_t want = held + min;
    std::size_t cap = want <= kBlock ? kBlock : (want + kBlock - 1) / kBlock * kBlock;
    char* p = cap == kBlock ? cache.take() : new char[cap];
    if (held) std::memcpy(p, p_ + begin_, held);
    free_storage(p_, cap_);
    p_ = p;
    cap_ = cap;
  }
  begin_ = 0;
  end_ = held;
  return {p_ + end_, cap_ - end_};
}

void ReadBuffer::consume(std::size_t n) {
  begin_ += n;
  if (begin_ >= end_) begin_ = end_ = 0;
}

void ReadBuffer::release_if_empty() {
  if (!empty()) return;
  free_storage(p_, cap_);
  p_ = nullptr;
  cap_ = begin_ = end_ = 0;
}

}  // namespace scoregate::http
